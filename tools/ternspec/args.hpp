#pragma once
// Command-line options for one subcommand: declared once, so parsing, defaults and --help agree.
// Parsed by CLI11 (Debian's libcli11-dev): unknown options, stray words and repeated values are errors
// there, not ignored; the accessors below check types and ranges and name the option at fault.
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace ternspec::cli {

struct Option {
    std::string name;   // long name without dashes, e.g. "model"
    char short_name;    // 0 if none
    std::string value;  // metavariable, empty for a flag
    std::string help;
    std::string fallback;  // default value shown in --help; empty if none
    // Other spellings, with their dashes: llama.cpp's names ("--ctx-size", "-c", "-md") where ours differ.
    std::vector<std::string> aliases = {};
    bool repeatable =
        false;  // given more than once, every value is kept (all()); otherwise a repeat is an error
};

class Args {
  public:
    Args(std::string command, std::string usage, std::string summary, std::vector<Option> options);
    // Returns false when --help was asked for (help already printed). More than max_positional words
    // that are not options is an error.
    bool parse(int argc, char** argv, std::size_t max_positional = 0);

    bool flag(const std::string& name) const;
    bool has(const std::string& name) const;
    std::string str(const std::string& name) const;  // value or default; InputError if neither
    std::optional<std::string> opt(const std::string& name) const;
    // An integer in [lo, hi]; anything else (text, fractions, out of range) is an error naming the option.
    long long integer(const std::string& name, long long lo = std::numeric_limits<std::int32_t>::min(),
                      long long hi = std::numeric_limits<std::int32_t>::max()) const;
    double number(const std::string& name) const;  // finite
    // "1,2,4": at least one item, each in [lo, hi].
    std::vector<long long> int_list(const std::string& name, long long lo = 1,
                                    long long hi = std::numeric_limits<std::int32_t>::max()) const;
    std::vector<std::string> str_list(const std::string& name) const;
    // Every value of a repeatable option (e.g. --stop A --stop B), commas kept.
    std::vector<std::string> all(const std::string& name) const;
    const std::vector<std::string>& positional() const { return positional_; }
    std::string help_text() const;

  private:
    const Option* lookup(const std::string& name) const;
    const Option* lookup_spelling(const std::string& spelling) const;  // "-m", "--model", "-md"
    std::vector<std::string> normalise(int argc, char** argv) const;
    std::string command_, usage_, summary_;
    std::vector<Option> options_;
    std::map<std::string, std::string> values_;
    std::map<std::string, std::vector<std::string>> all_values_;
    std::vector<std::string> positional_;
};

// One integer from text, range-checked; `what` names it in the error.
long long parse_integer(const std::string& text, const std::string& what, long long lo, long long hi);

}  // namespace ternspec::cli
