// The drafter registry: one line per drafter.
#include <functional>

#include "drafters/drafter.hpp"
#include "drafters/eagle_drafter.hpp"
#include "drafters/mtp_drafter.hpp"
#include "drafters/ngram_drafter.hpp"
#include "drafters/suffix_drafter.hpp"
#include "ternspec/error.hpp"

namespace ternspec {
namespace {

using Factory =
    std::function<std::unique_ptr<Drafter>(const DrafterOptions&, std::shared_ptr<const Qwen3Model>)>;

const std::map<std::string, Factory>& registry() {
    static const std::map<std::string, Factory> r = {
        {"ngram", [](const DrafterOptions& o, auto) { return std::make_unique<NgramDrafter>(o); }},
        {"suffix", [](const DrafterOptions& o, auto) { return std::make_unique<SuffixDrafter>(o); }},
        {"eagle",
         [](const DrafterOptions& o, auto t) { return std::make_unique<EagleDrafter>(o, std::move(t)); }},
        {"mtp",
         [](const DrafterOptions& o, auto t) { return std::make_unique<MtpDrafter>(o, std::move(t)); }},
    };
    return r;
}

}  // namespace

double DrafterOptions::get(const std::string& key, double fallback) const {
    auto it = extra.find(key);
    if (it == extra.end()) return fallback;
    try {
        return std::stod(it->second);
    } catch (const std::exception&) {
        throw InputError("drafter option " + key + "=" + it->second + " is not a number");
    }
}

std::unique_ptr<Drafter> create_drafter(const std::string& name, const DrafterOptions& options,
                                        std::shared_ptr<const Qwen3Model> target) {
    if (name == "none") return nullptr;
    auto it = registry().find(name);
    if (it == registry().end()) {
        std::string known = "none";
        for (const auto& [n, f] : registry()) known += ", " + n;
        throw InputError("unknown drafter " + name + " (known: " + known + ")");
    }
    return it->second(options, std::move(target));
}

std::vector<std::string> drafter_names() {
    std::vector<std::string> out{"none"};
    for (const auto& [n, f] : registry()) out.push_back(n);
    return out;
}

}  // namespace ternspec
