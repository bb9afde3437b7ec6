#pragma once
// MTP drafting (docs/mtp.md). Module d's row j pairs the previous state at j with token t[j+d+1]; rows
// whose token is verified are committed to the module's KV cache and kept (they never need rolling back),
// so a round only catches each module up to the newest verified tokens, lazily: a module that is not used
// this round catches up when it next is. Drafting then runs module d over the rows that depend on drafted
// tokens (d rows for depth d + 1), exactly as training's teacher forcing laid them out, and a tree expands
// the `width` best nodes per depth (top-`width` children each).
#include <memory>

#include "drafters/drafter.hpp"
#include "drafters/mtp_modules.hpp"
#include "drafters/scored_tree.hpp"

namespace ternspec {

// The modules o.draft_model names (an InputError when it names none).
std::shared_ptr<MtpModules> load_mtp_modules(const DrafterOptions& o,
                                             std::shared_ptr<const Qwen3Model> target);

class MtpDrafter : public Drafter {
  public:
    MtpDrafter(const DrafterOptions& o, std::shared_ptr<const Qwen3Model> target);
    MtpDrafter(const DrafterOptions& o, std::shared_ptr<const Qwen3Model> target,
               std::shared_ptr<MtpModules> mods);
    std::string name() const override { return "mtp"; }
    std::vector<int> hidden_layers() const override;
    void begin(std::span<const std::int32_t> prompt, const HiddenRows* hidden) override;
    void observe(std::span<const std::int32_t> cached, const HiddenRows* hidden) override;
    DraftTree propose(std::span<const std::int32_t> context, const DraftBudget& budget) override;
    void catch_up(std::span<const std::int32_t> verified, int max_depth) override;
    std::size_t weight_bytes_per_draft(int depth) const override;
    const MtpModules& modules() const { return *mods_; }
    int depth() const { return depth_; }
    // Another drafter on the same modules (a server's slots share one copy); its own caches and state.
    std::unique_ptr<Drafter> sibling() const override;

  private:
    struct SiblingOf {};
    MtpDrafter(const MtpDrafter& proto, SiblingOf);
    void make_caches();
    struct DraftRows {  // rows of a draft pass through one module
        std::vector<float> prev;
        std::vector<std::int32_t> tokens, positions;
        std::vector<std::vector<int>> slots;
    };
    std::vector<float> run_module(int d, std::span<const std::int32_t> context, const DraftRows& draft);
    DraftRows frontier_rows(int d, int first, const std::vector<int>& frontier,
                            const std::vector<ScoredNode>& nodes,
                            const std::vector<std::vector<float>>& pass) const;
    std::shared_ptr<const Qwen3Model> target_;
    std::shared_ptr<MtpModules> mods_;
    int depth_, width_;
    bool soft_;  // soft_drafts option: 0 keeps greedy one-hot drafts when the target samples (for comparison)
    std::vector<KvCache> caches_;
    std::vector<int> committed_;            // rows in each module's cache, all verified
    std::vector<float> hidden_;             // the target's final pre-norm state of every cached token
    std::vector<std::vector<float>> outs_;  // each module's output of every committed row
};

}  // namespace ternspec
