#include "chat/jinja_builtins.hpp"

#include <utf8proc.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <map>
#include <optional>

#include "ternspec/error.hpp"

namespace ternspec::jinja {

namespace {

[[noreturn]] void fail(const std::string& what) {
    throw TemplateError(what);
}

// A string as its code points, each kept as its UTF-8 bytes: indexes, slices and lengths count characters.
std::vector<std::string> characters(const std::string& s) {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        std::size_t n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
        n = std::min(n, s.size() - i);
        out.push_back(s.substr(i, n));
        i += n;
    }
    return out;
}

std::string map_case(const std::string& s, bool upper) {
    std::string out;
    const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(s.data());
    utf8proc_ssize_t left = static_cast<utf8proc_ssize_t>(s.size());
    while (left > 0) {
        utf8proc_int32_t cp = 0;
        const utf8proc_ssize_t n = utf8proc_iterate(p, left, &cp);
        if (n <= 0) {  // not UTF-8: keep the byte
            out += static_cast<char>(*p);
            ++p;
            --left;
            continue;
        }
        utf8proc_uint8_t buf[4];
        const auto m = utf8proc_encode_char(upper ? utf8proc_toupper(cp) : utf8proc_tolower(cp), buf);
        out.append(reinterpret_cast<const char*>(buf), static_cast<std::size_t>(m));
        p += n;
        left -= n;
    }
    return out;
}

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}
bool is_space(const std::string& ch) {
    return ch.size() == 1 && is_space(ch[0]);
}

// Python's str.strip family: whitespace, or any of `chars` when given.
std::string strip(const std::string& s, const Value& chars, bool left, bool right) {
    const auto cs = characters(s);
    std::vector<std::string> set;
    const bool whitespace = chars.is_undefined() || chars.is_none();
    if (!whitespace) {
        if (!chars.is_string()) fail("strip's argument must be a string");
        set = characters(chars.s);
    }
    auto strippable = [&](const std::string& c) {
        return whitespace ? is_space(c) : std::find(set.begin(), set.end(), c) != set.end();
    };
    std::size_t b = 0, e = cs.size();
    while (left && b < e && strippable(cs[b])) ++b;
    while (right && e > b && strippable(cs[e - 1])) --e;
    std::string out;
    for (std::size_t k = b; k < e; ++k) out += cs[k];
    return out;
}

Value split(const std::string& s, const Value& sep, std::int64_t maxsplit) {
    Array out;
    if (sep.is_undefined() || sep.is_none()) {  // runs of whitespace, ends ignored
        std::size_t i = 0;
        while (i < s.size()) {
            while (i < s.size() && is_space(s[i])) ++i;
            if (i >= s.size()) break;
            if (maxsplit >= 0 && static_cast<std::int64_t>(out.size()) == maxsplit) {
                std::size_t e = s.size();
                while (e > i && is_space(s[e - 1])) --e;
                out.push_back(Value::string(s.substr(i, e - i)));
                break;
            }
            std::size_t j = i;
            while (j < s.size() && !is_space(s[j])) ++j;
            out.push_back(Value::string(s.substr(i, j - i)));
            i = j;
        }
        return Value::list(std::move(out));
    }
    if (!sep.is_string()) fail("split's separator must be a string");
    if (sep.s.empty()) fail("split with an empty separator");
    std::size_t start = 0;
    for (;;) {
        const std::size_t at = s.find(sep.s, start);
        if (at == std::string::npos || (maxsplit >= 0 && static_cast<std::int64_t>(out.size()) == maxsplit))
            break;
        out.push_back(Value::string(s.substr(start, at - start)));
        start = at + sep.s.size();
    }
    out.push_back(Value::string(s.substr(start)));
    return Value::list(std::move(out));
}

std::string replace(const std::string& s, const std::string& from, const std::string& to,
                    std::int64_t count) {
    std::string out;
    std::int64_t done = 0;
    if (from.empty()) {  // Python inserts `to` around every character
        for (const auto& c : characters(s)) {
            if (count < 0 || done++ < count) out += to;
            out += c;
        }
        if (count < 0 || done < count) out += to;
        return out;
    }
    std::size_t start = 0;
    for (;;) {
        const std::size_t at = s.find(from, start);
        if (at == std::string::npos || (count >= 0 && done == count)) break;
        out.append(s, start, at - start);
        out += to;
        start = at + from.size();
        ++done;
    }
    out.append(s, start, std::string::npos);
    return out;
}

