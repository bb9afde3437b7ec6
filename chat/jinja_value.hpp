#pragma once
// The values a chat template computes with. Arrays, objects and namespaces are shared by reference, as in
// Python, so `set ns.x = ...` inside a loop reaches the namespace made outside it. Objects keep insertion
// order: `tools | tojson` must print a tool's schema in the order the client sent it.
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ternspec/error.hpp"

namespace ternspec::jinja {

// A template that asks for something impossible (a filter on the wrong type, an unknown method); the
// renderer adds the line before it reaches the user as an InputError.
class TemplateError : public InputError {
  public:
    using InputError::InputError;
};

// What one render may build in all: the bytes of every string and list it makes, and of its output, summed
// whether or not they are still alive. The per-string limit alone let a template hold twenty 32 MiB strings
// (1.4 GB) or concatenate 32 MiB per step for a minute; this bounds memory and copying work together. Set
// for the duration of a render on its thread; outside one nothing is counted.
class RenderBudget {
  public:
    static constexpr std::size_t kDefaultBytes = std::size_t{128} << 20;
    explicit RenderBudget(std::size_t bytes = kDefaultBytes);
    ~RenderBudget();
    RenderBudget(const RenderBudget&) = delete;
    RenderBudget& operator=(const RenderBudget&) = delete;
    // Throws TemplateError once the render's total passes its budget.
    static void charge(std::size_t bytes);

  private:
    std::size_t limit_, used_ = 0;
    RenderBudget* outer_;
};

struct Value;
struct Object;
struct CallArgs;
using Array = std::vector<Value>;
using Function = std::function<Value(CallArgs&)>;

struct Value {
    enum class Kind { Undefined, None, Bool, Int, Float, String, Array, Object, Namespace, Function };
    Kind kind = Kind::Undefined;
    bool b = false;
    std::int64_t i = 0;
    double f = 0;
    std::string s;
    std::shared_ptr<Array> array;
    std::shared_ptr<Object> object;  // Object and Namespace
    std::shared_ptr<Function> function;

    static Value none();
    static Value boolean(bool v);
    static Value integer(std::int64_t v);
    static Value number(double v);
    static Value string(std::string v);
    static Value list(Array items = {});
    static Value dict();
    static Value namespace_object();
    static Value callable(Function fn);
    static Value from_json(const nlohmann::ordered_json& j);

    bool is_undefined() const { return kind == Kind::Undefined; }
    bool is_none() const { return kind == Kind::None; }
    bool is_string() const { return kind == Kind::String; }
    bool is_number() const { return kind == Kind::Int || kind == Kind::Float; }
    bool is_mapping() const { return kind == Kind::Object || kind == Kind::Namespace; }
    double as_double() const { return kind == Kind::Int ? static_cast<double>(i) : f; }

    bool truthy() const;
    // What `{{ value }}` prints: strings as they are, numbers as Python would (1, 1.0, 0.5), containers as
    // JSON, none and undefined as nothing.
    std::string str() const;
    const char* type_name() const;
};

struct Object {
    std::vector<std::pair<std::string, Value>> entries;
    const Value* find(const std::string& key) const;
    void set(const std::string& key, Value value);
};

// Positional and keyword arguments of a call, with helpers that name the callee when one is missing.
struct CallArgs {
    std::string callee;
    std::vector<Value> positional;
    std::vector<std::pair<std::string, Value>> keyword;
    // The argument at position `index` or named `name`; `fallback` when neither was given.
    Value get(std::size_t index, const std::string& name, Value fallback = {}) const;
    // Fails, naming the callee, on more positional arguments than `max` or a keyword not in `names`.
    void expect(std::size_t max, std::initializer_list<const char*> names = {}) const;
};

bool equal(const Value& a, const Value& b);
// JSON text as JavaScript's JSON.stringify writes it (what @huggingface/jinja's tojson prints).
// Options are tojson's: indent, ensure_ascii (non-ASCII as \uXXXX, UTF-16), sort_keys, separators.
struct JsonStyle {
    int indent = 0;
    bool ensure_ascii = false;
    bool sort_keys = false;
    std::optional<std::pair<std::string, std::string>> separators;  // item, key
};
std::string to_json(const Value& v, const JsonStyle& style = {});
// The same with undefined members printed as `undefined`: how `{{ a_list }}` prints.
std::string json_for_output(const Value& v);
// A number as Python's str() would print it for an int, and as the reference renderer does for a float.
std::string number_text(double v);

}  // namespace ternspec::jinja
