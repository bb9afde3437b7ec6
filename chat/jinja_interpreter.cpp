#include "chat/jinja_interpreter.hpp"

#include <algorithm>
#include <cmath>

#include "chat/jinja_builtins.hpp"

namespace ternspec::jinja {

namespace {

// Variables of one scope; lookups walk outward. A for loop gets one scope for all its iterations (so a
// `set` inside it is seen by later iterations, not after the loop); `if` does not open one.
struct Scope {
    Scope* parent = nullptr;
    std::vector<std::pair<std::string, Value>> vars;

    const Value* find(const std::string& name) const {
        for (const Scope* s = this; s; s = s->parent)
            for (const auto& [k, v] : s->vars)
                if (k == name) return &v;
        return nullptr;
    }
    void set(const std::string& name, Value value) {
        for (auto& [k, v] : vars)
            if (k == name) {
                v = std::move(value);
                return;
            }
        vars.emplace_back(name, std::move(value));
    }
};

enum class Flow { Normal, Break, Continue };

// Bounds a template from a model file cannot pass: macro recursion (instead of a stack overflow), work
// (instead of a hang: real chat templates take tens of steps per message) and text (instead of memory
// blowup).
constexpr int kMaxDepth = 200;
constexpr std::int64_t kMaxSteps = 1'000'000;
constexpr std::size_t kMaxTextBytes = 64u << 20;

void check_size(std::size_t bytes) {
    if (bytes > kMaxTextBytes)
        throw TemplateError("text longer than " + std::to_string(kMaxTextBytes >> 20) + " MiB");
}

class Interpreter {
  public:
    explicit Interpreter(Scope& root) : root_(root) {}

    Flow exec(const Body& body, Scope& scope, std::string& out) {
        for (const auto& n : body) {
            const Flow f = exec(*n, scope, out);
            if (f != Flow::Normal) return f;
        }
        return Flow::Normal;
    }

  private:
    [[noreturn]] static void fail(int line, const std::string& what) {
        throw InputError("chat template line " + std::to_string(line) + ": " + what);
    }

    void count_step(int line) {
        if (++steps_ > kMaxSteps)
            fail(line, "the template ran more than " + std::to_string(kMaxSteps) + " steps");
    }

    Flow exec(const Node& n, Scope& scope, std::string& out) {
        count_step(n.line);
        if (out.size() > kMaxTextBytes)
            fail(n.line, "output longer than " + std::to_string(kMaxTextBytes >> 20) + " MiB");
        switch (n.kind) {
            case Node::Kind::Text:
                RenderBudget::charge(n.text.size());
                out += n.text;
                return Flow::Normal;
            case Node::Kind::Output: {
                const std::string text = eval(*n.expr, scope).str();
                RenderBudget::charge(text.size());
                out += text;
                return Flow::Normal;
            }
            case Node::Kind::If:
                for (const auto& [cond, body] : n.branches)
                    if (eval(*cond, scope).truthy()) return exec(body, scope, out);
                return exec(n.otherwise, scope, out);
            case Node::Kind::For:
                return exec_for(n, scope, out);
            case Node::Kind::Set:
                exec_set(n, scope, eval(*n.expr, scope));
                return Flow::Normal;
            case Node::Kind::SetBlock: {
                std::string text;
                exec(n.body, scope, text);
                scope.set(n.names[0], Value::string(std::move(text)));
                return Flow::Normal;
            }
            case Node::Kind::Macro:
                scope.set(n.names[0], macro(n));
                return Flow::Normal;
            case Node::Kind::Break:
                return Flow::Break;
            case Node::Kind::Continue:
                return Flow::Continue;
        }
        return Flow::Normal;
    }

    void exec_set(const Node& n, Scope& scope, Value v) {
        if (n.attribute_target) {
            const Value* ns = scope.find(n.names[0]);
            if (!ns || ns->kind != Value::Kind::Namespace)
                fail(n.line,
                     "set " + n.names[0] + "." + n.names[1] + ": '" + n.names[0] + "' is not a namespace");
            ns->object->set(n.names[1], std::move(v));
            return;
        }
        bind_targets(n, scope, v, "names");
    }

    // `for a, b in ...` and `set a, b = ...`: one name takes the value, several unpack a list of as many.
    void bind_targets(const Node& n, Scope& scope, const Value& item, const char* what) {
        if (n.names.size() == 1) {
            scope.set(n.names[0], item);
            return;
        }
        if (item.kind != Value::Kind::Array || item.array->size() != n.names.size())
            fail(n.line, "cannot unpack a " + std::string(item.type_name()) + " into " +
                             std::to_string(n.names.size()) + " " + what);
        for (std::size_t k = 0; k < n.names.size(); ++k) scope.set(n.names[k], (*item.array)[k]);
    }