std::string capitalize(const std::string& s) {
    auto cs = characters(s);
    std::string out;
    for (std::size_t k = 0; k < cs.size(); ++k) out += map_case(cs[k], k == 0);
    return out;
}

std::string title(const std::string& s) {
    std::string out;
    bool word = false;
    for (const auto& c : characters(s)) {
        const bool letter = map_case(c, true) != map_case(c, false) ||
                            (c.size() == 1 && std::isalnum(static_cast<unsigned char>(c[0])));
        out += letter ? map_case(c, !word) : c;
        word = letter;
    }
    return out;
}

std::int64_t integer_arg(const Value& v, const char* what) {
    if (v.kind != Value::Kind::Int) fail(std::string(what) + " must be an integer, got " + v.type_name());
    return v.i;
}

bool prefix_match(const std::string& s, const Value& pattern, bool at_end, const char* method) {
    auto one = [&](const Value& p) {
        if (!p.is_string()) fail(std::string(method) + "'s argument must be a string or a tuple of strings");
        return at_end ? s.ends_with(p.s) : s.starts_with(p.s);
    };
    if (pattern.kind == Value::Kind::Array) {
        for (const auto& p : *pattern.array)
            if (one(p)) return true;
        return false;
    }
    return one(pattern);
}

Value bound(std::string callee, std::function<Value(CallArgs&)> fn) {
    return Value::callable([callee = std::move(callee), fn = std::move(fn)](CallArgs& a) {
        a.callee = callee;
        return fn(a);
    });
}

Value string_method(const std::string& s, const std::string& name) {
    if (name == "upper" || name == "lower")
        return bound(name + "()", [s, up = name == "upper"](CallArgs& a) {
            a.expect(0);
            return Value::string(map_case(s, up));
        });
    if (name == "strip" || name == "lstrip" || name == "rstrip")
        return bound(name + "()", [s, name](CallArgs& a) {
            a.expect(1);
            return Value::string(strip(s, a.get(0, "chars"), name != "rstrip", name != "lstrip"));
        });
    if (name == "title" || name == "capitalize")
        return bound(name + "()", [s, t = name == "title"](CallArgs& a) {
            a.expect(0);
            return Value::string(t ? title(s) : capitalize(s));
        });
    if (name == "startswith" || name == "endswith")
        return bound(name + "()", [s, name](CallArgs& a) {
            a.expect(1);
            if (a.positional.empty()) fail(name + "() needs an argument");
            return Value::boolean(prefix_match(s, a.positional[0], name == "endswith", name.c_str()));
        });
    if (name == "split")
        return bound("split()", [s](CallArgs& a) {
            a.expect(2, {"sep", "maxsplit"});
            return split(s, a.get(0, "sep"),
                         integer_arg(a.get(1, "maxsplit", Value::integer(-1)), "maxsplit"));
        });
    if (name == "replace")
        return bound("replace()", [s](CallArgs& a) {
            a.expect(3, {"count"});
            const Value from = a.get(0, "old"), to = a.get(1, "new");
            if (!from.is_string() || !to.is_string()) fail("replace() needs two strings");
            return Value::string(
                replace(s, from.s, to.s, integer_arg(a.get(2, "count", Value::integer(-1)), "count")));
        });
    if (name == "find")
        return bound("find()", [s](CallArgs& a) {
            a.expect(1);
            const Value sub = a.get(0, "sub");
            if (!sub.is_string()) fail("find() needs a string");
            const auto at = s.find(sub.s);
            return Value::integer(
                at == std::string::npos ? -1 : static_cast<std::int64_t>(characters(s.substr(0, at)).size()));
        });
    if (name == "join")
        return bound("join()", [s](CallArgs& a) {
            a.expect(1);
            const Value items = a.get(0, "iterable");
            if (items.kind != Value::Kind::Array) fail("join() needs a list");
            std::string out;
            for (std::size_t k = 0; k < items.array->size(); ++k) {
                if (!(*items.array)[k].is_string()) fail("join() needs a list of strings");
                if (k) out += s;
                out += (*items.array)[k].s;
            }
            return Value::string(out);
        });
    if (name == "splitlines")
        return bound("splitlines()", [s](CallArgs& a) {
            a.expect(0);
            Array out;
            std::size_t start = 0;
            while (start < s.size()) {
                std::size_t at = s.find_first_of("\r\n", start);
                if (at == std::string::npos) at = s.size();
                out.push_back(Value::string(s.substr(start, at - start)));
                start = at + (s.compare(at, 2, "\r\n") == 0 ? 2 : 1);
            }
            return Value::list(std::move(out));
        });
    return {};
}

