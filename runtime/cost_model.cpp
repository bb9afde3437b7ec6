#include "runtime/cost_model.hpp"

#include <spdlog/spdlog.h>
#include <tbb/global_control.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <numeric>

#include "target/kernels/cpu_features.hpp"
#include "target/model/filler_tokens.hpp"
#include "target/model/qwen3_model.hpp"

namespace ternspec {

CostModel CostModel::measure(const Qwen3Model& m, int max_tokens, int reps) {
    const int prefix = 32;
    KvCache cache = m.make_cache(prefix + max_tokens + 1);
    const FillerTokens fill(m.config(), static_cast<std::size_t>(prefix + max_tokens));
    m.forward(cache, fill.slice(0, prefix, false));
    // Sizes interleave within each repetition, so a stretch of slow machine touches all of them alike
    // instead of one size's every run (a curve taken size after size once read t(1) at 0.7x of the rest).
    std::vector<std::vector<double>> runs(static_cast<std::size_t>(max_tokens));
    for (int r = 0; r <= reps; ++r)  // the first round warms caches and thread pools
        for (int n = 1; n <= max_tokens; ++n) {
            const ForwardInput in = fill.slice(prefix, static_cast<std::size_t>(n));
            const auto t0 = std::chrono::steady_clock::now();
            m.forward(cache, in);
            const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            cache.trim_by(n);
            if (r > 0) runs[static_cast<std::size_t>(n - 1)].push_back(dt);
        }
    std::vector<double> t;
    for (auto& v : runs) {
        std::sort(v.begin(), v.end());
        t.push_back(v[v.size() / 2]);
    }
    // A forward of more tokens never costs less: noise aside, keep the curve monotone.
    for (std::size_t i = 1; i < t.size(); ++i) t[i] = std::max(t[i], t[i - 1]);
    return CostModel(std::move(t));
}

namespace {
// Bumped whenever the forward's speed changes (kernels, attention), so cached curves are measured again.
constexpr const char* kForwardGeneration = "forward-6";
}  // namespace

// The threads a forward here may use: the process's TBB limit (the CLI's -t) or the arena's (a library
// model loaded with LoadOptions::threads), whichever is smaller.
static int threads_in_use() {
    const auto limit = tbb::global_control::active_value(tbb::global_control::max_allowed_parallelism);
    return static_cast<int>(
        std::min<std::size_t>(limit, static_cast<std::size_t>(tbb::this_task_arena::max_concurrency())));
}

CostModel CostModel::cached(const Qwen3Model& m, const std::string& model_key, int max_tokens) {
    namespace fs = std::filesystem;
    const char* xdg = std::getenv("XDG_CACHE_HOME");
    const char* home = std::getenv("HOME");
    fs::path dir = xdg    ? fs::path(xdg) / "ternspec"
                   : home ? fs::path(home) / ".cache" / "ternspec"
                          : fs::temp_directory_path();
    const std::string key = model_key + "|" + kernel_path_name(kernel_path()) + "|" + kForwardGeneration +
                            "|" + std::to_string(threads_in_use());
    const auto file = dir / ("cost-" + std::to_string(std::hash<std::string>{}(key)) + ".json");
    try {
        std::ifstream in(file);
        if (in) {
            auto j = nlohmann::json::parse(in);
            auto t = j.at("seconds").get<std::vector<double>>();
            if (j.at("key") == key && static_cast<int>(t.size()) >= max_tokens)
                return CostModel(std::move(t));
        }
    } catch (const std::exception&) {
        // An unreadable cache is measured again.
    }
    CostModel c = measure(m, max_tokens);
    std::error_code ec;
    fs::create_directories(dir, ec);
    std::ofstream(file) << nlohmann::json{{"key", key}, {"seconds", c.curve()}}.dump() << "\n";
    return c;
}

double CostModel::seconds(int m) const {
    if (t_.empty()) return 1.0;
    return t_[static_cast<std::size_t>(std::clamp(m, 1, static_cast<int>(t_.size())) - 1)];
}

DraftLengthController::DraftLengthController(CostModel costs, int max_k)
    : costs_(std::move(costs)),
      max_k_(max_k),
      reached_(static_cast<std::size_t>(max_k), 0.0),
      accepted_(static_cast<std::size_t>(max_k), 0.0) {}

double DraftLengthController::expected_tokens(int k) const {
    std::lock_guard lock(mu_);
    return expected_tokens_locked(k);
}

double DraftLengthController::expected_tokens_locked(int k) const {
    double e = 1.0, p = 1.0, above = 0.5;
    for (int d = 0; d < k; ++d) {
        // Conditional acceptance at depth d + 1. The prior (weight 2) is the estimate one depth up, a half
        // at depth 1: a drafter right at depth 1 is presumed right deeper too until seen otherwise, so the
        // deeper drafts it would pay for get tried (a flat prior of a half never tried them).
        const double a = (accepted_[static_cast<std::size_t>(d)] + 2.0 * above) /
                         (reached_[static_cast<std::size_t>(d)] + 2.0);
        p *= a;
        e += p;
        above = a;
    }
    return e;
}

int DraftLengthController::choose() const {
    std::lock_guard lock(mu_);
    const double per_token = draft_tokens_ > 0 ? draft_seconds_ / draft_tokens_ : 0.0;
    int best = 0;
    double best_rate = expected_tokens_locked(0) / costs_.seconds(1);
    for (int k = 1; k <= max_k_; ++k) {
        const double rate = expected_tokens_locked(k) / (costs_.seconds(k + 1) + k * per_token);
        if (rate > best_rate) best = k, best_rate = rate;
    }
    // A controller that stopped drafting learns nothing more about the drafter, so every kExploreEvery
    // rounds without a draft it tries one token, unless even a sure token could not pay for its cost.
    // Drafts that keep failing then cost one 2-token verification in kExploreEvery + 1 rounds.
    constexpr int kExploreEvery = 32;
    if (best == 0 && idle_rounds_ >= kExploreEvery &&
        2.0 / (costs_.seconds(2) + per_token) > 1.0 / costs_.seconds(1))
        best = 1;
    return best;
}

void DraftLengthController::record_draft_cost(double seconds, int depth) {
    if (depth <= 0) return;  // rounds without a draft say nothing about its cost
    std::lock_guard lock(mu_);
    constexpr double kDecay = 0.97;
    draft_seconds_ = draft_seconds_ * kDecay + seconds;
    draft_tokens_ = draft_tokens_ * kDecay + depth;
}

double DraftLengthController::draft_seconds_per_token() const {
    std::lock_guard lock(mu_);
    return draft_tokens_ > 0 ? draft_seconds_ / draft_tokens_ : 0.0;
}

void DraftLengthController::record(int depth, int accepted) {
    // Recent rounds count more: acceptance drifts with the text being written.
    constexpr double kDecay = 0.97;
    std::lock_guard lock(mu_);
    idle_rounds_ = depth > 0 ? 0 : idle_rounds_ + 1;
    for (auto& v : reached_) v *= kDecay;
    for (auto& v : accepted_) v *= kDecay;
    for (int d = 0; d < std::min(depth, max_k_); ++d) {
        if (d > accepted) break;  // depth d + 1 was only reached if depth d was accepted
        reached_[static_cast<std::size_t>(d)] += 1.0;
        if (d < accepted) accepted_[static_cast<std::size_t>(d)] += 1.0;
    }
}

std::string cost_key(const std::string& model_path, const Qwen3Model& model) {
    namespace fs = std::filesystem;
    const std::string path = fs::absolute(model_path).string();
    std::string key = path + "|" + std::to_string(model.weight_bytes());
    std::error_code ec;
    const auto mtime = fs::last_write_time(path, ec);
    if (!ec) key += "|" + std::to_string(mtime.time_since_epoch().count());
    return key;
}

std::shared_ptr<DraftLengthController> adaptive_controller(const Qwen3Model& model, const std::string& key,
                                                           int max_k) {
    auto costs =
        key.empty() ? CostModel::measure(model, max_k + 1) : CostModel::cached(model, key, max_k + 1);
    std::string curve;
    for (int m = 1; m <= max_k + 1; ++m)
        curve += (m > 1 ? " " : "") + std::to_string(costs.seconds(m) * 1e3).substr(0, 6);
    spdlog::debug("t(M) for M = 1..{} in ms: {}", max_k + 1, curve);
    return std::make_shared<DraftLengthController>(std::move(costs), max_k);
}

}  // namespace ternspec
