#include "chat/jinja_value.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "ternspec/error.hpp"

namespace ternspec::jinja {

namespace {
Value of_kind(Value::Kind k) {
    Value v;
    v.kind = k;
    return v;
}
template <class T, class U>
Value with_field(Value::Kind k, T Value::*field, U&& value) {
    Value v = of_kind(k);
    v.*field = std::forward<U>(value);
    return v;
}
}  // namespace

Value Value::none() {
    return of_kind(Kind::None);
}
Value Value::boolean(bool v) {
    return with_field(Kind::Bool, &Value::b, v);
}
Value Value::integer(std::int64_t v) {
    return with_field(Kind::Int, &Value::i, v);
}
Value Value::number(double v) {
    return with_field(Kind::Float, &Value::f, v);
}
namespace {
thread_local RenderBudget* current_budget = nullptr;
}

RenderBudget::RenderBudget(std::size_t bytes) : limit_(bytes), outer_(current_budget) {
    current_budget = this;
}
RenderBudget::~RenderBudget() {
    current_budget = outer_;
}
void RenderBudget::charge(std::size_t bytes) {
    RenderBudget* b = current_budget;
    if (!b) return;
    b->used_ += bytes;
    if (b->used_ > b->limit_)
        throw TemplateError("the template built more than " + std::to_string(b->limit_ >> 20) +
                            " MiB of strings, lists and output in all (its render budget)");
}

Value Value::string(std::string v) {
    RenderBudget::charge(v.size());
    return with_field(Kind::String, &Value::s, std::move(v));
}
Value Value::list(Array items) {
    // Items are copies: a string item holds its own bytes (Value's string is not shared).
    std::size_t bytes = items.size() * sizeof(Value);
    for (const auto& v : items) bytes += v.s.size();
    RenderBudget::charge(bytes);
    Value x = of_kind(Kind::Array);
    x.array = std::make_shared<Array>(std::move(items));
    return x;
}
Value Value::dict() {
    Value x = of_kind(Kind::Object);
    x.object = std::make_shared<Object>();
    return x;
}
Value Value::namespace_object() {
    Value x = of_kind(Kind::Namespace);
    x.object = std::make_shared<Object>();
    return x;
}
Value Value::callable(Function fn) {
    Value x = of_kind(Kind::Function);
    x.function = std::make_shared<Function>(std::move(fn));
    return x;
}

Value Value::from_json(const nlohmann::ordered_json& j) {
    switch (j.type()) {
        case nlohmann::ordered_json::value_t::null:
            return none();
        case nlohmann::ordered_json::value_t::boolean:
            return boolean(j.get<bool>());
        case nlohmann::ordered_json::value_t::number_integer:
            return integer(j.get<std::int64_t>());
        case nlohmann::ordered_json::value_t::number_unsigned: {
            const auto u = j.get<std::uint64_t>();
            if (u > static_cast<std::uint64_t>(INT64_MAX)) return number(static_cast<double>(u));
            return integer(static_cast<std::int64_t>(u));
        }
        case nlohmann::ordered_json::value_t::number_float: {
            // JSON does not tell 1.0 from 1; a client's JSON parser (and the reference renderer) read both
            // as the integer.
            const double d = j.get<double>();
            if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.007199254740992e15)
                return integer(static_cast<std::int64_t>(d));
            return number(d);
        }
        case nlohmann::ordered_json::value_t::string:
            return string(j.get<std::string>());
        case nlohmann::ordered_json::value_t::array: {
            Array items;
            items.reserve(j.size());
            for (const auto& e : j) items.push_back(from_json(e));
            return list(std::move(items));
        }
        case nlohmann::ordered_json::value_t::object: {
            Value d = dict();
            for (const auto& [k, e] : j.items()) d.object->set(k, from_json(e));
            return d;
        }
        default:
            throw TemplateError("a binary value in the template's variables");
    }
}

bool Value::truthy() const {
    switch (kind) {
        case Kind::Undefined:
        case Kind::None:
            return false;
        case Kind::Bool:
            return b;
        case Kind::Int:
            return i != 0;
        case Kind::Float:
            return f != 0;
        case Kind::String:
            return !s.empty();
        case Kind::Array:
            return !array->empty();
        case Kind::Object:
            return !object->entries.empty();
        default:
            return true;
    }
}

