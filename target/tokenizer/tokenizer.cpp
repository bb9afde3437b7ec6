#include "target/tokenizer/tokenizer.hpp"

#include <utf8proc.h>

#include <algorithm>
#include <mutex>
#include <nlohmann/json.hpp>
#include <queue>

#include "target/formats/gguf.hpp"
#include "target/io/file_errors.hpp"
#include "target/io/json_fields.hpp"
#include "target/io/mapped_file.hpp"
#include "ternspec/error.hpp"
#include "text/utf8.hpp"

namespace ternspec {
namespace {

// Far above any published vocabulary (Qwen3 151,669; Gemma 3 262,144), and it bounds what a hostile
// token list can make the tokenizer allocate.
constexpr std::size_t kMaxVocabulary = std::size_t{1} << 21;

// GPT-2's reversible map from bytes to printable code points.
struct ByteMap {
    char32_t to_cp[256];
    std::unordered_map<char32_t, std::uint8_t> to_byte;
    ByteMap() {
        int extra = 0;
        for (int b = 0; b < 256; ++b) {
            const bool keep = (b >= '!' && b <= '~') || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
            to_cp[b] = keep ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + extra++);
            to_byte[to_cp[b]] = static_cast<std::uint8_t>(b);
        }
    }
};
const ByteMap& byte_map() {
    static const ByteMap m;
    return m;
}

std::string byte_string(std::uint8_t b) {
    return utf8_encode(byte_map().to_cp[b]);
}

std::uint64_t pair_key(std::int32_t a, std::int32_t b) {
    return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(a)) << 32) | static_cast<std::uint32_t>(b);
}

std::string nfc(std::string_view s) {
    // ASCII is already in NFC; most code is ASCII.
    if (std::all_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; }))
        return std::string(s);
    utf8proc_uint8_t* out = nullptr;
    const auto n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data()),
                                static_cast<utf8proc_ssize_t>(s.size()), &out,
                                static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
    if (n < 0) return utf8_sanitize(s);  // invalid UTF-8: leave the bytes to the byte-level stage
    std::string r(reinterpret_cast<char*>(out), static_cast<std::size_t>(n));
    std::free(out);
    return r;
}

// GGUF's tokenizer.ggml.token_type values (llama.cpp's llama_token_type).
enum GgufTokenType : std::int32_t { kNormal = 1, kControl = 3, kUserDefined = 4, kUnused = 5 };

// Normalizer: NFC, none, or a Sequence holding NFC. Returns whether NFC applies.
bool json_normalizer_nfc(const nlohmann::json& j, const std::string& what) {
    if (!j.contains("normalizer") || j["normalizer"].is_null()) return false;
    const auto& n = j["normalizer"];
    const auto type = n.value("type", std::string());
    if (type == "NFC") return true;
    if (type != "Sequence") throw FormatError(what + ": unsupported normalizer " + type);
    for (const auto& s : n.at("normalizers"))
        if (s.value("type", std::string()) != "NFC")
            throw FormatError(what + ": unsupported normalizer " + s.value("type", std::string()));
    return !n.at("normalizers").empty();
}

// Pre-tokenizer: Sequence[Split(Regex), ByteLevel(use_regex=false)] or ByteLevel(use_regex=true). Returns
// the split regex.
std::string json_pre_tokenizer_pattern(const nlohmann::json& j, const std::string& what) {
    std::string pattern;
    const auto& pre = j.at("pre_tokenizer");
    auto take = [&](const nlohmann::json& p) {
        const auto type = p.value("type", std::string());
        if (type == "Split") {
            const auto& pat = p.at("pattern");
            if (!pat.contains("Regex"))
                throw FormatError(what + ": Split pre-tokenizer without a Regex pattern");
            pattern = pat["Regex"].get<std::string>();
            const auto behavior = p.value("behavior", std::string("Isolated"));
            if (behavior != "Isolated" || p.value("invert", false))
                throw FormatError(what + ": Split behaviour " + behavior +
                                  " is not supported (only Isolated)");
        } else if (type == "ByteLevel") {
            if (p.value("use_regex", true) && pattern.empty()) pattern = kGpt2Pattern;
            if (p.value("add_prefix_space", false))
                throw FormatError(what + ": ByteLevel add_prefix_space is not supported");
        } else {
            throw FormatError(what + ": unsupported pre-tokenizer " + type);
        }
    };
    if (pre.value("type", std::string()) == "Sequence")
        for (const auto& p : pre.at("pretokenizers")) take(p);
    else
        take(pre);
    if (pattern.empty()) throw FormatError(what + ": no pre-tokenizer regex");
    return pattern;
}

