#pragma once
// Measured speculative decoding at shapes no trained drafter exists for (`bench spec --replay`): a drafter
// at the real shape runs for real every round (its forward, its KV rollback), but the tokens it proposes
// are replaced by a replay of a trained pair's acceptance. The trained pair (a small target and its own
// drafter) decodes the same prompt in lockstep, one round per round, with the budget the measured session
// chose; if it accepted a of its draft, the replayed draft holds the large target's own next a tokens (its
// greedy continuation, known from a plain run: batch invariance makes verification reproduce it) and then
// wrong ones, in the trained pair's tree shape. The large target therefore verifies the same number of
// tokens and accepts the same count as the trained pair did. The trained pair's time is left out of every
// timing: the measured session reads a ReplayClock (DecodeOptions::clock) that stops while the pair runs.
// The harness reaches the runtime only through the drafter interface and DecodeOptions::clock.
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "drafters/drafter.hpp"
#include "runtime/decode_session.hpp"

namespace ternspec::bench {

// Seconds since an arbitrary start, less every interval spent between pause() and resume().
class ReplayClock {
  public:
    double now() const { return raw() - paused_; }
    void pause() { since_ = raw(); }
    void resume() { paused_ += raw() - since_; }

  private:
    static double raw() {
        return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
    }
    double paused_ = 0, since_ = 0;
};

class ForcedBudget;

class ReplayDrafter : public Drafter {
  public:
    // `inner`: the drafter at the measured shape (null: none, only the replay). `oracle_model` and
    // `oracle_drafter`: the trained pair. `references`: the measured target's plain greedy output per prompt.
    // The measured session's DecodeOptions::clock must read clock() (see measured_clock).
    ReplayDrafter(std::unique_ptr<Drafter> inner, std::shared_ptr<const Qwen3Model> oracle_model,
                  std::unique_ptr<Drafter> oracle_drafter, const DecodeOptions& oracle_options,
                  const std::map<std::vector<std::int32_t>, std::vector<std::int32_t>>* references,
                  int vocab);
    ~ReplayDrafter() override;
    // The time source for the measured session: it stands still while the trained pair decodes.
    std::function<double()> measured_clock() const {
        return [c = clock_] { return c->now(); };
    }
    std::string name() const override {
        return "replay(" + (inner_ ? inner_->name() : std::string("none")) + ")";
    }
    std::vector<int> hidden_layers() const override;
    void begin(std::span<const std::int32_t> prompt, const HiddenRows* hidden) override;
    void observe(std::span<const std::int32_t> cached, const HiddenRows* hidden) override;
    DraftTree propose(std::span<const std::int32_t> context, const DraftBudget& budget) override;
    void catch_up(std::span<const std::int32_t> verified, int max_depth) override;
    void end_request(std::span<const std::int32_t> output) override;
    std::size_t weight_bytes_per_draft(int depth) const override;
    // Weight bytes the measured-shape drafter read per node it drafted, over every round so far.
    double bytes_per_drafted_token() const { return drafted_ ? static_cast<double>(bytes_) / drafted_ : 0.0; }

  private:
    void oracle_round(const DraftBudget& budget);  // one round of the trained pair

    std::unique_ptr<Drafter> inner_;
    std::shared_ptr<const Qwen3Model> oracle_model_;
    std::unique_ptr<ForcedBudget> oracle_drafter_;  // the trained drafter, drafting with the measured budget
    DecodeOptions oracle_options_;
    const std::map<std::vector<std::int32_t>, std::vector<std::int32_t>>* references_;
    int vocab_;
    std::optional<DecodeSession> oracle_;
    const std::vector<std::int32_t>* reference_ = nullptr;  // this request's
    std::size_t prompt_size_ = 0;
    std::shared_ptr<ReplayClock> clock_ = std::make_shared<ReplayClock>();
    std::size_t bytes_ = 0, drafted_ = 0;
};

}  // namespace ternspec::bench
