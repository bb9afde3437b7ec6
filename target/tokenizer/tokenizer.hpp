#pragma once
// Byte-level BPE as Qwen2/Qwen3 use it: added tokens matched first, NFC, a Split regex, GPT-2's byte to
// character map, merges by rank. Loads from a Hugging Face tokenizer.json or a GGUF's tokenizer.ggml.*.
#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "target/tokenizer/regex_splitter.hpp"

namespace ternspec {

class GgufFile;
class GgufWriter;

class Tokenizer {
  public:
    static Tokenizer from_json_file(const std::string& path);
    static Tokenizer from_json_text(const std::string& text, const std::string& what);
    static Tokenizer from_gguf(const GgufFile& gguf);

    // parse_special: added tokens in the text become their ids (as HF does by default).
    std::vector<std::int32_t> encode(std::string_view text, bool parse_special = true) const;
    // As encode(text), except that a control (special) token whose text starts inside one of the `literal`
    // byte ranges [begin, end) is encoded as ordinary text: chat message content cannot forge a turn.
    // Other added tokens are matched everywhere, as Hugging Face does. Ranges are sorted and disjoint.
    std::vector<std::int32_t> encode_with_literal(
        std::string_view text, const std::vector<std::pair<std::size_t, std::size_t>>& literal) const;
    // The text of every control token ("<|im_end|>", ...).
    std::vector<std::string> control_texts() const;
    // Raw bytes of the tokens joined; may end inside a UTF-8 sequence.
    std::string decode_bytes(const std::vector<std::int32_t>& ids) const;
    std::string decode(const std::vector<std::int32_t>& ids) const;  // invalid UTF-8 becomes U+FFFD
    const std::string& piece(std::int32_t id) const;                 // the vocabulary string
    std::string token_bytes(std::int32_t id) const;                  // "" for padded ids past the table

    std::int32_t vocab_size() const { return static_cast<std::int32_t>(pieces_.size()); }
    std::optional<std::int32_t> token_id(const std::string& piece) const;
    std::optional<std::int32_t> eos_id() const { return eos_; }
    std::size_t n_merges() const { return merges_.size(); }
    // A lower bound on the tokens of any text of `bytes` bytes, so that a prompt that cannot fit a context
    // is refused before it is tokenized. NFC can shrink text up to 3x (Hangul L+V+T jamo to one syllable),
    // and no token stands for more bytes than its vocabulary string.
    std::size_t min_tokens(std::size_t bytes) const { return bytes / (3 * max_token_bytes_); }
    std::size_t n_added() const { return added_.size(); }
    const std::string& pre_pattern() const { return splitter_->pattern(); }
    void set_eos(std::int32_t id) { eos_ = id; }
    // Further ids that end generation (generation_config.json may list several); eos_id() is one too.
    void add_end_id(std::int32_t id) { end_ids_.push_back(id); }
    bool is_end(std::int32_t id) const {
        return (eos_ && id == *eos_) || std::find(end_ids_.begin(), end_ids_.end(), id) != end_ids_.end();
    }
    const std::vector<std::int32_t>& extra_end_ids() const { return end_ids_; }
    // tokenizer.ggml.* keys (gpt2 model, qwen2 pre-tokenizer when the regex is Qwen2's), the token list
    // padded to the embedding's rows.
    void write_gguf_metadata(GgufWriter& w, std::size_t embedding_rows) const;

  private:
    Tokenizer() = default;
    void finish(const std::string& what);
    void add_merge(const std::string& a, const std::string& b, const std::string& what);
    std::vector<std::int32_t> merge_bytes(std::string_view piece) const;
    void encode_piece(std::string_view piece, std::vector<std::int32_t>& out) const;
    void encode_plain(std::string_view text, std::vector<std::int32_t>& out) const;

    struct Added {
        std::string content;
        std::int32_t id;
        bool special;
    };
    std::vector<std::string> pieces_;
    std::unordered_map<std::string, std::int32_t> ids_;
    std::unordered_map<std::uint64_t, std::pair<std::int32_t, std::int32_t>>
        merges_;                                                     // (a,b) -> (rank, merged)
    std::vector<std::pair<std::int32_t, std::int32_t>> merge_list_;  // in rank order
    std::vector<Added> added_;
    std::vector<std::vector<std::size_t>> added_by_first_byte_;
    std::vector<std::int32_t> added_index_;  // id -> index into added_, -1 for ordinary tokens
    std::int32_t byte_token_[256]{};
    std::shared_ptr<RegexSplitter> splitter_;
    bool nfc_ = true;
    std::optional<std::int32_t> eos_;
    std::vector<std::int32_t> end_ids_;
    std::size_t max_token_bytes_ = 1;

    // Pre-token -> ids cache; code repeats its words a great deal. Looked up by string_view (no allocation).
    // Copies share it on purpose: a pre-token's ids depend only on the vocabulary and merges, which no
    // member changes after construction (set_eos does not touch them); the shared mutex makes it safe.
    struct ViewHash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
    };
    using PieceCache = std::unordered_map<std::string, std::vector<std::int32_t>, ViewHash, std::equal_to<>>;
    mutable std::shared_ptr<std::shared_mutex> cache_mutex_ = std::make_shared<std::shared_mutex>();
    mutable std::shared_ptr<PieceCache> cache_ = std::make_shared<PieceCache>();
};

// Turns a stream of token ids into text, holding back bytes of a UTF-8 sequence until it is complete.
class StreamDecoder {
  public:
    explicit StreamDecoder(const Tokenizer& tok) : tok_(tok) {}
    std::string push(std::int32_t id);
    std::string flush();  // whatever is held back, invalid bytes replaced

  private:
    const Tokenizer& tok_;
    std::string pending_;
};

}  // namespace ternspec
