#pragma once
// Measured speculative decoding at shapes no trained drafter exists for (`bench spec --replay`): a drafter
// at the real shape runs for real every round (its forward, its KV rollback), but the tokens it proposes
// are replaced by a replay of a trained pair's acceptance. The trained pair (a small target and its own
// drafter) decodes the same prompt in lockstep, one round per round, with the budget the measured session
// chose; if it accepted a of its draft, the replayed draft holds the large target's own next a tokens (its
// greedy continuation, known from a plain run: batch invariance makes verification reproduce it) and then
// wrong ones, in the trained pair's tree shape. The large target therefore verifies the same number of
// tokens and accepts the same count as the trained pair did. The trained pair's time is left out of every
// timing (take_untimed_seconds).
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "drafters/drafter.hpp"
#include "runtime/decode_session.hpp"

namespace ternspec::cli {

class ReplayDrafter : public Drafter {
  public:
    // `inner`: the drafter at the measured shape (null: none, only the replay). `oracle_model` and
    // `oracle_drafter`: the trained pair. `references`: the measured target's plain greedy output per prompt.
    ReplayDrafter(std::unique_ptr<Drafter> inner, std::shared_ptr<const Qwen3Model> oracle_model,
                  std::unique_ptr<Drafter> oracle_drafter, const DecodeOptions& oracle_options,
                  const std::map<std::vector<std::int32_t>, std::vector<std::int32_t>>* references,
                  int vocab);
    std::string name() const override {
        return "replay(" + (inner_ ? inner_->name() : std::string("none")) + ")";
    }
    std::vector<int> hidden_layers() const override;
    void begin(std::span<const std::int32_t> prompt, const HiddenRows* hidden) override;
    void observe(std::span<const std::int32_t> cached, const HiddenRows* hidden) override;
    DraftTree propose(std::span<const std::int32_t> context, const DraftBudget& budget) override;
    void end_request(std::span<const std::int32_t> output) override;
    std::size_t weight_bytes_per_draft(int depth) const override;
    double take_untimed_seconds() override;
    // Weight bytes the measured-shape drafter read per node it drafted, over every round so far.
    double bytes_per_drafted_token() const { return drafted_ ? static_cast<double>(bytes_) / drafted_ : 0.0; }

  private:
    void oracle_round(const DraftBudget& budget);  // one round of the trained pair

    std::unique_ptr<Drafter> inner_;
    std::shared_ptr<const Qwen3Model> oracle_model_;
    std::unique_ptr<Drafter> oracle_drafter_;
    DecodeOptions oracle_options_;
    const std::map<std::vector<std::int32_t>, std::vector<std::int32_t>>* references_;
    int vocab_;
    std::optional<DecodeSession> oracle_;
    const std::vector<std::int32_t>* reference_ = nullptr;  // this request's
    std::size_t prompt_size_ = 0;
    double untimed_ = 0;
    std::size_t bytes_ = 0, drafted_ = 0;
};

}  // namespace ternspec::cli
