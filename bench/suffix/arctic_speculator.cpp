#include "bench/suffix/arctic_speculator.hpp"

#include <algorithm>

#include "suffix_tree.h"

namespace ternspec::bench {
namespace {

class Arctic : public Speculator {
  public:
    explicit Arctic(const ArcticOptions& o) : o_(o), global_(o.max_depth) {}
    void start(std::span<const std::int32_t> prompt) override {
        local_ = std::make_unique<SuffixTree>(o_.max_depth);
        local_->extend(0, prompt);
        ++seq_;
        synced_ = prompt.size();
        prompt_ = prompt.size();
    }
    DraftTree propose(std::span<const std::int32_t> ctx, const DraftBudget& b) override {
        // The response tokens up to the pending one go in first, as add_active_response does every step.
        if (synced_ < ctx.size()) {
            const auto fresh = ctx.subspan(synced_);
            local_->extend(0, fresh);
            global_.extend(seq_, fresh);
            synced_ = ctx.size();
        }
        const auto tail =
            ctx.subspan(ctx.size() - std::min<std::size_t>(ctx.size(), std::size_t(o_.max_depth)));
        const bool tree = b.max_nodes > 0;
        const int max_tokens = tree ? b.max_nodes : b.max_depth;
        auto d1 = local_->speculate(tail, max_tokens, o_.max_spec_factor, o_.max_spec_offset,
                                    o_.min_token_prob, tree);
        auto d2 = global_.speculate(tail, max_tokens, o_.max_spec_factor, o_.max_spec_offset,
                                    o_.min_token_prob, tree);
        const Draft& d = d1.score >= d2.score ? d1 : d2;
        DraftTree out;
        remap_.assign(d.token_ids.size(), -1);
        for (std::size_t i = 0; i < d.token_ids.size(); ++i) {
            // Arctic's tree mode limits nodes, not depth: keep the budget's depth as every verifier must.
            int depth = 1;
            for (int p = d.parents[i]; p >= 0; p = d.parents[static_cast<std::size_t>(p)]) ++depth;
            if (depth > b.max_depth) continue;
            out.add(d.token_ids[i], d.parents[i] < 0 ? -1 : remap_[static_cast<std::size_t>(d.parents[i])]);
            remap_[i] = static_cast<std::int32_t>(out.size()) - 1;
        }
        return out;
    }
    void cached(std::span<const std::int32_t>) override {}  // synced from the context in propose
    void finish(std::span<const std::int32_t> output) override {
        const std::size_t done = synced_ - prompt_;  // response tokens already in the trees
        if (done < output.size()) global_.extend(seq_, output.subspan(done));
        local_.reset();
    }

  private:
    ArcticOptions o_;
    SuffixTree global_;
    std::unique_ptr<SuffixTree> local_;
    int seq_ = 0;
    std::size_t synced_ = 0, prompt_ = 0;
    std::vector<std::int32_t> remap_;
};

}  // namespace

std::unique_ptr<Speculator> make_arctic(const ArcticOptions& o) {
    return std::make_unique<Arctic>(o);
}

}  // namespace ternspec::bench