std::pair<std::string, std::string> split_merge(const std::string& m, const std::string& what) {
    const auto sp = m.find(' ');
    if (sp == std::string::npos || sp == 0 || sp + 1 >= m.size())
        throw FormatError(what + ": merge \"" + m + "\" is not two tokens separated by a space");
    return {m.substr(0, sp), m.substr(sp + 1)};
}

}  // namespace

Tokenizer Tokenizer::from_json_file(const std::string& path) {
    return naming_file(path, [&] {
        MappedFile f(path);
        const auto b = f.bytes();
        return from_json_text(std::string(reinterpret_cast<const char*>(b.data()), b.size()), path);
    });
}

Tokenizer Tokenizer::from_json_text(const std::string& text, const std::string& what) {
    using nlohmann::json;
    json j;
    try {
        j = json::parse(text);
    } catch (const json::exception& e) {
        throw FormatError(what + ": invalid JSON: " + json_error_words(e));
    }
    Tokenizer t;
    try {
        const auto& model = j.at("model");
        if (model.value("type", std::string("BPE")) != "BPE")
            throw FormatError(what + ": model type " + model.value("type", std::string()) + " is not BPE");
        const auto& vocab = model.at("vocab");
        if (!vocab.is_object()) throw FormatError(what + ": model.vocab is not an object");
        const auto max_token = static_cast<std::int64_t>(kMaxVocabulary) - 1;
        auto token_id = [&](const nlohmann::json& v, const std::string& field) {
            return static_cast<std::int32_t>(json_integer(v, 0, max_token, what + ": " + field));
        };
        std::int32_t max_id = -1;
        for (auto& [piece, id] : vocab.items()) max_id = std::max(max_id, token_id(id, "model.vocab id"));
        if (j.contains("added_tokens")) {
            if (!j["added_tokens"].is_array()) throw FormatError(what + ": added_tokens is not an array");
            for (const auto& a : j["added_tokens"])
                max_id = std::max(max_id, token_id(a.at("id"), "added_tokens id"));
        }
        if (max_id < 0) throw FormatError(what + ": the vocabulary is empty");
        t.pieces_.resize(static_cast<std::size_t>(max_id) + 1);
        for (auto& [piece, id] : vocab.items()) {
            const auto i = token_id(id, "model.vocab id");
            t.pieces_[static_cast<std::size_t>(i)] = piece;
            t.ids_[piece] = i;
        }
        if (j.contains("added_tokens")) {
            for (const auto& a : j["added_tokens"]) {
                const auto id = token_id(a.at("id"), "added_tokens id");
                const auto content = a.at("content").get<std::string>();
                if (content.empty()) throw FormatError(what + ": invalid added token");
                t.pieces_[static_cast<std::size_t>(id)] = content;
                t.ids_[content] = id;
                t.added_.push_back({content, id, a.value("special", false)});
            }
        }
        for (const auto& m : model.at("merges")) {
            if (m.is_string()) {
                const auto [a, b] = split_merge(m.get<std::string>(), what);
                t.add_merge(a, b, what);
            } else if (m.is_array() && m.size() == 2) {
                t.add_merge(m[0].get<std::string>(), m[1].get<std::string>(), what);
            } else {
                throw FormatError(what + ": merge entry is neither \"a b\" nor [a, b]");
            }
        }
        t.nfc_ = json_normalizer_nfc(j, what);
        t.splitter_ = std::make_shared<RegexSplitter>(json_pre_tokenizer_pattern(j, what));
    } catch (const json::exception& e) {
        throw FormatError(what + ": malformed tokenizer: " + json_error_words(e));
    }
    // EOS: Qwen's convention.
    for (const char* e : {"<|endoftext|>", "<|im_end|>"})
        if (auto id = t.token_id(e)) {
            t.eos_ = *id;
            break;
        }
    t.finish(what);
    return t;
}

