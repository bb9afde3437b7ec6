// The drafter registry: one line per drafter.
#include <spdlog/spdlog.h>

#include <cmath>
#include <functional>
#include <mutex>

#include "drafters/drafter.hpp"
#include "drafters/eagle_drafter.hpp"
#include "drafters/mtp_drafter.hpp"
#include "drafters/nextn_drafter.hpp"
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
        {"mtp",  // DeepSeek-V3-style modules, or Qwen3.5's own nextn layer applied recursively
         [](const DrafterOptions& o, auto t) -> std::unique_ptr<Drafter> {
             auto mods = load_mtp_modules(o, t);
             if (mods->recursive()) return std::make_unique<NextnDrafter>(o, std::move(t), std::move(mods));
             return std::make_unique<MtpDrafter>(o, std::move(t), std::move(mods));
         }},
    };
    return r;
}

}  // namespace

double DrafterOptions::get(const std::string& key, double fallback) const {
    known.insert(key);
    auto it = extra.find(key);
    if (it == extra.end()) return fallback;
    std::size_t used = 0;
    double v = 0;
    try {
        v = std::stod(it->second, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used == 0 || used != it->second.size() || !std::isfinite(v))
        throw InputError("drafter option " + key + "=" + it->second + " is not a number");
    return v;
}

std::string DrafterOptions::text(const std::string& key, const std::string& fallback) const {
    known.insert(key);
    auto it = extra.find(key);
    return it == extra.end() ? fallback : it->second;
}

void DrafterOptions::add_extra(const std::string& pairs, const std::string& what) {
    std::size_t start = 0;
    for (;;) {
        const std::size_t comma = pairs.find(',', start);
        const std::string kv =
            pairs.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        if (!kv.empty()) {
            const auto eq = kv.find('=');
            if (eq == std::string::npos || eq == 0)
                throw InputError(what + " wants key=value pairs, got " + kv);
            extra[kv.substr(0, eq)] = kv.substr(eq + 1);
        }
        if (comma == std::string::npos) return;
        start = comma + 1;
    }
}

std::unique_ptr<Drafter> create_drafter(const std::string& name, const DrafterOptions& options,
                                        std::shared_ptr<const Qwen3Model> target) {
    // Weights given to a drafter that has none are a mistake to report, not a setting to drop.
    if (!options.draft_model.empty() && (name == "suffix" || name == "ngram" || name == "none"))
        throw InputError("drafter '" + name + "' takes no weights, but a draft model was given (" +
                         options.draft_model + ")");
    if (name == "none") return nullptr;
    auto it = registry().find(name);
    if (it == registry().end()) {
        std::string known = "none";
        for (const auto& [n, f] : registry()) known += ", " + n;
        throw InputError("unknown drafter " + name + " (known: " + known + ")");
    }
    options.known.clear();
    auto d = it->second(options, std::move(target));
    // Options this drafter never asked for are typos or meant for another drafter: said once, not ignored
    // silently.
    static std::mutex mu;
    static std::set<std::string> said;
    std::lock_guard<std::mutex> lock(mu);
    for (const auto& [key, value] : options.extra)
        if (!options.known.count(key) && said.insert(name + "/" + key).second) {
            std::string knows;
            for (const auto& k : options.known) knows += (knows.empty() ? "" : ", ") + k;
            spdlog::warn("drafter {} has no option '{}' (ignored); its options: {}", name, key,
                         knows.empty() ? "none" : knows);
        }
    return d;
}

std::vector<std::string> drafter_names() {
    std::vector<std::string> out{"none"};
    for (const auto& [n, f] : registry()) out.push_back(n);
    return out;
}

}  // namespace ternspec
