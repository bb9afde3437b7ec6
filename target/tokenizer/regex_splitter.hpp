#pragma once
// The Split pre-tokenizer: a PCRE2 (JIT) regex in Unicode mode; matches and the gaps between them both
// become pieces ("Isolated" behaviour), in order.
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace ternspec {

class RegexSplitter {
  public:
    explicit RegexSplitter(const std::string& pattern);
    ~RegexSplitter();
    RegexSplitter(const RegexSplitter&) = delete;
    RegexSplitter& operator=(const RegexSplitter&) = delete;

    void split(std::string_view text, std::vector<std::string_view>& out) const;
    const std::string& pattern() const { return pattern_; }

  private:
    struct Impl;
    std::string pattern_;
    std::unique_ptr<Impl> impl_;
};

extern const char* const kQwen2Pattern;
extern const char* const kQwen35Pattern;
extern const char* const kGpt2Pattern;

}  // namespace ternspec