Tokenizer Tokenizer::from_gguf(const GgufFile& g) {
    const std::string what = g.path();
    const auto& model = g.get("tokenizer.ggml.model").as_string("tokenizer.ggml.model");
    if (model != "gpt2")
        throw FormatError(what + ": tokenizer.ggml.model " + model + " is not byte-level BPE (gpt2)");
    Tokenizer t;
    const auto& tokens = g.get("tokenizer.ggml.tokens");
    const auto n_tokens = tokens.array_size("tokenizer.ggml.tokens");
    if (n_tokens > kMaxVocabulary)
        throw FormatError(what + ": tokenizer.ggml.tokens has " + std::to_string(n_tokens) +
                          " entries (at most " + std::to_string(kMaxVocabulary) + ")");
    t.pieces_.reserve(n_tokens);
    tokens.for_each("tokenizer.ggml.tokens", [&](const GgufValue& v) {
        t.ids_[v.as_string("tokenizer.ggml.tokens")] = static_cast<std::int32_t>(t.pieces_.size());
        t.pieces_.push_back(v.as_string("tokenizer.ggml.tokens"));
    });
    if (auto* types = g.find("tokenizer.ggml.token_type")) {
        if (types->array_size("tokenizer.ggml.token_type") != n_tokens)
            throw FormatError(what + ": token_type and tokens differ in length");
        std::size_t i = 0;
        types->for_each("tokenizer.ggml.token_type", [&](const GgufValue& v) {
            const auto ty = v.as_int("tokenizer.ggml.token_type");
            if (ty == kControl || ty == kUserDefined)
                t.added_.push_back({t.pieces_[i], static_cast<std::int32_t>(i), ty == kControl});
            if (ty == kUnused) {  // unused ("[PAD151669]"): no text, and no string maps to it
                t.ids_.erase(t.pieces_[i]);
                t.pieces_[i].clear();
            }
            ++i;
        });
        // The padding past the last real token is the embedding's business, not the tokenizer's.
        while (!t.pieces_.empty() && t.pieces_.back().empty()) t.pieces_.pop_back();
    }
    g.get("tokenizer.ggml.merges").for_each("tokenizer.ggml.merges", [&](const GgufValue& m) {
        const auto [a, b] = split_merge(m.as_string("tokenizer.ggml.merges"), what);
        t.add_merge(a, b, what);
    });
    std::string pre = "default";
    if (auto* p = g.find("tokenizer.ggml.pre")) pre = p->as_string("tokenizer.ggml.pre");
    if (pre == "qwen2")
        t.splitter_ = std::make_shared<RegexSplitter>(kQwen2Pattern);
    else if (pre == "qwen35")
        t.splitter_ = std::make_shared<RegexSplitter>(kQwen35Pattern);
    else if (pre == "default" || pre == "gpt-2" || pre == "gpt2")
        t.splitter_ = std::make_shared<RegexSplitter>(kGpt2Pattern);
    else
        throw FormatError(what + ": tokenizer.ggml.pre \"" + pre +
                          "\" is not supported (qwen2, qwen35, gpt-2)");
    // As Hugging Face's tokenizer.json for Qwen2, Qwen3 and Qwen3.5 (an NFC normalizer); llama.cpp applies
    // none, which differs only on text that is not in NFC (decomposed accents): docs/formats.md.
    t.nfc_ = pre == "qwen2" || pre == "qwen35";
    if (auto* e = g.find("tokenizer.ggml.eos_token_id")) {
        const auto id = e->as_int("tokenizer.ggml.eos_token_id");
        if (id < 0 || id >= static_cast<std::int64_t>(t.pieces_.size()))
            throw FormatError(what + ": tokenizer.ggml.eos_token_id " + std::to_string(id) + " out of range");
        t.eos_ = static_cast<std::int32_t>(id);
    }
    t.finish(what);
    return t;
}

// Merges take ranks in the order they are added.
void Tokenizer::add_merge(const std::string& a, const std::string& b, const std::string& what) {
    auto ia = ids_.find(a), ib = ids_.find(b), im = ids_.find(a + b);
    if (ia == ids_.end() || ib == ids_.end() || im == ids_.end())
        throw FormatError(what + ": merge \"" + a + " " + b + "\" uses a token not in the vocabulary");
    const auto rank = static_cast<std::int32_t>(merge_list_.size());
    merges_.emplace(pair_key(ia->second, ib->second), std::make_pair(rank, im->second));
    merge_list_.emplace_back(ia->second, ib->second);
}

