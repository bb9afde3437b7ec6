#pragma once
// EAGLE-3 drafting: the head runs on the target's fused hidden states and its own outputs, keeps its own KV
// cache (rolled back to the verified tokens every round), and drafts a chain (K steps) or an EAGLE-2
// dynamic tree (each depth expands the `width` best nodes by cumulative draft log-probability; the best
// max_nodes nodes are kept). When the target samples, drafts are drawn from the head's own processed
// distribution and carry it (soft drafts, verified by speculative sampling); greedy drafts are the most
// likely tokens.
#include <memory>

#include "drafters/drafter.hpp"
#include "drafters/eagle_head.hpp"
#include "target/model/kv_cache.hpp"

namespace ternspec {

class EagleDrafter : public Drafter {
  public:
    EagleDrafter(const DrafterOptions& o, std::shared_ptr<const Qwen3Model> target);
    std::string name() const override { return "eagle"; }
    std::vector<int> hidden_layers() const override { return head_->config().aux_layers; }
    void begin(std::span<const std::int32_t> prompt, const HiddenRows* hidden) override;
    void observe(std::span<const std::int32_t> cached, const HiddenRows* hidden) override;
    DraftTree propose(std::span<const std::int32_t> context, const DraftBudget& budget) override;
    void catch_up(std::span<const std::int32_t> verified, int max_depth) override;
    std::size_t weight_bytes_per_draft(int depth) const override {
        return head_->round_bytes() + static_cast<std::size_t>(depth) * head_->step_bytes();
    }
    const EagleHead& head() const { return *head_; }
    // Another drafter on the same head weights (a server's slots share one copy); its own cache and state.
    std::unique_ptr<Drafter> sibling() const override;

  private:
    struct SiblingOf {};
    EagleDrafter(const EagleDrafter& proto, SiblingOf);
    // fc(concat of the three layers) for rows [first, first + rows) of `hidden`.
    std::vector<float> fused(const HiddenRows& hidden, int first, int rows) const;
    // The observed pairs into the head's cache, and with them (one pass, so the layer's weights are read
    // once a round) the root step: the newest verified feature with the pending token. Returns the root
    // step's output row; its draft logits go to `logits`.
    std::vector<float> catch_up_and_root(std::int32_t pending, std::vector<float>& logits);
    std::shared_ptr<const Qwen3Model> target_;
    std::shared_ptr<EagleHead> head_;
    int width_;
    bool soft_;  // soft_drafts option: 0 keeps greedy one-hot drafts when the target samples (for comparison)
    KvCache cache_;
    int committed_ = 0;                         // head cache rows that hold verified (feature, token) pairs
    std::vector<float> last_g_;                 // the newest fused feature not yet paired with its next token
    std::vector<std::int32_t> backlog_tokens_;  // observed, not yet through the head
    HiddenRows backlog_hidden_;
};

}  // namespace ternspec
