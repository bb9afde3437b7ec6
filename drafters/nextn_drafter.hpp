#pragma once
// Qwen3.5's own MTP layer as a drafter (a qwen35 file's nextn layer; docs/mtp.md): one gated-attention
// module applied once per drafted token, as llama.cpp and vLLM run it. Row j pairs the target's final state
// at j (after its output norm) with token t[j + 1] and predicts t[j + 2]; verified rows stay in the module's
// KV cache, so a round only catches up the newest. Each drafted token is one more row, fed the output of the
// row that drafted it (after shared_head_norm) and appended after the verified rows, which the next round
// drops. A tree expands the `width` best nodes per depth, each row attending to its own ancestors' rows.
#include <memory>

#include "drafters/drafter.hpp"
#include "drafters/mtp_modules.hpp"

namespace ternspec {

class NextnDrafter : public Drafter {
  public:
    NextnDrafter(const DrafterOptions& o, std::shared_ptr<const Qwen3Model> target,
                 std::shared_ptr<MtpModules> mods);
    std::string name() const override { return "mtp"; }
    std::vector<int> hidden_layers() const override;
    void begin(std::span<const std::int32_t> prompt, const HiddenRows* hidden) override;
    void observe(std::span<const std::int32_t> cached, const HiddenRows* hidden) override;
    DraftTree propose(std::span<const std::int32_t> context, const DraftBudget& budget) override;
    void catch_up(std::span<const std::int32_t> verified, int max_depth) override;
    std::size_t weight_bytes_per_draft(int depth) const override;
    std::unique_ptr<Drafter> sibling() const override;

  private:
    void rows_up_to(std::span<const std::int32_t> context);
    std::shared_ptr<const Qwen3Model> target_;
    std::shared_ptr<MtpModules> mods_;
    int max_depth_, width_;
    bool soft_;  // soft_drafts option: 0 keeps greedy one-hot drafts when the target samples (for comparison)
    KvCache cache_;
    int committed_ = 0;            // verified rows in the cache
    std::vector<float> hidden_;    // the target's final pre-norm state of every cached token
    std::vector<float> last_out_;  // the module's output at the newest verified row
};

}  // namespace ternspec