void Tokenizer::finish(const std::string& what) {
    for (int b = 0; b < 256; ++b) {
        auto it = ids_.find(byte_string(static_cast<std::uint8_t>(b)));
        if (it == ids_.end())
            throw FormatError(what + ": vocabulary lacks the byte-level token for byte " + std::to_string(b));
        byte_token_[b] = it->second;
    }
    added_by_first_byte_.assign(256, {});
    // Longest first, so that a token that is a prefix of another never wins.
    std::sort(added_.begin(), added_.end(),
              [](const Added& a, const Added& b) { return a.content.size() > b.content.size(); });
    for (std::int32_t id = 0; id < vocab_size(); ++id)
        max_token_bytes_ = std::max(max_token_bytes_, pieces_[static_cast<std::size_t>(id)].size());
    added_index_.assign(pieces_.size(), -1);
    for (std::size_t i = 0; i < added_.size(); ++i) {
        // An empty added token would match everywhere without advancing: refused, not looped on.
        if (added_[i].content.empty())
            throw FormatError(what + ": added token " + std::to_string(added_[i].id) +
                              " is the empty string");
        added_index_[static_cast<std::size_t>(added_[i].id)] = static_cast<std::int32_t>(i);
        added_by_first_byte_[static_cast<unsigned char>(added_[i].content[0])].push_back(i);
    }
}

std::optional<std::int32_t> Tokenizer::token_id(const std::string& piece) const {
    auto it = ids_.find(piece);
    if (it == ids_.end()) return std::nullopt;
    return it->second;
}

const std::string& Tokenizer::piece(std::int32_t id) const {
    if (id < 0 || id >= vocab_size())
        throw InputError("token id " + std::to_string(id) + " is out of range (vocabulary of " +
                         std::to_string(vocab_size()) + ")");
    return pieces_[static_cast<std::size_t>(id)];
}

std::string Tokenizer::token_bytes(std::int32_t id) const {
    // Models pad their vocabulary past the tokenizer's table (Qwen3: 151669 tokens, 151936 rows);
    // those rows have no text.
    if (id >= vocab_size()) return "";
    const auto& p = piece(id);
    if (const auto a = added_index_[static_cast<std::size_t>(id)]; a >= 0)
        return added_[static_cast<std::size_t>(a)].content;
    std::string out;
    const auto& bm = byte_map();
    for (std::size_t i = 0; i < p.size();) {
        // Decode one code point of the piece and map it back to its byte.
        const auto c = static_cast<unsigned char>(p[i]);
        const int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : 4;
        char32_t cp = len == 1 ? c : c & (0x3f >> (len - 1));
        for (int k = 1; k < len && i + k < p.size(); ++k)
            cp = (cp << 6) | (static_cast<unsigned char>(p[i + k]) & 0x3f);
        auto it = bm.to_byte.find(cp);
        if (it != bm.to_byte.end())
            out += static_cast<char>(it->second);
        else
            out += p.substr(i, static_cast<std::size_t>(len));
        i += static_cast<std::size_t>(len);
    }
    return out;
}

std::string Tokenizer::decode_bytes(const std::vector<std::int32_t>& ids) const {
    std::string out;
    for (auto id : ids) out += token_bytes(id);
    return out;
}

std::string Tokenizer::decode(const std::vector<std::int32_t>& ids) const {
    return utf8_sanitize(decode_bytes(ids));
}