Value dict_method(const Value& d, const std::string& name) {
    if (name == "items")
        return bound("items()", [d](CallArgs& a) {
            a.expect(0);
            Array out;
            for (const auto& [k, v] : d.object->entries) out.push_back(Value::list({Value::string(k), v}));
            return Value::list(std::move(out));
        });
    if (name == "keys" || name == "values")
        return bound(name + "()", [d, keys = name == "keys"](CallArgs& a) {
            a.expect(0);
            Array out;
            for (const auto& [k, v] : d.object->entries) out.push_back(keys ? Value::string(k) : v);
            return Value::list(std::move(out));
        });
    if (name == "get")
        return bound("get()", [d](CallArgs& a) {
            a.expect(2);
            const Value key = a.get(0, "key");
            if (!key.is_string()) return a.get(1, "default", Value::none());
            const Value* v = d.object->find(key.s);
            return v ? *v : a.get(1, "default", Value::none());
        });
    return {};
}

bool is_sequence(const Value& v) {
    return v.kind == Value::Kind::Array || v.is_string() || v.is_mapping();
}

std::size_t length(const Value& v) {
    if (v.is_string()) return characters(v.s).size();
    if (v.kind == Value::Kind::Array) return v.array->size();
    if (v.is_mapping()) return v.object->entries.size();
    fail(std::string("length of a ") + v.type_name());
}

Value attribute_path(const Value& item, const std::string& path) {
    Value v = item;
    std::size_t start = 0;
    for (;;) {
        const std::size_t dot = path.find('.', start);
        const std::string part =
            path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
        const bool index = !part.empty() && part.find_first_not_of("0123456789") == std::string::npos;
        v = index && v.kind == Value::Kind::Array ? subscript(v, Value::integer(std::stoll(part)))
                                                  : member(v, part);
        if (dot == std::string::npos) return v;
        start = dot + 1;
    }
}

}  // namespace

Array iterate(const Value& v, const char* filter) {
    if (v.is_undefined()) return {};
    if (v.kind == Value::Kind::Array) return *v.array;
    if (v.is_mapping()) {
        Array keys;
        for (const auto& [k, e] : v.object->entries) keys.push_back(Value::string(k));
        return keys;
    }
    if (v.is_string()) {
        Array out;
        for (auto& c : characters(v.s)) out.push_back(Value::string(c));
        return out;
    }
    fail(std::string(filter) + " of a " + v.type_name() + " (not iterable)");
}

namespace {

CallArgs test_args(const CallArgs& args, std::size_t from) {
    CallArgs rest;
    rest.callee = args.callee;
    for (std::size_t k = from; k < args.positional.size(); ++k) rest.positional.push_back(args.positional[k]);
    return rest;
}

}  // namespace

int compare(const Value& a, const Value& b) {
    if (a.is_number() && b.is_number()) {
        if (a.kind == Value::Kind::Int && b.kind == Value::Kind::Int) return a.i < b.i ? -1 : a.i > b.i;
        return a.as_double() < b.as_double() ? -1 : a.as_double() > b.as_double();
    }
    if (a.is_string() && b.is_string()) return a.s < b.s ? -1 : a.s > b.s;
    if (a.kind == Value::Kind::Bool && b.kind == Value::Kind::Bool) return static_cast<int>(a.b) - b.b;
    if (a.kind == Value::Kind::Array && b.kind == Value::Kind::Array) {
        for (std::size_t k = 0; k < std::min(a.array->size(), b.array->size()); ++k)
            if (int c = compare((*a.array)[k], (*b.array)[k])) return c;
        return a.array->size() < b.array->size() ? -1 : a.array->size() > b.array->size();
    }
    fail(std::string("cannot order a ") + a.type_name() + " and a " + b.type_name());
}