std::string number_text(double v) {
    if (!std::isfinite(v)) return std::isnan(v) ? "NaN" : (v > 0 ? "Infinity" : "-Infinity");
    if (v == 0) return std::signbit(v) ? "-0.0" : "0.0";
    // Shortest round-trip digits, laid out as JavaScript's Number#toString does (the reference renderer's
    // float output), with ".0" on integral values as Python prints them.
    char buf[64];
    auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
    std::string sci(buf, r.ptr);
    const bool negative = sci[0] == '-';
    if (negative) sci.erase(0, 1);
    const auto e = sci.find('e');
    std::string digits;
    for (std::size_t k = 0; k < e; ++k)
        if (sci[k] != '.') digits += sci[k];
    const int n = std::stoi(sci.substr(e + 1)) + 1;  // position of the decimal point
    const int k = static_cast<int>(digits.size());
    std::string out;
    if (k <= n && n <= 21) {
        out = digits + std::string(static_cast<std::size_t>(n - k), '0') + ".0";
    } else if (0 < n && n <= 21) {
        out =
            digits.substr(0, static_cast<std::size_t>(n)) + "." + digits.substr(static_cast<std::size_t>(n));
    } else if (-6 < n && n <= 0) {
        out = "0." + std::string(static_cast<std::size_t>(-n), '0') + digits;
    } else {
        out = digits.substr(0, 1);
        if (k > 1) out += "." + digits.substr(1);
        out += (n - 1 >= 0 ? "e+" : "e-") + std::to_string(std::abs(n - 1));
    }
    return negative ? "-" + out : out;
}

std::string Value::str() const {
    switch (kind) {
        case Kind::Undefined:
        case Kind::None:
            return "";
        case Kind::Bool:
            return b ? "true" : "false";
        case Kind::Int:
            return std::to_string(i);
        case Kind::Float:
            return number_text(f);
        case Kind::String:
            return s;
        case Kind::Function:
            return "<function>";
        default:
            return json_for_output(*this);
    }
}

const char* Value::type_name() const {
    static constexpr std::pair<Kind, const char*> names[] = {
        {Kind::Undefined, "undefined"}, {Kind::None, "none"},   {Kind::Bool, "boolean"},
        {Kind::Int, "integer"},         {Kind::Float, "float"}, {Kind::String, "string"},
        {Kind::Array, "list"},          {Kind::Object, "dict"}, {Kind::Namespace, "namespace"},
        {Kind::Function, "function"}};
    for (const auto& [k, name] : names)
        if (k == kind) return name;
    return "value";
}

const Value* Object::find(const std::string& key) const {
    for (const auto& [k, v] : entries)
        if (k == key) return &v;
    return nullptr;
}

void Object::set(const std::string& key, Value value) {
    for (auto& [k, v] : entries)
        if (k == key) {
            v = std::move(value);
            return;
        }
    entries.emplace_back(key, std::move(value));
}

Value CallArgs::get(std::size_t index, const std::string& name, Value fallback) const {
    for (const auto& [k, v] : keyword)
        if (k == name) return v;
    if (index < positional.size()) return positional[index];
    return fallback;
}

void CallArgs::expect(std::size_t max, std::initializer_list<const char*> names) const {
    if (positional.size() > max)
        throw TemplateError(callee + " takes at most " + std::to_string(max) + " positional arguments, got " +
                            std::to_string(positional.size()));
    for (const auto& [k, v] : keyword) {
        bool known = false;
        for (const char* n : names) known = known || k == n;
        if (!known) throw TemplateError(callee + " has no argument '" + k + "'");
    }
}

bool equal(const Value& a, const Value& b) {
    if (a.is_number() && b.is_number()) {
        if (a.kind == Value::Kind::Int && b.kind == Value::Kind::Int) return a.i == b.i;
        return a.as_double() == b.as_double();
    }
    if (a.kind != b.kind) return false;
    switch (a.kind) {
        case Value::Kind::Undefined:
        case Value::Kind::None:
            return true;
        case Value::Kind::Bool:
            return a.b == b.b;
        case Value::Kind::String:
            return a.s == b.s;
        case Value::Kind::Array:
            if (a.array->size() != b.array->size()) return false;
            for (std::size_t k = 0; k < a.array->size(); ++k)
                if (!equal((*a.array)[k], (*b.array)[k])) return false;
            return true;
        case Value::Kind::Object:
        case Value::Kind::Namespace:
            if (a.object->entries.size() != b.object->entries.size()) return false;
            for (const auto& [k, v] : a.object->entries) {
                const Value* o = b.object->find(k);
                if (!o || !equal(v, *o)) return false;
            }
            return true;
        default:
            return a.function == b.function;
    }
}