// Lowest rank first, leftmost first among equal ranks, over a linked list of symbols with a heap of
// candidate pairs: O(n log n) in the piece's length, where rescanning every pair after each merge was
// quadratic (1 MB without whitespace took 38 s). Stale heap entries are recognised and skipped.
std::vector<std::int32_t> Tokenizer::merge_bytes(std::string_view piece) const {
    struct Symbol {
        std::int32_t id;
        std::int32_t prev, next;  // -1 at the ends
    };
    struct Candidate {
        std::int32_t rank, left, a, b;
        bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : left > o.left; }
    };
    const auto n = static_cast<std::int32_t>(piece.size());
    std::vector<Symbol> sym(static_cast<std::size_t>(n));
    for (std::int32_t i = 0; i < n; ++i)
        sym[static_cast<std::size_t>(i)] = {
            byte_token_[static_cast<unsigned char>(piece[static_cast<std::size_t>(i)])], i - 1,
            i + 1 < n ? i + 1 : -1};
    std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> heap;
    auto offer = [&](std::int32_t left) {
        if (left < 0) return;
        const auto right = sym[static_cast<std::size_t>(left)].next;
        if (right < 0) return;
        const auto a = sym[static_cast<std::size_t>(left)].id, b = sym[static_cast<std::size_t>(right)].id;
        if (auto it = merges_.find(pair_key(a, b)); it != merges_.end())
            heap.push({it->second.first, left, a, b});
    };
    for (std::int32_t i = 0; i + 1 < n; ++i) offer(i);
    std::vector<bool> dead(static_cast<std::size_t>(n), false);
    while (!heap.empty()) {
        const auto c = heap.top();
        heap.pop();
        auto& l = sym[static_cast<std::size_t>(c.left)];
        if (dead[static_cast<std::size_t>(c.left)] || l.next < 0 || l.id != c.a) continue;
        auto& r = sym[static_cast<std::size_t>(l.next)];
        if (r.id != c.b) continue;
        l.id = merges_.find(pair_key(c.a, c.b))->second.second;
        dead[static_cast<std::size_t>(l.next)] = true;
        l.next = r.next;
        if (r.next >= 0) sym[static_cast<std::size_t>(r.next)].prev = c.left;
        offer(l.prev);
        offer(c.left);
    }
    std::vector<std::int32_t> w;
    for (std::int32_t i = n > 0 ? 0 : -1; i >= 0; i = sym[static_cast<std::size_t>(i)].next)
        w.push_back(sym[static_cast<std::size_t>(i)].id);
    return w;
}

void Tokenizer::encode_piece(std::string_view piece, std::vector<std::int32_t>& out) const {
    {
        std::shared_lock lock(*cache_mutex_);
        auto it = cache_->find(piece);
        if (it != cache_->end()) {
            out.insert(out.end(), it->second.begin(), it->second.end());
            return;
        }
    }
    std::vector<std::int32_t> w = merge_bytes(piece);
    out.insert(out.end(), w.begin(), w.end());
    std::unique_lock lock(*cache_mutex_);
    if (cache_->size() < 1'000'000) cache_->emplace(std::string(piece), std::move(w));
}

void Tokenizer::encode_plain(std::string_view text, std::vector<std::int32_t>& out) const {
    if (text.empty()) return;
    const std::string norm = nfc_ ? nfc(text) : utf8_sanitize(text);
    std::vector<std::string_view> pieces;
    splitter_->split(norm, pieces);
    for (auto p : pieces) encode_piece(p, out);
}

namespace {

// Added tokens that llama.cpp's converter makes control tokens even when the checkpoint does not mark them
// special: "<|...|>" and "<｜...｜>" forms, "<pad>", "<mask>", "<unused...>".
bool looks_special(const std::string& s) {
    auto wrapped = [&](std::string_view open, std::string_view close) {
        return s.size() >= open.size() + close.size() && s.starts_with(open) && s.ends_with(close);
    };
    return s == "<pad>" || s == "<mask>" || wrapped("<|", "|>") ||
           wrapped("<\xef\xbd\x9c", "\xef\xbd\x9c>") || wrapped("<unused", ">");
}

}  // namespace

std::vector<std::int32_t> Tokenizer::encode(std::string_view text, bool parse_special) const {
    if (!parse_special || added_.empty()) {
        std::vector<std::int32_t> out;
        encode_plain(text, out);
        return out;
    }
    return encode_with_literal(text, {});
}

std::vector<std::string> Tokenizer::control_texts() const {
    std::vector<std::string> out;
    for (const auto& a : added_)
        if (a.special || looks_special(a.content)) out.push_back(a.content);
    return out;
}