Value member(const Value& object, const std::string& name) {
    if (object.is_mapping()) {
        if (const Value* v = object.object->find(name)) return *v;
        return object.kind == Value::Kind::Object ? dict_method(object, name) : Value{};
    }
    if (object.is_string()) return string_method(object.s, name);
    return {};  // undefined.x and list.x are undefined, as in Jinja
}

Value subscript(const Value& object, const Value& key) {
    if (object.is_mapping()) {
        if (!key.is_string()) return {};
        const Value* v = object.object->find(key.s);
        return v ? *v : Value{};
    }
    if (object.kind == Value::Kind::Array || object.is_string()) {
        if (key.is_string()) return member(object, key.s);
        if (key.kind != Value::Kind::Int)
            fail(std::string("an index must be an integer, got ") + key.type_name());
        const auto chars = object.is_string() ? characters(object.s) : std::vector<std::string>{};
        const auto n = static_cast<std::int64_t>(object.is_string() ? chars.size() : object.array->size());
        const std::int64_t k = key.i < 0 ? key.i + n : key.i;
        if (k < 0 || k >= n) return {};
        return object.is_string() ? Value::string(chars[static_cast<std::size_t>(k)])
                                  : (*object.array)[static_cast<std::size_t>(k)];
    }
    return {};
}

Value slice(const Value& object, const Value& start, const Value& stop, const Value& step) {
    auto opt = [](const Value& v, const char* what) -> std::optional<std::int64_t> {
        if (v.is_undefined() || v.is_none()) return std::nullopt;
        return integer_arg(v, what);
    };
    const auto st = opt(step, "a slice step").value_or(1);
    if (st == 0) fail("a slice step of zero");
    if (!object.is_string() && object.kind != Value::Kind::Array)
        fail(std::string("slicing a ") + object.type_name());
    const auto chars = object.is_string() ? characters(object.s) : std::vector<std::string>{};
    const auto n = static_cast<std::int64_t>(object.is_string() ? chars.size() : object.array->size());
    auto clamp = [&](std::optional<std::int64_t> v, std::int64_t dflt) {
        if (!v) return dflt;
        std::int64_t x = *v < 0 ? *v + n : *v;
        if (st > 0) return std::clamp<std::int64_t>(x, 0, n);
        return std::clamp<std::int64_t>(x, -1, n - 1);
    };
    const std::int64_t b = clamp(opt(start, "a slice start"), st > 0 ? 0 : n - 1);
    const std::int64_t e = clamp(opt(stop, "a slice stop"), st > 0 ? n : -1);
    Array out;
    std::string text;
    for (std::int64_t k = b; st > 0 ? k < e : k > e; k += st) {
        if (object.is_string())
            text += chars[static_cast<std::size_t>(k)];
        else
            out.push_back((*object.array)[static_cast<std::size_t>(k)]);
    }
    return object.is_string() ? Value::string(text) : Value::list(std::move(out));
}

bool apply_test(const std::string& name, const Value& v, const CallArgs& args) {
    using K = Value::Kind;
    auto arg = [&](const char* what) {
        if (args.positional.empty()) fail("the test '" + name + "' needs " + what);
        return args.positional[0];
    };
    if (name == "defined") return !v.is_undefined();
    if (name == "undefined") return v.is_undefined();
    if (name == "none") return v.is_none();
    if (name == "string") return v.is_string();
    if (name == "number") return v.is_number();
    if (name == "integer") return v.kind == K::Int;
    if (name == "float") return v.kind == K::Float;
    if (name == "boolean") return v.kind == K::Bool;
    if (name == "true") return v.kind == K::Bool && v.b;
    if (name == "false") return v.kind == K::Bool && !v.b;
    if (name == "mapping") return v.is_mapping();
    if (name == "sequence") return is_sequence(v);
    if (name == "iterable") return is_sequence(v);
    if (name == "callable") return v.kind == K::Function;
    if (name == "odd" || name == "even") {
        if (v.kind != K::Int) fail("the test '" + name + "' on a " + v.type_name());
        return (v.i % 2 != 0) == (name == "odd");
    }
    if (name == "divisibleby") {
        const auto d = integer_arg(arg("a divisor"), "divisibleby's argument");
        if (v.kind != K::Int || d == 0) fail("divisibleby needs integers and a non-zero divisor");
        return v.i % d == 0;
    }
    if (name == "equalto" || name == "eq" || name == "==" || name == "sameas")
        return equal(v, arg("a value"));
    if (name == "ne" || name == "!=") return !equal(v, arg("a value"));
    if (name == "lt" || name == "<") return compare(v, arg("a value")) < 0;
    if (name == "le" || name == "<=") return compare(v, arg("a value")) <= 0;
    if (name == "gt" || name == ">") return compare(v, arg("a value")) > 0;
    if (name == "ge" || name == ">=") return compare(v, arg("a value")) >= 0;
    if (name == "in") {
        const Value c = arg("a container");
        if (c.kind == K::Array)
            return std::any_of(c.array->begin(), c.array->end(), [&](const Value& x) { return equal(x, v); });
        if (c.is_string() && v.is_string()) return c.s.find(v.s) != std::string::npos;
        if (c.is_mapping() && v.is_string()) return c.object->find(v.s) != nullptr;
        fail(std::string("the test 'in' on a ") + c.type_name());
    }
    if (name == "lower" || name == "upper") return v.is_string() && map_case(v.s, name == "upper") == v.s;
    fail("the test '" + name + "' is not supported");
}