namespace {
void escape_code_unit(std::string& out, unsigned u) {
    char buf[16];  // "\\uXXXX" and room the compiler can prove
    std::snprintf(buf, sizeof buf, "\\u%04x", u);
    out += buf;
}

void json_string(std::string& out, const std::string& s, bool ensure_ascii) {
    out += '"';
    for (std::size_t i = 0; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\b':
                out += "\\b";
                break;
            case '\f':
                out += "\\f";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            default:
                if (c < 0x20) {
                    escape_code_unit(out, c);
                } else if (c >= 0x80 && ensure_ascii) {
                    // One code point from its UTF-8 bytes, written as UTF-16 code units (Python's json).
                    const std::size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
                    unsigned cp = n == 1 ? c : c & (0xFF >> (n + 1));
                    for (std::size_t k = 1; k < n && i + k < s.size(); ++k)
                        cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
                    i += n - 1;
                    if (cp >= 0x10000) {
                        cp -= 0x10000;
                        escape_code_unit(out, 0xD800 + (cp >> 10));
                        escape_code_unit(out, 0xDC00 + (cp & 0x3FF));
                    } else {
                        escape_code_unit(out, cp);
                    }
                } else {
                    out += static_cast<char>(c);
                }
        }
    }
    out += '"';
}

void json_value(std::string& out, const Value& v, const JsonStyle& style, int depth, bool undefined_as_null) {
    const int indent = style.indent;
    const std::string item_sep = style.separators ? style.separators->first : indent > 0 ? "," : ", ";
    const std::string key_sep = style.separators ? style.separators->second : ": ";
    const std::string pad = "\n" + std::string(static_cast<std::size_t>(indent * depth), ' ');
    const std::string child_pad = pad + std::string(static_cast<std::size_t>(indent), ' ');
    switch (v.kind) {
        case Value::Kind::Undefined:
            out += undefined_as_null ? "null" : "undefined";
            return;
        case Value::Kind::None:
            out += "null";
            return;
        case Value::Kind::Bool:
            out += v.b ? "true" : "false";
            return;
        case Value::Kind::Int:
            out += std::to_string(v.i);
            return;
        case Value::Kind::Float: {
            if (!std::isfinite(v.f)) {
                out += "null";
                return;
            }
            std::string t = number_text(v.f);
            if (t.size() > 2 && t.compare(t.size() - 2, 2, ".0") == 0) t.resize(t.size() - 2);
            out += t == "-0" ? "0" : t;
            return;
        }
        case Value::Kind::String:
            json_string(out, v.s, style.ensure_ascii);
            return;
        case Value::Kind::Array: {
            out += '[';
            bool first = true;
            for (const auto& e : *v.array) {
                if (!first) out += item_sep;
                if (indent > 0) out += child_pad;
                first = false;
                json_value(out, e, style, depth + 1, undefined_as_null);
            }
            if (indent > 0 && !v.array->empty()) out += pad;
            out += ']';
            return;
        }
        case Value::Kind::Object:
        case Value::Kind::Namespace: {
            out += '{';
            auto entries = v.object->entries;
            if (style.sort_keys)
                std::stable_sort(entries.begin(), entries.end(),
                                 [](const auto& a, const auto& b) { return a.first < b.first; });
            bool first = true;
            for (const auto& [k, e] : entries) {
                if (!first) out += item_sep;
                if (indent > 0) out += child_pad;
                first = false;
                json_string(out, k, style.ensure_ascii);
                out += key_sep;
                json_value(out, e, style, depth + 1, undefined_as_null);
            }
            if (indent > 0 && !entries.empty()) out += pad;
            out += '}';
            return;
        }
        case Value::Kind::Function:
            throw TemplateError("tojson of a function");
    }
}
}  // namespace

std::string to_json(const Value& v, const JsonStyle& style) {
    std::string out;
    json_value(out, v, style, 0, true);
    return out;
}

std::string json_for_output(const Value& v) {
    std::string out;
    json_value(out, v, JsonStyle{}, 0, false);
    return out;
}

}  // namespace ternspec::jinja