std::vector<std::int32_t> Tokenizer::encode_with_literal(
    std::string_view text, const std::vector<std::pair<std::size_t, std::size_t>>& literal) const {
    std::vector<std::int32_t> out;
    std::size_t start = 0, span = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        while (span < literal.size() && literal[span].second <= i) ++span;
        const bool in_literal = span < literal.size() && literal[span].first <= i;
        for (auto idx : added_by_first_byte_[static_cast<unsigned char>(text[i])]) {
            const auto& a = added_[idx];
            if (in_literal && (a.special || looks_special(a.content))) continue;
            if (text.compare(i, a.content.size(), a.content) == 0) {
                encode_plain(text.substr(start, i - start), out);
                out.push_back(a.id);
                i += a.content.size() - 1;
                start = i + 1;
                break;
            }
        }
    }
    encode_plain(text.substr(start), out);
    return out;
}

void Tokenizer::write_gguf_metadata(GgufWriter& w, std::size_t embedding_rows) const {
    if (embedding_rows < pieces_.size())
        throw FormatError("the tokenizer has " + std::to_string(pieces_.size()) +
                          " tokens but the embedding only " + std::to_string(embedding_rows) + " rows");
    // llama.cpp sizes the embedding from the token list, so the list is padded to the embedding's rows with
    // unused "[PAD{id}]" entries, as its converter does; ids with no vocabulary entry are written the same
    // way.
    std::vector<GgufValue> tokens, types, merges;
    for (std::size_t i = 0; i < embedding_rows; ++i) {
        const bool pad = i >= pieces_.size() || pieces_[i].empty();
        tokens.push_back(GgufValue::str(pad ? "[PAD" + std::to_string(i) + "]" : pieces_[i]));
        std::int32_t type = pad ? kUnused : kNormal;
        if (const auto a = pad ? -1 : added_index_[i]; a >= 0) {
            const auto& added = added_[static_cast<std::size_t>(a)];
            type = added.special || looks_special(added.content) ? kControl : kUserDefined;
        }
        types.push_back(GgufValue::i32(type));
    }
    for (const auto& [a, b] : merge_list_)
        merges.push_back(GgufValue::str(pieces_[static_cast<std::size_t>(a)] + " " +
                                        pieces_[static_cast<std::size_t>(b)]));
    w.set("tokenizer.ggml.model", GgufValue::str("gpt2"));
    // GGUF names the pre-tokenizer instead of storing its regex: only the two ternspec knows can be written.
    const auto& pat = splitter_->pattern();
    if (pat != kQwen2Pattern && pat != kQwen35Pattern && pat != kGpt2Pattern)
        throw FormatError(
            "the tokenizer's pre-tokenizer regex is not Qwen2's, Qwen3.5's or GPT-2's; GGUF cannot "
            "name it");
    w.set("tokenizer.ggml.pre", GgufValue::str(pat == kQwen2Pattern    ? "qwen2"
                                               : pat == kQwen35Pattern ? "qwen35"
                                                                       : "gpt-2"));
    w.set("tokenizer.ggml.tokens", GgufValue::array(GgufType::STRING, std::move(tokens)));
    w.set("tokenizer.ggml.token_type", GgufValue::array(GgufType::I32, std::move(types)));
    w.set("tokenizer.ggml.merges", GgufValue::array(GgufType::STRING, std::move(merges)));
    if (eos_) w.set("tokenizer.ggml.eos_token_id", GgufValue::u32(static_cast<std::uint32_t>(*eos_)));
    // As llama.cpp writes Qwen3: <|endoftext|> is the BOS and padding id, and no BOS is prepended (ternspec
    // prepends none either, so both tokenize a prompt alike).
    if (const auto eot = token_id("<|endoftext|>")) {
        w.set("tokenizer.ggml.bos_token_id", GgufValue::u32(static_cast<std::uint32_t>(*eot)));
        w.set("tokenizer.ggml.padding_token_id", GgufValue::u32(static_cast<std::uint32_t>(*eot)));
    }
    w.set("tokenizer.ggml.add_bos_token", GgufValue::boolean(false));
}

std::string StreamDecoder::push(std::int32_t id) {
    pending_ += tok_.token_bytes(id);
    const auto n = utf8_complete_prefix(pending_);
    std::string out = utf8_sanitize(std::string_view(pending_).substr(0, n));
    pending_.erase(0, n);
    return out;
}

std::string StreamDecoder::flush() {
    std::string out = utf8_sanitize(pending_);
    pending_.clear();
    return out;
}

}  // namespace ternspec