namespace {

using K = Value::Kind;

// Jinja's filters, one function each, found by name in filters(); a function serving several names (min,
// max, sort, unique) reads which one from `name`.
Value filter_safe([[maybe_unused]] const std::string& name, const Value& v, CallArgs& args) {
    // Chat templates render without autoescaping: escape would only matter with HTML autoescape on.
    if (name != "safe")
        fail("the filter '" + name + "' is not supported (no autoescaping in chat templates)");
    args.expect(0);
    return v;
}

Value filter_tojson([[maybe_unused]] const std::string& name, const Value& v, CallArgs& args) {
    args.expect(1, {"indent", "ensure_ascii", "sort_keys", "separators"});
    JsonStyle style;
    const Value indent = args.get(0, "indent", Value::none());
    if (!indent.is_none())
        style.indent = static_cast<int>(std::clamp<std::int64_t>(integer_arg(indent, "indent"), 0, 64));
    style.ensure_ascii = args.get(9, "ensure_ascii", Value::boolean(false)).truthy();
    style.sort_keys = args.get(9, "sort_keys", Value::boolean(false)).truthy();
    const Value seps = args.get(9, "separators", Value::none());
    if (!seps.is_none()) {
        if (seps.kind != K::Array || seps.array->size() != 2 || !(*seps.array)[0].is_string() ||
            !(*seps.array)[1].is_string())
            fail("tojson's separators must be two strings");
        style.separators.emplace((*seps.array)[0].s, (*seps.array)[1].s);
    }
    return Value::string(to_json(v, style));
}

Value filter_length([[maybe_unused]] const std::string& name, const Value& v, CallArgs& args) {
    args.expect(0);
    return Value::integer(static_cast<std::int64_t>(length(v)));
}

Value filter_string([[maybe_unused]] const std::string& name, const Value& v, CallArgs& args) {
    args.expect(0);
    return Value::string(v.str());
}

Value filter_default([[maybe_unused]] const std::string& name, const Value& v, CallArgs& args) {
    args.expect(2, {"default_value", "boolean"});
    const Value fallback = args.get(0, "default_value", Value::string(""));
    const bool boolean = args.get(1, "boolean", Value::boolean(false)).truthy();
    return v.is_undefined() || (boolean && !v.truthy()) ? fallback : v;
}

Value filter_trim([[maybe_unused]] const std::string& name, const Value& v, CallArgs& args) {
    args.expect(1, {"chars"});
    if (!v.is_string()) fail("trim of a " + std::string(v.type_name()));
    return Value::string(strip(v.s, args.get(0, "chars"), true, true));
}

Value filter_upper([[maybe_unused]] const std::string& name, const Value& v, CallArgs& args) {
    args.expect(0);
    if (!v.is_string()) fail(name + " of a " + v.type_name());
    return Value::string(name == "title"        ? title(v.s)
                         : name == "capitalize" ? capitalize(v.s)
                                                : map_case(v.s, name == "upper"));
}

Value filter_replace([[maybe_unused]] const std::string& name, const Value& v, CallArgs& args) {
    if (!v.is_string()) fail("replace of a " + std::string(v.type_name()));
    CallArgs call = args;
    return (*string_method(v.s, "replace").function)(call);
}

Value filter_indent([[maybe_unused]] const std::string& name, const Value& v, CallArgs& args) {
    args.expect(3, {"width", "first", "blank"});
    if (!v.is_string()) fail("indent of a " + std::string(v.type_name()));
    const Value w = args.get(0, "width", Value::integer(4));
    const std::string pad =
        w.is_string() ? w.s : std::string(static_cast<std::size_t>(integer_arg(w, "width")), ' ');
    const bool first = args.get(1, "first", Value::boolean(false)).truthy();
    const bool blank = args.get(2, "blank", Value::boolean(false)).truthy();
    std::string out;
    std::size_t start = 0;
    for (bool line0 = true;; line0 = false) {
        const std::size_t nl = v.s.find('\n', start);
        const std::string line = v.s.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
        if ((first || !line0) && (blank || !line.empty())) out += pad;
        out += line;
        if (nl == std::string::npos) break;
        out += '\n';
        start = nl + 1;
    }
    return Value::string(out);
}

Value filter_join([[maybe_unused]] const std::string& name, const Value& v, CallArgs& args) {
    args.expect(2, {"d", "attribute"});
    const Value sep = args.get(0, "d", Value::string(""));
    const Value attr = args.get(1, "attribute");
    std::string out;
    bool first = true;
    for (const auto& item : iterate(v, "join")) {
        if (!first) out += sep.str();
        first = false;
        out += (attr.is_undefined() ? item : attribute_path(item, attr.str())).str();
    }
    return Value::string(out);
}

Value filter_first([[maybe_unused]] const std::string& name, const Value& v, CallArgs& args) {
    args.expect(0);
    const Array items = iterate(v, name.c_str());
    if (items.empty()) return {};
    return name == "first" ? items.front() : items.back();
}

Value filter_list([[maybe_unused]] const std::string& name, const Value& v, CallArgs& args) {
    args.expect(0);
    return Value::list(iterate(v, "list"));
}

Value filter_reverse([[maybe_unused]] const std::string& name, const Value& v, CallArgs& args) {
    args.expect(0);
    if (v.is_string()) {
        auto cs = characters(v.s);
        std::string out;
        for (auto it = cs.rbegin(); it != cs.rend(); ++it) out += *it;
        return Value::string(out);
    }
    Array items = iterate(v, "reverse");
    std::reverse(items.begin(), items.end());
    return Value::list(std::move(items));
}

Value filter_items([[maybe_unused]] const std::string& name, const Value& v, CallArgs& args) {
    args.expect(0);
    if (v.is_undefined()) return Value::list();
    if (!v.is_mapping()) fail("items of a " + std::string(v.type_name()));
    return dict_method(v, "items").function->operator()(args);
}

Value filter_dictsort([[maybe_unused]] const std::string& name, const Value& v, CallArgs& args) {
    args.expect(3, {"case_sensitive", "by", "reverse"});
    if (!v.is_mapping()) fail("dictsort of a " + std::string(v.type_name()));
    const bool by_value = args.get(1, "by", Value::string("key")).str() == "value";
    const bool reverse = args.get(2, "reverse", Value::boolean(false)).truthy();
    auto entries = v.object->entries;
    std::stable_sort(entries.begin(), entries.end(), [&](const auto& a, const auto& b) {
        const int c =
            by_value ? compare(a.second, b.second) : compare(Value::string(a.first), Value::string(b.first));
        return reverse ? c > 0 : c < 0;
    });
    Array out;
    for (auto& [k, x] : entries) out.push_back(Value::list({Value::string(k), x}));
    return Value::list(std::move(out));
}

Value filter_sort([[maybe_unused]] const std::string& name, const Value& v, CallArgs& args) {
    args.expect(name == "sort" ? 3 : 2, {"reverse", "case_sensitive", "attribute"});
    Array items = iterate(v, name.c_str());
    const Value attr = args.get(name == "sort" ? 2 : 1, "attribute");
    auto key = [&](const Value& x) { return attr.is_undefined() ? x : attribute_path(x, attr.str()); };
    if (name == "unique") {
        Array out;
        for (const auto& x : items)
            if (std::none_of(out.begin(), out.end(), [&](const Value& y) { return equal(key(x), key(y)); }))
                out.push_back(x);
        return Value::list(std::move(out));
    }
    const bool reverse = name == "sort" && args.get(0, "reverse", Value::boolean(false)).truthy();
    std::stable_sort(items.begin(), items.end(), [&](const Value& a, const Value& b) {
        const int c = compare(key(a), key(b));
        return reverse ? c > 0 : c < 0;
    });
    if (name == "sort") return Value::list(std::move(items));
    if (items.empty()) return {};
    return name == "min" ? items.front() : items.back();
}

Value filter_int([[maybe_unused]] const std::string& name, const Value& v, CallArgs& args) {
    args.expect(2, {"default", "base"});
    const Value fallback = args.get(0, "default", Value::integer(0));
    if (v.kind == K::Int) return v;
    if (v.kind == K::Float) return Value::integer(static_cast<std::int64_t>(std::trunc(v.f)));
    if (v.kind == K::Bool) return Value::integer(v.b);
    if (v.is_string()) {
        try {
            std::size_t used = 0;
            const auto t = strip(v.s, {}, true, true);
            const auto x = std::stoll(t, &used);
            if (used == t.size()) return Value::integer(x);
        } catch (const std::exception&) {
        }
    }
    return fallback;
}

Value filter_float([[maybe_unused]] const std::string& name, const Value& v, CallArgs& args) {
    args.expect(1, {"default"});
    if (v.is_number()) return Value::number(v.as_double());
    if (v.kind == K::Bool) return Value::number(v.b);
    if (v.is_string()) {
        try {
            return Value::number(std::stod(v.s));
        } catch (const std::exception&) {
        }
    }
    return args.get(0, "default", Value::number(0));
}

Value filter_abs([[maybe_unused]] const std::string& name, const Value& v, CallArgs& args) {
    args.expect(0);
    if (v.kind == K::Int) return Value::integer(v.i < 0 ? -v.i : v.i);
    if (v.kind == K::Float) return Value::number(std::fabs(v.f));
    fail("abs of a " + std::string(v.type_name()));
}

Value filter_bool([[maybe_unused]] const std::string& name, const Value& v, CallArgs& args) {
    args.expect(0);
    return Value::boolean(v.truthy());
}

Value filter_selectattr([[maybe_unused]] const std::string& name, const Value& v, CallArgs& args) {
    const bool by_attr = name.ends_with("attr");
    const bool keep = name.starts_with("select");
    if (!args.keyword.empty()) fail(name + " takes no keyword arguments");
    std::string attr;
    std::size_t at = 0;
    if (by_attr) {
        if (args.positional.empty() || !args.positional[0].is_string())
            fail(name + " needs an attribute name");
        attr = args.positional[at++].s;
    }
    std::string test;
    if (at < args.positional.size()) {
        if (!args.positional[at].is_string()) fail(name + "'s test must be a name");
        test = args.positional[at++].s;
    }
    const CallArgs targs = test_args(args, at);
    Array out;
    for (const auto& item : iterate(v, name.c_str())) {
        const Value x = by_attr ? attribute_path(item, attr) : item;
        const bool pass = test.empty() ? x.truthy() : apply_test(test, x, targs);
        if (pass == keep) out.push_back(item);
    }
    return Value::list(std::move(out));
}

Value filter_map([[maybe_unused]] const std::string& name, const Value& v, CallArgs& args) {
    Array out;
    const Value attr = args.get(99, "attribute");
    if (!attr.is_undefined()) {
        args.expect(0, {"attribute", "default"});
        const Value fallback = args.get(99, "default");
        for (const auto& item : iterate(v, "map")) {
            Value x = attribute_path(item, attr.str());
            out.push_back(x.is_undefined() ? fallback : x);
        }
        return Value::list(std::move(out));
    }
    if (args.positional.empty() || !args.positional[0].is_string())
        fail("map needs a filter name or attribute=");
    const std::string filter = args.positional[0].s;
    for (const auto& item : iterate(v, "map")) {
        CallArgs rest = test_args(args, 1);
        rest.keyword = args.keyword;
        out.push_back(apply_filter(filter, item, rest));
    }
    return Value::list(std::move(out));
}

using Filter = Value (*)(const std::string& name, const Value& v, CallArgs& args);

const std::map<std::string, Filter>& filters() {
    static const std::map<std::string, Filter> table = {{"safe", filter_safe},
                                                        {"e", filter_safe},
                                                        {"escape", filter_safe},
                                                        {"tojson", filter_tojson},
                                                        {"length", filter_length},
                                                        {"count", filter_length},
                                                        {"string", filter_string},
                                                        {"default", filter_default},
                                                        {"d", filter_default},
                                                        {"trim", filter_trim},
                                                        {"upper", filter_upper},
                                                        {"lower", filter_upper},
                                                        {"title", filter_upper},
                                                        {"capitalize", filter_upper},
                                                        {"replace", filter_replace},
                                                        {"indent", filter_indent},
                                                        {"join", filter_join},
                                                        {"first", filter_first},
                                                        {"last", filter_first},
                                                        {"list", filter_list},
                                                        {"reverse", filter_reverse},
                                                        {"items", filter_items},
                                                        {"dictsort", filter_dictsort},
                                                        {"sort", filter_sort},
                                                        {"min", filter_sort},
                                                        {"max", filter_sort},
                                                        {"unique", filter_sort},
                                                        {"int", filter_int},
                                                        {"float", filter_float},
                                                        {"abs", filter_abs},
                                                        {"bool", filter_bool},
                                                        {"selectattr", filter_selectattr},
                                                        {"rejectattr", filter_selectattr},
                                                        {"select", filter_selectattr},
                                                        {"reject", filter_selectattr},
                                                        {"map", filter_map}};
    return table;
}

}  // namespace