    Flow exec_for(const Node& n, Scope& outer, std::string& out) {
        const Value iterable = eval(*n.expr, outer);
        Array all;
        try {
            all = iterate(iterable, "a for loop");
        } catch (const TemplateError& e) {
            fail(n.line, e.what());
        }
        Scope scope{&outer, {}};
        Array items;
        for (const auto& item : all) {
            if (n.condition) {
                bind_targets(n, scope, item, "loop variables");
                if (!eval(*n.condition, scope).truthy()) continue;
            }
            items.push_back(item);
        }
        const auto len = static_cast<std::int64_t>(items.size());
        for (std::int64_t k = 0; k < len; ++k) {
            count_step(n.line);
            Value loop = Value::dict();
            auto& o = *loop.object;
            o.set("index", Value::integer(k + 1));
            o.set("index0", Value::integer(k));
            o.set("revindex", Value::integer(len - k));
            o.set("revindex0", Value::integer(len - k - 1));
            o.set("first", Value::boolean(k == 0));
            o.set("last", Value::boolean(k == len - 1));
            o.set("length", Value::integer(len));
            o.set("previtem", k > 0 ? items[static_cast<std::size_t>(k - 1)] : Value{});
            o.set("nextitem", k + 1 < len ? items[static_cast<std::size_t>(k + 1)] : Value{});
            scope.set("loop", loop);
            bind_targets(n, scope, items[static_cast<std::size_t>(k)], "loop variables");
            if (exec(n.body, scope, out) == Flow::Break) break;
        }
        if (items.empty()) exec(n.otherwise, scope, out);
        return Flow::Normal;
    }

    // A macro sees its parameters and the template's top level, as a Jinja macro defined there does.
    Value macro(const Node& n) {
        return Value::callable([this, &n](CallArgs& args) {
            if (++depth_ > kMaxDepth) fail(n.line, "macros nested deeper than " + std::to_string(kMaxDepth));
            if (args.positional.size() > n.params.size())
                fail(n.line, "macro " + n.names[0] + " takes " + std::to_string(n.params.size()) +
                                 " arguments, got " + std::to_string(args.positional.size()));
            Scope scope{&root_, {}};
            for (std::size_t k = 0; k < n.params.size(); ++k) {
                const auto& [name, def] = n.params[k];
                Value v = args.get(k, name);
                if (v.is_undefined() && def) v = eval(*def, scope);
                scope.set(name, v);
            }
            for (const auto& [k, v] : args.keyword) {
                bool known = false;
                for (const auto& p : n.params) known = known || p.first == k;
                if (!known) fail(n.line, "macro " + n.names[0] + " has no argument '" + k + "'");
            }
            std::string text;
            exec(n.body, scope, text);
            --depth_;
            return Value::string(std::move(text));
        });
    }

    CallArgs arguments(const Expr& e, std::size_t first, Scope& scope) {
        CallArgs a;
        for (std::size_t k = first; k < e.kids.size(); ++k) a.positional.push_back(eval(*e.kids[k], scope));
        for (const auto& [name, x] : e.keywords) a.keyword.emplace_back(name, eval(*x, scope));
        return a;
    }

    Value eval(const Expr& e, Scope& scope) {
        try {
            return eval_unchecked(e, scope);
        } catch (const TemplateError& err) {
            fail(e.line, err.what());
        }
    }

    Value eval_unchecked(const Expr& e, Scope& scope) {
        using K = Expr::Kind;
        switch (e.kind) {
            case K::Literal:
                return e.value;
            case K::Name: {
                if (const Value* v = scope.find(e.name)) return *v;
                return global(e.name);
            }
            case K::List:
            case K::Tuple: {
                Array items;
                for (const auto& k : e.kids) items.push_back(eval(*k, scope));
                return Value::list(std::move(items));
            }
            case K::Dict: {
                Value d = Value::dict();
                for (std::size_t k = 0; k + 1 < e.kids.size(); k += 2) {
                    const Value key = eval(*e.kids[k], scope);
                    if (!key.is_string())
                        throw TemplateError(std::string("a dict key must be a string, got ") +
                                            key.type_name());
                    d.object->set(key.s, eval(*e.kids[k + 1], scope));
                }
                return d;
            }
            case K::Attr:
                return member(eval(*e.kids[0], scope), e.name);
            case K::Index:
                return subscript(eval(*e.kids[0], scope), eval(*e.kids[1], scope));
            case K::Slice: {
                auto part = [&](std::size_t k) { return e.kids[k] ? eval(*e.kids[k], scope) : Value{}; };
                return slice(eval(*e.kids[0], scope), part(1), part(2), part(3));
            }
            case K::Call: {
                const Value callee = eval(*e.kids[0], scope);
                if (callee.kind != Value::Kind::Function) {
                    const Expr& c = *e.kids[0];
                    if (c.kind == K::Attr)
                        throw TemplateError("the method '" + c.name + "' of a " +
                                            eval(*c.kids[0], scope).type_name() + " is not supported");
                    throw TemplateError((c.kind == K::Name ? "'" + c.name + "'" : std::string("the value")) +
                                        " is not callable");
                }
                CallArgs args = arguments(e, 1, scope);
                return (*callee.function)(args);
            }
            case K::Filter: {
                CallArgs args = arguments(e, 1, scope);
                return apply_filter(e.name, eval(*e.kids[0], scope), args);
            }
            case K::Test: {
                CallArgs args = arguments(e, 1, scope);
                args.callee = "the test '" + e.name + "'";
                return Value::boolean(apply_test(e.name, eval(*e.kids[0], scope), args) != e.negated);
            }
            case K::Unary: {
                const Value v = eval(*e.kids[0], scope);
                if (e.name == "not") return Value::boolean(!v.truthy());
                if (v.kind == Value::Kind::Int) return Value::integer(e.name == "-" ? -v.i : v.i);
                if (v.kind == Value::Kind::Float) return Value::number(e.name == "-" ? -v.f : v.f);
                throw TemplateError("unary " + e.name + " on a " + v.type_name());
            }
            case K::Binary:
                return binary(e, scope);
            case K::Cond:
                if (eval(*e.kids[0], scope).truthy()) return eval(*e.kids[1], scope);
                return e.kids[2] ? eval(*e.kids[2], scope) : Value{};
        }
        return {};
    }

