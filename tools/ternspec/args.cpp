#include "tools/ternspec/args.hpp"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "ternspec/error.hpp"

namespace ternspec::cli {

long long parse_integer(const std::string& text, const std::string& what, long long lo, long long hi) {
    const auto range = " (an integer from " + std::to_string(lo) + " to " + std::to_string(hi) + ")";
    errno = 0;
    char* end = nullptr;
    const long long v = std::strtoll(text.c_str(), &end, 10);
    if (text.empty() || end != text.c_str() + text.size() ||
        std::isspace(static_cast<unsigned char>(text[0])))
        throw InputError(what + ": \"" + text + "\" is not an integer" + range);
    if (errno == ERANGE || v < lo || v > hi)
        throw InputError(what + ": " + text + " is out of range" + range);
    return v;
}

Args::Args(std::string command, std::string usage, std::string summary, std::vector<Option> options)
    : command_(std::move(command)),
      usage_(std::move(usage)),
      summary_(std::move(summary)),
      options_(std::move(options)) {
    options_.push_back({"verbose", 'v', "", "debug logging", ""});
    options_.push_back({"help", 'h', "", "show this help", ""});
}

const Option* Args::lookup(const std::string& name) const {
    for (const auto& o : options_)
        if (o.name == name) return &o;
    return nullptr;
}

const Option* Args::lookup_spelling(const std::string& spelling) const {
    for (const auto& o : options_) {
        if (spelling == "--" + o.name || (o.short_name && spelling == std::string("-") + o.short_name))
            return &o;
        for (const auto& a : o.aliases)
            if (spelling == a) return &o;
    }
    return nullptr;
}

// Every spelling becomes "--name=value" or "--name" before CLI11 sees it: one-dash words of several
// letters ("-md", "-sys") are names here, never a short option with its value glued on, so "-ngl" is an
// unknown option rather than "-n gl"; and a value is taken as it is, even when it begins with a dash.
std::vector<std::string> Args::normalise(int argc, char** argv) const {
    std::vector<std::string> out;
    bool only_positional = false;
    for (int i = 0; i < argc; ++i) {
        const std::string a = argv[i];
        const bool dashed = a.size() >= 2 && a[0] == '-' && !only_positional;
        if (a == "--") {
            only_positional = true;
            continue;
        }
        if (!dashed) {
            out.push_back(a);
            continue;
        }
        const auto eq = a.find('=');
        const std::string spelling = a.substr(0, eq);
        const Option* o = lookup_spelling(spelling);
        if (!o) throw InputError("unknown option " + spelling + " (see ternspec " + command_ + " --help)");
        if (o->value.empty()) {
            if (eq != std::string::npos) throw InputError("option " + spelling + " takes no value");
            out.push_back("--" + o->name);
        } else if (eq != std::string::npos) {
            out.push_back("--" + o->name + "=" + a.substr(eq + 1));
        } else {
            if (i + 1 >= argc) throw InputError("option " + spelling + " needs a value " + o->value);
            out.push_back("--" + o->name + "=" + argv[++i]);
        }
    }
    return out;
}

bool Args::parse(int argc, char** argv, std::size_t max_positional) {
    CLI::App app(summary_, "ternspec " + command_);
    app.set_help_flag();
    std::map<std::string, std::vector<std::string>> raw;
    std::map<std::string, bool> flags;
    for (const auto& o : options_) {
        if (o.value.empty())
            app.add_flag("--" + o.name, flags[o.name]);
        else if (o.repeatable)
            app.add_option("--" + o.name, raw[o.name])
                ->allow_extra_args(false)
                ->expected(1)
                ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
        else
            app.add_option("--" + o.name, raw[o.name])->allow_extra_args(false)->expected(1);
    }
    app.add_option("positional", positional_);
    std::vector<std::string> words = normalise(argc, argv);
    std::reverse(words.begin(), words.end());  // CLI11 takes the words last first
    try {
        app.parse(words);
    } catch (const CLI::ParseError& e) {
        std::string msg = e.what();
        if (const auto p = msg.find("The following arguments were not expected: "); p != std::string::npos)
            msg = "unknown option or stray argument: " + msg.substr(p + 44);
        throw InputError(msg + " (see ternspec " + command_ + " --help)");
    }
    if (flags["help"]) {
        std::fputs(help_text().c_str(), stdout);
        return false;
    }
    for (const auto& [name, on] : flags)
        if (on) values_[name] = "1";
    for (const auto& [name, vals] : raw)
        if (!vals.empty())
            values_[name] = vals.back(), all_values_[name] = vals;  // the last one wins, as in llama.cpp
    if (positional_.size() > max_positional) {
        throw InputError(
            "unexpected argument \"" + positional_[max_positional] + "\"" +
            (max_positional == 0 ? "" : " (takes at most " + std::to_string(max_positional) + ")") +
            " (see ternspec " + command_ + " --help)");
    }
    return true;
}

bool Args::flag(const std::string& name) const {
    return values_.count(name) > 0;
}
bool Args::has(const std::string& name) const {
    return values_.count(name) > 0;
}

std::optional<std::string> Args::opt(const std::string& name) const {
    if (auto it = values_.find(name); it != values_.end()) return it->second;
    if (auto* o = lookup(name); o && !o->fallback.empty()) return o->fallback;
    return std::nullopt;
}

std::string Args::str(const std::string& name) const {
    if (auto v = opt(name)) return *v;
    throw InputError("--" + name + " is required (see ternspec " + command_ + " --help)");
}

long long Args::integer(const std::string& name, long long lo, long long hi) const {
    return parse_integer(str(name), "--" + name, lo, hi);
}

double Args::number(const std::string& name) const {
    const auto s = str(name);
    char* end = nullptr;
    const double v = std::strtod(s.c_str(), &end);
    if (s.empty() || end != s.c_str() + s.size() || std::isspace(static_cast<unsigned char>(s[0])))
        throw InputError("--" + name + ": \"" + s + "\" is not a number");
    if (!std::isfinite(v)) throw InputError("--" + name + ": " + s + " is not a finite number");
    return v;
}

std::vector<std::string> Args::str_list(const std::string& name) const {
    std::vector<std::string> out;
    std::stringstream ss(str(name));
    for (std::string item; std::getline(ss, item, ',');)
        if (!item.empty()) out.push_back(item);
    return out;
}

std::vector<std::string> Args::all(const std::string& name) const {
    const auto it = all_values_.find(name);
    return it == all_values_.end() ? std::vector<std::string>{} : it->second;
}

std::vector<long long> Args::int_list(const std::string& name, long long lo, long long hi) const {
    const auto text = str(name);
    std::vector<long long> out;
    std::stringstream ss(text);
    for (std::string item; std::getline(ss, item, ',');)
        out.push_back(parse_integer(item, "--" + name, lo, hi));
    if (out.empty() || (!text.empty() && text.back() == ','))
        throw InputError("--" + name + ": \"" + text + "\" is not a comma-separated list of integers");
    return out;
}

std::string Args::help_text() const {
    std::ostringstream ss;
    ss << "usage: ternspec " << command_ << " " << usage_ << "\n\n" << summary_ << "\n\noptions:\n";
    for (const auto& o : options_) {
        std::string left = "  ";
        left += o.short_name ? std::string("-") + o.short_name + ", " : "    ";
        left += "--" + o.name + (o.value.empty() ? "" : " " + o.value);
        ss << left << std::string(left.size() < 30 ? 30 - left.size() : 1, ' ') << o.help;
        if (!o.fallback.empty()) ss << " (default " << o.fallback << ")";
        if (!o.aliases.empty()) {
            ss << " [also";
            for (const auto& a : o.aliases) ss << " " << a;
            ss << "]";
        }
        ss << "\n";
    }
    return ss.str();
}

}  // namespace ternspec::cli