Value apply_filter(const std::string& name, const Value& v, CallArgs& args) {
    args.callee = "the filter '" + name + "'";
    const auto it = filters().find(name);
    if (it == filters().end()) fail("the filter '" + name + "' is not supported");
    return it->second(name, v, args);
}

Value global(const std::string& name) {
    if (name == "namespace")
        return bound("namespace()", [](CallArgs& a) {
            if (a.positional.size() > 1) fail("namespace() takes at most one positional argument");
            Value ns = Value::namespace_object();
            if (!a.positional.empty()) {
                if (!a.positional[0].is_mapping()) fail("namespace() takes a dict");
                ns.object->entries = a.positional[0].object->entries;
            }
            for (const auto& [k, x] : a.keyword) ns.object->set(k, x);
            return ns;
        });
    if (name == "dict")
        return bound("dict()", [](CallArgs& a) {
            if (!a.positional.empty()) fail("dict() takes keyword arguments only");
            Value d = Value::dict();
            for (const auto& [k, x] : a.keyword) d.object->set(k, x);
            return d;
        });
    if (name == "range")
        return bound("range()", [](CallArgs& a) {
            a.expect(3);
            if (a.positional.empty()) fail("range() needs an argument");
            std::int64_t start = 0, stop = 0, step = 1;
            if (a.positional.size() == 1) {
                stop = integer_arg(a.positional[0], "range's stop");
            } else {
                start = integer_arg(a.positional[0], "range's start");
                stop = integer_arg(a.positional[1], "range's stop");
                if (a.positional.size() == 3) step = integer_arg(a.positional[2], "range's step");
            }
            if (step == 0) fail("range() with a step of zero");
            if ((stop - start) / step > 1000000) fail("range() of more than a million items");
            Array out;
            for (std::int64_t k = start; step > 0 ? k < stop : k > stop; k += step)
                out.push_back(Value::integer(k));
            return Value::list(std::move(out));
        });
    if (name == "raise_exception")
        return bound("raise_exception()", [](CallArgs& a) -> Value {
            a.expect(1);
            throw InputError("the chat template refused the conversation: " + a.get(0, "message").str());
        });
    if (name == "strftime_now")
        return bound("strftime_now()", [](CallArgs& a) {
            a.expect(1);
            const Value format = a.get(0, "format");
            if (!format.is_string()) fail("strftime_now() needs a format string");
            const std::time_t now = std::time(nullptr);
            std::tm tm{};
            localtime_r(&now, &tm);
            char buf[256];
            const std::size_t n = std::strftime(buf, sizeof buf, format.s.c_str(), &tm);
            return Value::string(std::string(buf, n));
        });
    return {};
}

}  // namespace ternspec::jinja
