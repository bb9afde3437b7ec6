#include "tools/ternspec/args.hpp"

#include <cstdio>
#include <sstream>

#include "ternspec/error.hpp"

namespace ternspec::cli {

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

bool Args::parse(int argc, char** argv) {
    for (int i = 0; i < argc; ++i) {
        std::string a = argv[i];
        const Option* o = nullptr;
        std::optional<std::string> inline_value;
        if (a.rfind("--", 0) == 0 && a.size() > 2) {
            auto eq = a.find('=');
            const std::string name = a.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
            if (eq != std::string::npos) inline_value = a.substr(eq + 1);
            o = lookup(name);
            if (!o) throw InputError("unknown option --" + name + " (see ternspec " + command_ + " --help)");
        } else if (a.size() == 2 && a[0] == '-' && a[1] != '-') {
            for (const auto& cand : options_)
                if (cand.short_name == a[1]) o = &cand;
            if (!o) throw InputError("unknown option " + a + " (see ternspec " + command_ + " --help)");
        } else {
            positional_.push_back(a);
            continue;
        }
        if (o->name == "help") {
            std::fputs(help_text().c_str(), stdout);
            return false;
        }
        if (o->value.empty()) {
            if (inline_value) throw InputError("option --" + o->name + " takes no value");
            values_[o->name] = "1";
        } else if (inline_value) {
            values_[o->name] = *inline_value;
        } else {
            if (i + 1 >= argc) throw InputError("option --" + o->name + " needs a value " + o->value);
            values_[o->name] = argv[++i];
        }
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

long long Args::integer(const std::string& name) const {
    const auto s = str(name);
    try {
        std::size_t used = 0;
        const long long v = std::stoll(s, &used);
        if (used != s.size()) throw std::invalid_argument(s);
        return v;
    } catch (const std::exception&) {
        throw InputError("--" + name + ": \"" + s + "\" is not an integer");
    }
}

double Args::number(const std::string& name) const {
    const auto s = str(name);
    try {
        std::size_t used = 0;
        const double v = std::stod(s, &used);
        if (used != s.size()) throw std::invalid_argument(s);
        return v;
    } catch (const std::exception&) {
        throw InputError("--" + name + ": \"" + s + "\" is not a number");
    }
}

std::vector<std::string> Args::str_list(const std::string& name) const {
    std::vector<std::string> out;
    std::stringstream ss(str(name));
    for (std::string item; std::getline(ss, item, ',');)
        if (!item.empty()) out.push_back(item);
    return out;
}

std::vector<long long> Args::int_list(const std::string& name) const {
    std::vector<long long> out;
    for (const auto& s : str_list(name)) {
        try {
            out.push_back(std::stoll(s));
        } catch (const std::exception&) {
            throw InputError("--" + name + ": \"" + s + "\" is not an integer");
        }
    }
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
        ss << "\n";
    }
    return ss.str();
}

}  // namespace ternspec::cli
