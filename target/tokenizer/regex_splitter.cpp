#define PCRE2_CODE_UNIT_WIDTH 8
#include "target/tokenizer/regex_splitter.hpp"

#include <pcre2.h>

#include "ternspec/error.hpp"

namespace ternspec {

const char* const kQwen2Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// Qwen3.5's (llama.cpp's `qwen35` pre-tokenizer, src/llama-vocab.cpp): combining marks join the letters of a
// word ([\p{L}\p{M}]+) and leave the punctuation run, where Qwen2's splits them off.
const char* const kQwen35Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char* const kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

struct RegexSplitter::Impl {
    pcre2_code* code = nullptr;
};

RegexSplitter::RegexSplitter(const std::string& pattern)
    : pattern_(pattern), impl_(std::make_unique<Impl>()) {
    int err = 0;
    PCRE2_SIZE off = 0;
    impl_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                PCRE2_UTF | PCRE2_UCP | PCRE2_NO_UTF_CHECK, &err, &off, nullptr);
    if (!impl_->code) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof msg);
        throw FormatError("tokenizer regex does not compile at offset " + std::to_string(off) + ": " +
                          reinterpret_cast<char*>(msg));
    }
    pcre2_jit_compile(impl_->code, PCRE2_JIT_COMPLETE);  // falls back to the interpreter if JIT is missing
}

RegexSplitter::~RegexSplitter() {
    if (impl_ && impl_->code) pcre2_code_free(impl_->code);
}

void RegexSplitter::split(std::string_view text, std::vector<std::string_view>& out) const {
    // Match data is per thread: one tokenizer serves sessions decoding concurrently.
    thread_local struct Holder {
        pcre2_match_data* md = nullptr;
        ~Holder() {
            if (md) pcre2_match_data_free(md);
        }
    } holder;
    if (!holder.md) holder.md = pcre2_match_data_create(1, nullptr);
    auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
    std::size_t pos = 0;
    while (pos < text.size()) {
        const int rc =
            pcre2_match(impl_->code, subject, text.size(), pos, PCRE2_NO_UTF_CHECK, holder.md, nullptr);
        if (rc < 0) {
            out.push_back(text.substr(pos));
            return;
        }
        const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(holder.md);
        if (ov[0] > pos) out.push_back(text.substr(pos, ov[0] - pos));
        if (ov[1] == ov[0]) {  // empty match: step one code point
            std::size_t next = ov[0] + 1;
            while (next < text.size() && (static_cast<unsigned char>(text[next]) & 0xc0) == 0x80) ++next;
            out.push_back(text.substr(ov[0], next - ov[0]));
            pos = next;
        } else {
            out.push_back(text.substr(ov[0], ov[1] - ov[0]));
            pos = ov[1];
        }
    }
}

}  // namespace ternspec
