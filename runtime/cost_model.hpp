#pragma once
// t(M): what one target forward of M tokens costs on this machine, measured, not assumed. The draft-length
// controller weighs expected accepted tokens against it. Measured once per model, kernel path and thread
// count, and cached under $XDG_CACHE_HOME/ternspec (or ~/.cache/ternspec).
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace ternspec {

class Qwen3Model;

class CostModel {
  public:
    CostModel() = default;
    explicit CostModel(std::vector<double> seconds) : t_(std::move(seconds)) {}
    // Median of `reps` timed forwards for each M in 1..max_tokens after a short cached prefix.
    static CostModel measure(const Qwen3Model& m, int max_tokens, int reps = 5);
    // Loads the cached curve for `model_key` or measures and stores it.
    static CostModel cached(const Qwen3Model& m, const std::string& model_key, int max_tokens);

    double seconds(int m) const;  // clamps to the measured range
    int max_tokens() const { return static_cast<int>(t_.size()); }
    const std::vector<double>& curve() const { return t_; }

  private:
    std::vector<double> t_;
};

// Chooses the draft length that maximises expected tokens per second from running per-depth acceptance,
// counting the drafter's own measured cost per drafted token (a model drafter's head is not free).
// One controller may serve several sessions decoding together (one DecodeOptions for a batch): its
// members lock, so sessions recording from different threads do not race.
class DraftLengthController {
  public:
    DraftLengthController(CostModel costs, int max_k);
    int choose() const;  // 0 means: do not draft this round
    // A round whose chain reached `depth` and accepted `accepted` of it (depth 0: no draft; the counts still
    // decay, so a controller that stopped drafting drifts back to its prior and tries again).
    void record(int depth, int accepted);
    // Seconds a round spent drafting (propose and observe) for a draft of `depth`.
    void record_draft_cost(double seconds, int depth);
    double draft_seconds_per_token() const;
    double expected_tokens(int k) const;  // 1 + sum over d <= k of the probability that depth d is accepted
    const CostModel& costs() const { return costs_; }

  private:
    double expected_tokens_locked(int k) const;

    mutable std::mutex mu_;
    CostModel costs_;
    int max_k_;
    std::vector<double> reached_, accepted_;       // decayed counts per depth
    double draft_seconds_ = 0, draft_tokens_ = 0;  // decayed
    int idle_rounds_ = 0;                          // rounds since the last draft
};

// The key a model's t(M) curve is cached under: its file's absolute path, weight bytes and modification
// time, so a rebuilt file is measured again.
std::string cost_key(const std::string& model_path, const Qwen3Model& model);

// The controller for k = auto over drafts of at most max_k: t(M) for M = 1..max_k + 1 from the cache under
// `key` (measured and stored when missing; measured and not stored when `key` is empty).
std::shared_ptr<DraftLengthController> adaptive_controller(const Qwen3Model& model, const std::string& key,
                                                           int max_k);

}  // namespace ternspec
