#include "verify/json_constraint.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "target/tokenizer/tokenizer.hpp"
#include "ternspec/error.hpp"

namespace ternspec {
namespace {

constexpr unsigned kAllTypes = JsonSchema::Object | JsonSchema::Array | JsonSchema::String |
                               JsonSchema::Number | JsonSchema::Integer | JsonSchema::Boolean |
                               JsonSchema::Null;

bool is_ws(unsigned char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}
bool is_digit(unsigned char c) {
    return c >= '0' && c <= '9';
}
bool is_hex(unsigned char c) {
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

unsigned type_bit(const std::string& t, const std::string& where) {
    if (t == "object") return JsonSchema::Object;
    if (t == "array") return JsonSchema::Array;
    if (t == "string") return JsonSchema::String;
    if (t == "number") return JsonSchema::Number;
    if (t == "integer") return JsonSchema::Integer;
    if (t == "boolean") return JsonSchema::Boolean;
    if (t == "null") return JsonSchema::Null;
    throw InputError(where + ".type: '" + t + "' is not a JSON schema type");
}

}  // namespace

std::shared_ptr<const JsonSchema> JsonSchema::any_object() {
    auto s = std::make_shared<JsonSchema>();
    Node any;
    any.types = kAllTypes;
    any.any = true;
    s->nodes_.push_back(any);
    s->any_ = 0;
    Node root;
    root.types = Object;
    root.additional = true;
    s->nodes_.push_back(root);
    return s;
}

std::shared_ptr<const JsonSchema> JsonSchema::compile(const nlohmann::json& schema, const std::string& where,
                                                      std::string prefix, std::string suffix) {
    auto s = std::make_shared<JsonSchema>();
    s->prefix_ = std::move(prefix);
    s->suffix_ = std::move(suffix);
    Node any;
    any.types = kAllTypes;
    any.any = true;
    s->nodes_.push_back(any);
    s->any_ = 0;
    const int root = s->add(schema, where);
    if (s->node(root).types != Object || !s->node(root).enum_texts.empty())
        throw InputError(where + ": the root must be an object schema (\"type\": \"object\")");
    // The root is the last node added; move it to where the constraint looks for it (index 1).
    if (root != 1) throw Error("JsonSchema::compile: the root is not node 1");
    return s;
}

std::shared_ptr<const JsonSchema> JsonSchema::compile_text(const std::string& text,
                                                           const std::string& where) {
    const auto schema = nlohmann::json::parse(text, nullptr, false);
    if (schema.is_discarded()) throw InputError(where + " is not valid JSON");
    return compile(schema, where);
}

int JsonSchema::add(const nlohmann::json& s, const std::string& where) {
    if (!s.is_object()) throw InputError(where + " must be a JSON schema object");
    const int index = static_cast<int>(nodes_.size());
    nodes_.emplace_back();
    Node n;
    static const std::set<std::string> known = {"type",  "properties",  "required", "additionalProperties",
                                                "items", "minItems",    "maxItems", "enum",
                                                "const", "description", "title"};
    for (const auto& [key, value] : s.items())
        if (!known.count(key))
            throw InputError(where + ": the keyword '" + key +
                             "' is not enforced by this server (supported: type, properties, required, "
                             "additionalProperties, items, minItems, maxItems, enum, const)");
    if (s.contains("type")) {
        const auto& t = s["type"];
        if (t.is_string()) {
            n.types = type_bit(t.get<std::string>(), where);
        } else if (t.is_array() && !t.empty()) {
            for (const auto& x : t) {
                if (!x.is_string()) throw InputError(where + ".type: a list of type names is expected");
                n.types |= type_bit(x.get<std::string>(), where);
            }
        } else {
            throw InputError(where + ".type must be a type name or a list of them");
        }
    }
    auto enum_of = [&](const nlohmann::json& values, const std::string& field) {
        for (const auto& v : values) {
            if (v.is_object() || v.is_array())
                throw InputError(where + "." + field +
                                 ": only strings, numbers, booleans and null are supported");
            n.enum_texts.push_back(v.dump());
        }
    };
    if (s.contains("enum")) {
        if (!s["enum"].is_array() || s["enum"].empty())
            throw InputError(where + ".enum must be a non-empty list");
        enum_of(s["enum"], "enum");
    }
    if (s.contains("const")) enum_of(nlohmann::json::array({s["const"]}), "const");
    if (!n.enum_texts.empty() && n.types == 0) n.types = kAllTypes;
    if (n.types == 0) throw InputError(where + ": a schema needs a \"type\" (or enum/const)");
    const bool object = n.types & Object, array = n.types & Array;
    if (!object && (s.contains("properties") || s.contains("required") || s.contains("additionalProperties")))
        throw InputError(where + ": properties, required and additionalProperties need \"type\": \"object\"");
    if (!array && (s.contains("items") || s.contains("minItems") || s.contains("maxItems")))
        throw InputError(where + ": items, minItems and maxItems need \"type\": \"array\"");
    if (object) {
        if (s.contains("properties")) {
            if (!s["properties"].is_object()) throw InputError(where + ".properties must be an object");
            for (const auto& [name, sub] : s["properties"].items()) {
                const int child = add(sub, where + ".properties." + name);
                n.properties.emplace_back(name, child);
            }
        }
        if (s.contains("required")) {
            if (!s["required"].is_array()) throw InputError(where + ".required must be a list of names");
            for (const auto& r : s["required"]) {
                if (!r.is_string()) throw InputError(where + ".required must be a list of names");
                const auto name = r.get<std::string>();
                if (std::none_of(n.properties.begin(), n.properties.end(),
                                 [&](const auto& p) { return p.first == name; }))
                    throw InputError(where + ".required names '" + name +
                                     "', which is not among its properties");
                n.required.push_back(name);
            }
        }
        // Members beyond the properties: allowed only where none are listed (an open object); with
        // properties, additionalProperties must be false (strict mode's rule), since anything else
        // would leave the members' values unconstrained.
        if (s.contains("additionalProperties")) {
            const auto& a = s["additionalProperties"];
            if (!a.is_boolean())
                throw InputError(where + ".additionalProperties: only true or false are supported");
            if (a.get<bool>() && !n.properties.empty())
                throw InputError(where +
                                 ".additionalProperties: true with properties is not supported (use false)");
            n.additional = a.get<bool>();
        } else {
            n.additional = n.properties.empty();
        }
    }
    if (array) {
        if (s.contains("items")) n.items = add(s["items"], where + ".items");
        auto count = [&](const char* field, int fallback) {
            if (!s.contains(field)) return fallback;
            const auto& v = s[field];
            if (!v.is_number_integer() || v.get<long long>() < 0 || v.get<long long>() > 1000000)
                throw InputError(where + "." + field + " must be an integer from 0 to 1000000");
            return static_cast<int>(v.get<long long>());
        };
        n.min_items = count("minItems", 0);
        n.max_items = count("maxItems", -1);
        if (n.max_items >= 0 && n.max_items < n.min_items)
            throw InputError(where + ": maxItems is below minItems");
    }
    nodes_[static_cast<std::size_t>(index)] = std::move(n);
    return index;
}

JsonConstraint::JsonConstraint(std::shared_ptr<const JsonSchema> schema) : schema_(std::move(schema)) {
    stack_.emplace_back(Frame::Value, 1);
}

bool JsonConstraint::feed(std::string_view bytes) {
    for (const char c : bytes)
        if (!feed_byte(static_cast<unsigned char>(c))) return false;
    return true;
}

bool JsonConstraint::start_value(int node, unsigned char c) {
    const auto& n = schema_->node(node);
    Frame& f = stack_.back();
    f.node = node;
    if (!n.enum_texts.empty()) {
        f.kind = Frame::Literal;
        f.options.clear();
        for (const auto& t : n.enum_texts)
            if (!t.empty() && static_cast<unsigned char>(t[0]) == c) f.options.push_back(t);
        f.text = std::string(1, static_cast<char>(c));
        return !f.options.empty();
    }
    const unsigned t = n.types;
    switch (c) {
        case '{':
            if (!(t & JsonSchema::Object)) return false;
            f.kind = Frame::Object;
            f.phase = 0;
            return true;
        case '[':
            if (!(t & JsonSchema::Array)) return false;
            f.kind = Frame::Array;
            f.phase = 0;
            return true;
        case '"':
            if (!(t & JsonSchema::String)) return false;
            f.kind = Frame::String;
            return true;
        case 't':
        case 'f':
        case 'n':
            if (!(t & (c == 'n' ? JsonSchema::Null : JsonSchema::Boolean))) return false;
            f.kind = Frame::Literal;
            f.options = {c == 't' ? "true" : c == 'f' ? "false" : "null"};
            f.text = std::string(1, static_cast<char>(c));
            return true;
        default:
            if (!(c == '-' || is_digit(c)) || !(t & (JsonSchema::Number | JsonSchema::Integer))) return false;
            f.kind = Frame::Number;
            f.num_state = 0;
            f.int_only = !(t & JsonSchema::Number);
            bool consumed = false;
            return feed_number(f, c, consumed) && consumed;
    }
}

// JSON's number grammar: 0 start, 1 after '-', 2 integer digits, 3 after a leading 0, 4 after '.', 5 fraction
// digits, 6 after 'e', 7 after the exponent's sign, 8 exponent digits. A byte that cannot extend the number
// ends it in states 2, 3, 5 and 8 (consumed stays false: the byte belongs to what follows).
bool JsonConstraint::feed_number(Frame& f, unsigned char c, bool& consumed) {
    consumed = true;
    const bool digit = is_digit(c);
    switch (f.num_state) {
        case 0:
            if (c == '-') return f.num_state = 1, true;
            [[fallthrough]];
        case 1:
            if (c == '0') return f.num_state = 3, true;
            if (digit) return f.num_state = 2, true;
            return false;
        case 2:
            if (digit) return true;
            [[fallthrough]];
        case 3:
            if (c == '.' && !f.int_only) return f.num_state = 4, true;
            if ((c == 'e' || c == 'E') && !f.int_only) return f.num_state = 6, true;
            consumed = false;
            return true;
        case 4:
            if (digit) return f.num_state = 5, true;
            return false;
        case 5:
            if (digit) return true;
            if (c == 'e' || c == 'E') return f.num_state = 6, true;
            consumed = false;
            return true;
        case 6:
            if (c == '+' || c == '-') return f.num_state = 7, true;
            [[fallthrough]];
        case 7:
            if (digit) return f.num_state = 8, true;
            return false;
        case 8:
            if (digit) return true;
            consumed = false;
            return true;
    }
    return false;
}

bool JsonConstraint::value_done() {
    stack_.pop_back();
    if (stack_.empty()) {
        document_done_ = true;
        complete_ = schema_->suffix().empty();
        whitespace_ = 0;
        return true;
    }
    Frame& p = stack_.back();
    if (p.kind == Frame::Object) {
        p.phase = 2;
    } else if (p.kind == Frame::Array) {
        ++p.count;
        p.phase = 1;
    }
    return true;
}

bool JsonConstraint::feed_byte(unsigned char c) {
    if (complete_) return is_ws(c) && ++whitespace_ <= kMaxWhitespace;
    const std::string& prefix = schema_->prefix();
    if (prefix_at_ < prefix.size()) return static_cast<unsigned char>(prefix[prefix_at_++]) == c;
    if (document_done_) {
        // Between the object and its suffix only the suffix's own bytes (and a bounded run of whitespace
        // before it starts).
        const std::string& suffix = schema_->suffix();
        if (suffix_at_ == 0 && static_cast<unsigned char>(suffix[0]) != c)
            return is_ws(c) && ++whitespace_ <= kMaxWhitespace;
        if (static_cast<unsigned char>(suffix[suffix_at_]) != c) return false;
        complete_ = ++suffix_at_ == suffix.size();
        whitespace_ = 0;
        return true;
    }
    Frame& f = stack_.back();
    const bool in_text = f.kind == Frame::String || f.kind == Frame::Key;
    if (!in_text && f.kind != Frame::Number && f.kind != Frame::Literal) {
        if (is_ws(c)) return ++whitespace_ <= kMaxWhitespace;
        whitespace_ = 0;
    }
    switch (f.kind) {
        case Frame::Value:
            return start_value(f.node, c);
        case Frame::String:
        case Frame::Key: {
            if (f.unicode > 0) {
                if (!is_hex(c)) return false;
                --f.unicode;
                f.text += static_cast<char>(c);
                return true;
            }
            if (f.escape) {
                f.escape = false;
                if (c == 'u') {
                    f.unicode = 4;
                } else if (std::string_view("\"\\/bfnrt").find(static_cast<char>(c)) ==
                           std::string_view::npos) {
                    return false;
                }
                f.text += static_cast<char>(c);
                return true;
            }
            if (c < 0x20) return false;
            // The keys of an object with listed properties are matched as written: no escapes there.
            if (c == '\\' && f.kind == Frame::Key) {
                const auto& owner = schema_->node(stack_[stack_.size() - 2].node);
                if (!owner.any && !owner.additional) return false;
            }
            if (c == '\\') {
                f.escape = true;
                f.text += '\\';
                return true;
            }
            if (f.kind == Frame::String) {
                if (c == '"') return value_done();
                return true;  // the text of a plain string is not kept
            }
            // A key: of an object with listed properties and no others, it must stay a prefix of one not
            // given.
            Frame& obj = stack_[stack_.size() - 2];
            const auto& n = schema_->node(obj.node);
            const bool open = n.any || n.additional;
            if (c == '"') {
                int match = -1;
                for (std::size_t i = 0; i < n.properties.size(); ++i)
                    if (n.properties[i].first == f.text &&
                        std::find(obj.seen.begin(), obj.seen.end(), static_cast<int>(i)) == obj.seen.end())
                        match = static_cast<int>(i);
                if (match < 0 && !open) return false;
                if (match >= 0) obj.seen.push_back(match);
                obj.key_node =
                    match >= 0 ? n.properties[static_cast<std::size_t>(match)].second : schema_->any_node();
                obj.phase = 1;
                stack_.pop_back();
                return true;
            }
            f.text += static_cast<char>(c);
            if (open) return true;
            for (std::size_t i = 0; i < n.properties.size(); ++i)
                if (n.properties[i].first.compare(0, f.text.size(), f.text) == 0 &&
                    std::find(obj.seen.begin(), obj.seen.end(), static_cast<int>(i)) == obj.seen.end())
                    return true;
            return false;
        }
        case Frame::Object: {
            const auto& n = schema_->node(f.node);
            auto all_required = [&] {
                return std::all_of(n.required.begin(), n.required.end(), [&](const std::string& name) {
                    for (int i : f.seen)
                        if (n.properties[static_cast<std::size_t>(i)].first == name) return true;
                    return false;
                });
            };
            auto key_left = [&] { return n.any || n.additional || f.seen.size() < n.properties.size(); };
            switch (f.phase) {
                case 0:
                case 3:
                    if (c == '"' && key_left()) {
                        stack_.emplace_back(Frame::Key);
                        return true;
                    }
                    if (c == '}' && f.phase == 0 && all_required()) return value_done();
                    return false;
                case 1:
                    if (c != ':') return false;
                    f.phase = 4;  // the member's value comes
                    stack_.emplace_back(Frame::Value, f.key_node);
                    return true;
                case 2:
                    if (c == ',' && key_left()) return f.phase = 3, true;
                    if (c == '}' && all_required()) return value_done();
                    return false;
            }
            return false;
        }
        case Frame::Array: {
            const auto& n = schema_->node(f.node);
            const int item = n.any || n.items < 0 ? schema_->any_node() : n.items;
            switch (f.phase) {
                case 0:
                    if (c == ']') return n.min_items == 0 ? value_done() : false;
                    [[fallthrough]];
                case 2: {
                    if (n.max_items >= 0 && f.count >= n.max_items) return false;
                    f.phase = 3;  // an item is being read
                    stack_.emplace_back(Frame::Value, item);
                    return feed_byte(c);
                }
                case 1:
                    if (c == ',') return f.phase = 2, true;
                    if (c == ']' && f.count >= n.min_items) return value_done();
                    return false;
            }
            return false;
        }
        case Frame::Number: {
            bool consumed = false;
            if (!feed_number(f, c, consumed)) return false;
            if (consumed) return true;
            value_done();
            return feed_byte(c);  // the byte after the number belongs to the parent
        }
        case Frame::Literal: {
            const std::string next = f.text + static_cast<char>(c);
            const bool extends = std::any_of(f.options.begin(), f.options.end(), [&](const std::string& o) {
                return o.compare(0, next.size(), next) == 0;
            });
            if (extends) {
                f.text = next;
                return true;
            }
            if (std::find(f.options.begin(), f.options.end(), f.text) == f.options.end()) return false;
            value_done();
            return feed_byte(c);
        }
    }
    return false;
}

namespace {

// A byte that leaves a free string's state as it was.
bool plain_byte(unsigned char c) {
    return c >= 0x20 && c != '"' && c != '\\';
}

}  // namespace

JsonTokenMask::JsonTokenMask(const Tokenizer& tokenizer, int vocab)
    : bytes_(static_cast<std::size_t>(vocab)) {
    std::set<std::int32_t> control;
    for (const auto& text : tokenizer.control_texts())
        if (const auto id = tokenizer.token_id(text)) control.insert(*id);
    for (int t = 0; t < vocab && t < tokenizer.vocab_size(); ++t)
        if (!control.count(t) && !tokenizer.is_end(t)) {
            bytes_[static_cast<std::size_t>(t)] = tokenizer.token_bytes(t);
            if (!bytes_[static_cast<std::size_t>(t)].empty()) sorted_.push_back(t);
        }
    std::sort(sorted_.begin(), sorted_.end(), [&](std::int32_t a, std::int32_t b) {
        const auto &x = bytes_[static_cast<std::size_t>(a)], &y = bytes_[static_cast<std::size_t>(b)];
        return x != y ? x < y : a < b;
    });
    // The trie in preorder: a node per distinct prefix; sorted tokens sharing a prefix are contiguous.
    std::vector<std::int32_t> open;  // nodes on the path to the current token, by depth - 1
    auto tok = [&](std::size_t i) -> const std::string& {
        return bytes_[static_cast<std::size_t>(sorted_[i])];
    };
    auto close = [&](std::size_t keep, std::int32_t at) {
        while (open.size() > keep) {
            trie_[static_cast<std::size_t>(open.back())].end = static_cast<std::int32_t>(trie_.size());
            trie_[static_cast<std::size_t>(open.back())].last = at;
            open.pop_back();
        }
    };
    for (std::size_t i = 0; i < sorted_.size(); ++i) {
        const std::string& b = tok(i);
        std::size_t common = 0;
        if (i > 0) {
            const std::string& a = tok(i - 1);
            while (common < a.size() && common < b.size() && a[common] == b[common]) ++common;
        }
        close(std::min(common, open.size()), static_cast<std::int32_t>(i));
        max_len_ = std::max(max_len_, static_cast<int>(b.size()));
        for (std::size_t d = open.size(); d < b.size(); ++d) {
            open.push_back(static_cast<std::int32_t>(trie_.size()));
            trie_.push_back(TrieNode{static_cast<unsigned char>(b[d]), true, static_cast<std::int32_t>(d + 1),
                                     0, static_cast<std::int32_t>(i), static_cast<std::int32_t>(i), 0});
        }
        // This token ends at the deepest open node: it extends [first, mid) there (equal texts share a node).
        ++trie_[static_cast<std::size_t>(open.back())].mid;
        // Its bytes below each open node must all be plain for that node to stay plain.
        bool below_plain = true;
        for (std::size_t d = b.size(); d-- > 0;) {
            trie_[static_cast<std::size_t>(open[d])].plain &= below_plain;
            below_plain &= plain_byte(static_cast<unsigned char>(b[d]));
        }
    }
    close(0, static_cast<std::int32_t>(sorted_.size()));
}
bool JsonTokenMask::allows(const JsonConstraint& state, std::int32_t token, JsonConstraint* next) const {
    if (token < 0 || static_cast<std::size_t>(token) >= bytes_.size()) return false;
    const auto& b = bytes_[static_cast<std::size_t>(token)];
    if (b.empty()) return false;
    JsonConstraint s = state;
    if (!s.feed(b)) return false;
    if (next) *next = std::move(s);
    return true;
}

void JsonTokenMask::apply(const JsonConstraint& state, float* row) const {
    std::vector<unsigned char> ok(bytes_.size(), 0);
    auto accept = [&](std::int32_t from, std::int32_t to) {
        for (std::int32_t k = from; k < to; ++k)
            ok[static_cast<std::size_t>(sorted_[static_cast<std::size_t>(k)])] = 1;
    };
    // at[d]: the state after the first d bytes of the current prefix; a plain byte inside a free string
    // reuses its parent's state instead of copying it.
    std::vector<JsonConstraint> slots(static_cast<std::size_t>(max_len_) + 1, state);  // never resized
    std::vector<const JsonConstraint*> at(1, &state);
    std::size_t i = 0;
    while (i < trie_.size()) {
        const TrieNode& n = trie_[i];
        const auto d = static_cast<std::size_t>(n.depth);
        at.resize(d + 1);
        const JsonConstraint* parent = at[d - 1];
        if (parent->in_plain_string() && plain_byte(n.byte)) {
            at[d] = parent;
            if (n.plain) {  // nothing below can leave the string: every token here is fine
                accept(n.first, n.last);
                i = static_cast<std::size_t>(n.end);
                continue;
            }
        } else {
            slots[d] = *parent;
            const char c = static_cast<char>(n.byte);
            if (!slots[d].feed(std::string_view(&c, 1))) {
                i = static_cast<std::size_t>(n.end);  // no token below continues the document
                continue;
            }
            at[d] = &slots[d];
        }
        accept(n.first, n.mid);
        ++i;
    }
    for (std::size_t t = 0; t < bytes_.size(); ++t)
        if (!ok[t]) row[t] = -std::numeric_limits<float>::infinity();
}

}  // namespace ternspec
