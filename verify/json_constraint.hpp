#pragma once
// Structured output: the output must be one JSON object, any (OpenAI's {"type": "json_object"}) or one a
// schema describes (the subset OpenAI's strict mode allows, plus minItems/maxItems). The constraint reads
// the output byte by byte, so for every vocabulary token it can say whether the token keeps the text a
// prefix of some valid document; verification masks the target's logits to those tokens (the constrained
// distribution), which keeps speculative output equal to constrained plain output. Whitespace outside
// strings is bounded (kMaxWhitespace in a run), so the document always comes to an end. The decode ends
// when the top-level object closes.
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

namespace ternspec {

class Tokenizer;

// A schema in the supported subset, compiled. Any keyword outside it is an InputError naming it (never
// ignored): type (object, array, string, number, integer, boolean, null, or a list of them), properties,
// required, additionalProperties (false; true only where no properties are given), items, minItems,
// maxItems, enum (of strings, numbers, booleans, null), const, description and title (annotations).
class JsonSchema {
  public:
    static std::shared_ptr<const JsonSchema> any_object();
    // The root must describe an object. `where` names the field in errors ("response_format.json_schema").
    // `prefix` and `suffix`: exact text around the document (a tool call's "<tool_call>\n" ...
    // "\n</tool_call>").
    static std::shared_ptr<const JsonSchema> compile(const nlohmann::json& schema, const std::string& where,
                                                     std::string prefix = {}, std::string suffix = {});
    // The same from a schema's JSON text (an InputError naming `where` when it is not JSON).
    static std::shared_ptr<const JsonSchema> compile_text(const std::string& text, const std::string& where);
    const std::string& prefix() const { return prefix_; }
    const std::string& suffix() const { return suffix_; }

    struct Node {
        unsigned types = 0;                                   // bit per Type
        bool any = false;                                     // any JSON value (json_object's members)
        std::vector<std::pair<std::string, int>> properties;  // name -> node
        std::vector<std::string> required;
        bool additional = false;  // members beyond `properties` allowed (then any value)
        int items = -1;           // node of array items; -1: any value
        int min_items = 0, max_items = -1;
        std::vector<std::string> enum_texts;  // compact JSON text of each allowed value; empty: no enum
    };
    enum Type : unsigned {
        Object = 1,
        Array = 2,
        String = 4,
        Number = 8,
        Integer = 16,
        Boolean = 32,
        Null = 64
    };
    const Node& node(int i) const { return nodes_[static_cast<std::size_t>(i)]; }
    int any_node() const { return any_; }

  private:
    int add(const nlohmann::json& s, const std::string& where);
    std::vector<Node> nodes_;
    int any_ = -1;
    std::string prefix_, suffix_;
};

// The state of a document being written: copyable (a draft path is tried on a copy).
class JsonConstraint {
  public:
    static constexpr int kMaxWhitespace = 16;
    explicit JsonConstraint(std::shared_ptr<const JsonSchema> schema);
    // Feeds bytes; false (and the state unspecified) when they cannot continue a valid document.
    bool feed(std::string_view bytes);
    bool complete() const { return complete_; }  // the top-level object (and the suffix) has closed
    // Inside a free string value (no escape pending): any bytes but '"', '\\' and controls keep it one.
    bool in_plain_string() const {
        return !stack_.empty() && stack_.back().kind == Frame::String && !stack_.back().escape &&
               stack_.back().unicode == 0;
    }

  private:
    struct Frame {
        enum Kind { Value, Object, Array, String, Key, Number, Literal };
        explicit Frame(Kind k, int n = -1) : kind(k), node(n) {}
        Kind kind;
        int node;  // schema node (not for Key)
        // Object: 0 a key or '}', 1 ':', 2 ',' or '}', 3 a key, 4 a member's value being read.
        // Array: 0 an item or ']', 1 ',' or ']', 2 an item, 3 an item being read.
        int phase = 0;
        int count = 0;                     // Array: items so far
        std::vector<int> seen;             // Object: properties given (indices into the node's)
        int key_node = -1;                 // Object: the schema of the member whose value comes next
        std::string text;                  // Key, Literal: the bytes so far
        std::vector<std::string> options;  // Literal: the texts it may still become (enum, true, null...)
        bool escape = false;               // String, Key: after a backslash
        int unicode = 0;                   // String, Key: hex digits of \uXXXX still to come
        int num_state = 0;                 // Number: see feed_number
        bool int_only = false;             // Number: an integer (no fraction, no exponent)
    };
    bool feed_byte(unsigned char c);
    bool start_value(int node, unsigned char c);
    bool value_done();  // the top frame's value ended: pop and tell the parent
    bool feed_number(Frame& f, unsigned char c, bool& consumed);
    std::shared_ptr<const JsonSchema> schema_;
    std::vector<Frame> stack_;
    int whitespace_ = 0;
    std::size_t prefix_at_ = 0, suffix_at_ = 0;  // bytes of the schema's prefix and suffix written
    bool document_done_ = false;                 // the object closed (the suffix may follow)
    bool complete_ = false;
};

// The tokens that keep a document valid, per state: what verification masks the target's rows with. The
// vocabulary is held as a byte trie, so a state is fed each distinct token prefix once and a prefix the
// document rejects rules out every token below it at once; inside a free string the trie's all-plain subtrees
// are accepted without simulation (a plain byte leaves the state as it was).
class JsonTokenMask {
  public:
    JsonTokenMask(const Tokenizer& tokenizer, int vocab);
    // Sets row[t] to -infinity for every token t that cannot follow `state`.
    void apply(const JsonConstraint& state, float* row) const;
    // Whether `token` can follow `state`; `next` gets the state after it.
    bool allows(const JsonConstraint& state, std::int32_t token, JsonConstraint* next = nullptr) const;

  private:
    struct TrieNode {
        unsigned char byte;
        bool plain;               // every byte below this node, in every token of its subtree, is plain text
        std::int32_t depth;       // 1 for the root's children
        std::int32_t end;         // the first node after this subtree (preorder)
        std::int32_t first, mid;  // sorted tokens: [first, mid) end here, [first, last) lie below
        std::int32_t last;
    };
    std::vector<std::string> bytes_;    // per token; empty: never allowed (control tokens, padding)
    std::vector<std::int32_t> sorted_;  // the allowed-able tokens by their bytes
    std::vector<TrieNode> trie_;        // preorder, without the root
    int max_len_ = 0;                   // the longest token's bytes
};
}  // namespace ternspec