    Value binary(const Expr& e, Scope& scope) {
        const std::string& op = e.name;
        const Value a = eval(*e.kids[0], scope);
        if (op == "and") return a.truthy() ? eval(*e.kids[1], scope) : a;
        if (op == "or") return a.truthy() ? a : eval(*e.kids[1], scope);
        const Value b = eval(*e.kids[1], scope);
        if (op == "==") return Value::boolean(equal(a, b));
        if (op == "!=") return Value::boolean(!equal(a, b));
        if (op == "~") {
            std::string s = a.str() + b.str();
            check_size(s.size());
            return Value::string(std::move(s));
        }
        if (op == "in" || op == "not in") {
            CallArgs args;
            args.positional.push_back(b);
            const bool in = !b.is_undefined() && apply_test("in", a, args);
            return Value::boolean(in == (op == "in"));
        }
        if (op == "<") return Value::boolean(compare(a, b) < 0);
        if (op == ">") return Value::boolean(compare(a, b) > 0);
        if (op == "<=") return Value::boolean(compare(a, b) <= 0);
        if (op == ">=") return Value::boolean(compare(a, b) >= 0);
        using K = Value::Kind;
        if (a.is_number() && b.is_number()) {
            const bool ints = a.kind == K::Int && b.kind == K::Int;
            const double x = a.as_double(), y = b.as_double();
            if (op == "+") return ints ? Value::integer(a.i + b.i) : Value::number(x + y);
            if (op == "-") return ints ? Value::integer(a.i - b.i) : Value::number(x - y);
            if (op == "*") return ints ? Value::integer(a.i * b.i) : Value::number(x * y);
            if (op == "**") {
                if (ints && b.i >= 0) return Value::integer(static_cast<std::int64_t>(std::pow(x, y)));
                return Value::number(std::pow(x, y));
            }
            if (y == 0) throw TemplateError("division by zero");
            if (op == "/") return Value::number(x / y);
            if (op == "//") {
                if (ints) return Value::integer(static_cast<std::int64_t>(std::floor(x / y)));
                return Value::number(std::floor(x / y));
            }
            if (op == "%") {
                if (ints) return Value::integer(((a.i % b.i) + b.i) % b.i);
                return Value::number(x - y * std::floor(x / y));
            }
        }
        if (op == "+" && a.is_string() && b.is_string()) {
            check_size(a.s.size() + b.s.size());
            return Value::string(a.s + b.s);
        }
        if (op == "+" && a.kind == K::Array && b.kind == K::Array) {
            check_size((a.array->size() + b.array->size()) * sizeof(Value));
            Array items = *a.array;
            items.insert(items.end(), b.array->begin(), b.array->end());
            return Value::list(std::move(items));
        }
        if (op == "*" && (a.is_string() || a.kind == K::Array) && b.kind == K::Int) {
            if (b.i > 100000) throw TemplateError("repetition of more than 100000 times");
            check_size(static_cast<std::size_t>(std::max<std::int64_t>(b.i, 0)) *
                       (a.is_string() ? a.s.size() : a.array->size() * sizeof(Value)));
            if (a.is_string()) {
                std::string s;
                for (std::int64_t k = 0; k < b.i; ++k) s += a.s;
                return Value::string(s);
            }
            Array items;
            for (std::int64_t k = 0; k < b.i; ++k)
                items.insert(items.end(), a.array->begin(), a.array->end());
            return Value::list(std::move(items));
        }
        throw TemplateError("'" + op + "' between a " + std::string(a.type_name()) + " and a " +
                            b.type_name());
    }

    Scope& root_;
    int depth_ = 0;
    std::int64_t steps_ = 0;
};

}  // namespace

std::string render(const Body& program, const Value& variables) {
    Scope root;
    if (variables.is_mapping())
        for (const auto& [k, v] : variables.object->entries) root.set(k, v);
    RenderBudget budget;
    Interpreter interpreter(root);
    std::string out;
    interpreter.exec(program, root, out);
    return out;
}

}  // namespace ternspec::jinja
