#pragma once
// Command-line options for one subcommand: declared once, so parsing, defaults and --help agree.
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
};

class Args {
  public:
    Args(std::string command, std::string usage, std::string summary, std::vector<Option> options);
    // Returns false when --help was asked for (help already printed).
    bool parse(int argc, char** argv);

    bool flag(const std::string& name) const;
    bool has(const std::string& name) const;
    std::string str(const std::string& name) const;  // value or default; InputError if neither
    std::optional<std::string> opt(const std::string& name) const;
    long long integer(const std::string& name) const;
    double number(const std::string& name) const;
    std::vector<long long> int_list(const std::string& name) const;  // "1,2,4"
    std::vector<std::string> str_list(const std::string& name) const;
    const std::vector<std::string>& positional() const { return positional_; }
    std::string help_text() const;

  private:
    const Option* lookup(const std::string& name) const;
    std::string command_, usage_, summary_;
    std::vector<Option> options_;
    std::map<std::string, std::string> values_;
    std::vector<std::string> positional_;
};

}  // namespace ternspec::cli
