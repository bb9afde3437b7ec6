#include "drafters/eagle_drafter.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "drafters/scored_tree.hpp"
#include "target/model/attention.hpp"
#include "target/model/qwen3_model.hpp"
#include "ternspec/error.hpp"

namespace ternspec {

EagleDrafter::EagleDrafter(const DrafterOptions& o, std::shared_ptr<const Qwen3Model> target)
    : target_(std::move(target)),
      head_(o.draft_model.empty()
                ? throw InputError(
                      "the eagle drafter needs a draft model: an EAGLE-3 head (--draft-model PATH)")
                : EagleHead::load(o.draft_model, target_, o.text("eagle_layer_convention", ""))),
      width_(static_cast<int>(o.get("eagle_width", 4))),
      soft_(o.get("soft_drafts", 1) != 0),
      cache_(head_->make_cache(target_->config().context_length + kMaxDraftTokens)) {
    if (width_ < 1 || width_ > 16) throw InputError("eagle_width must be between 1 and 16");
}

EagleDrafter::EagleDrafter(const EagleDrafter& proto, SiblingOf)
    : target_(proto.target_),
      head_(proto.head_),
      width_(proto.width_),
      soft_(proto.soft_),
      cache_(head_->make_cache(target_->config().context_length + kMaxDraftTokens)) {}

std::unique_ptr<Drafter> EagleDrafter::sibling() const {
    return std::unique_ptr<Drafter>(new EagleDrafter(*this, SiblingOf{}));
}

std::vector<float> EagleDrafter::fused(const HiddenRows& hidden, int first, int rows) const {
    const int H = target_->config().hidden_size;
    std::vector<float> cat(static_cast<std::size_t>(rows) * 3 * H);
    const auto& layers = head_->config().aux_layers;
    for (int l = 0; l < 3; ++l) {
        auto it = hidden.find(layers[static_cast<std::size_t>(l)]);
        if (it == hidden.end() || it->second.size() < static_cast<std::size_t>(first + rows) * H)
            throw Error("EAGLE drafter: the target did not return hidden states of layer " +
                        std::to_string(layers[static_cast<std::size_t>(l)]));
        for (int r = 0; r < rows; ++r)
            std::copy_n(
                it->second.begin() + static_cast<std::ptrdiff_t>(first + r) * H, H,
                cat.begin() + static_cast<std::ptrdiff_t>(r) * 3 * H + static_cast<std::ptrdiff_t>(l) * H);
    }
    return head_->fuse(cat.data(), rows);
}

void EagleDrafter::begin(std::span<const std::int32_t> prompt, const HiddenRows* hidden) {
    if (!hidden) throw Error("EAGLE drafter: begin() needs the prompt's hidden states");
    const int n = static_cast<int>(prompt.size()), H = target_->config().hidden_size;
    cache_.truncate(0);
    committed_ = 0;
    backlog_tokens_.clear();
    backlog_hidden_.clear();
    last_g_ = fused(*hidden, 0, 1);
    // The prompt's pairs (feature of token j, token j + 1) wait in the backlog like observed ones, so a
    // request whose rounds never draft (-k auto on a model where drafting does not pay) never runs the head.
    backlog_tokens_.assign(prompt.begin() + 1, prompt.end());
    for (const auto& [layer, rows] : *hidden)
        if (rows.size() >= static_cast<std::size_t>(n) * H)
            backlog_hidden_[layer].assign(rows.begin() + H,
                                          rows.begin() + static_cast<std::ptrdiff_t>(n) * H);
}

void EagleDrafter::observe(std::span<const std::int32_t> cached, const HiddenRows* hidden) {
    if (!hidden) throw Error("EAGLE drafter: observe() needs hidden states");
    // Kept until the next propose(): rounds that do not draft (-k auto) then cost nothing here, and
    // several rounds' pairs go through the head in one batched pass.
    backlog_tokens_.insert(backlog_tokens_.end(), cached.begin(), cached.end());
    for (const auto& [layer, rows] : *hidden)
        backlog_hidden_[layer].insert(backlog_hidden_[layer].end(), rows.begin(), rows.end());
}

std::vector<float> EagleDrafter::catch_up_and_root(std::int32_t pending, std::vector<float>& logits) {
    const int m = static_cast<int>(backlog_tokens_.size()), H = head_->config().hidden;
    cache_.truncate(committed_);  // drop the draft steps of the last round
    // Pairs: (previous feature, cached[0]), (feature of cached[i - 1], cached[i]), then the root step
    // (feature of the last cached token, pending).
    std::vector<float> inputs(static_cast<std::size_t>(m + 1) * H);
    std::copy(last_g_.begin(), last_g_.end(), inputs.begin());
    if (m > 0) {
        const auto g = fused(backlog_hidden_, 0, m);
        std::copy(g.begin(), g.end(), inputs.begin() + H);
        last_g_.assign(g.end() - H, g.end());
    }
    std::vector<std::int32_t> tokens(backlog_tokens_);
    tokens.push_back(pending);
    std::vector<std::int32_t> pos(static_cast<std::size_t>(m + 1));
    std::iota(pos.begin(), pos.end(), committed_);
    auto h = head_->forward(cache_, inputs.data(), tokens, pos, attention_slots(committed_, m + 1, {}),
                            &logits, m);
    committed_ += m;
    backlog_tokens_.clear();
    backlog_hidden_.clear();
    return {h.end() - H, h.end()};
}

// The backlog's pairs through the head now (the prompt's, at the start of a request); the root step waits for
// the pending token. The head's rows do not depend on how many share a forward, so this equals the lazy pass.
void EagleDrafter::catch_up(std::span<const std::int32_t> /*verified*/, int max_depth) {
    const int m = static_cast<int>(backlog_tokens_.size()), H = head_->config().hidden;
    if (max_depth < 1 || m == 0 || committed_ + m + 1 > cache_.capacity()) return;
    cache_.truncate(committed_);
    // Pairs (previous feature, cached[0]), (feature of cached[i - 1], cached[i]).
    const auto g = fused(backlog_hidden_, 0, m);
    std::vector<float> inputs(static_cast<std::size_t>(m) * H);
    std::copy(last_g_.begin(), last_g_.end(), inputs.begin());
    std::copy(g.begin(), g.end() - H, inputs.begin() + H);
    last_g_.assign(g.end() - H, g.end());
    std::vector<std::int32_t> pos(static_cast<std::size_t>(m));
    std::iota(pos.begin(), pos.end(), committed_);
    head_->forward(cache_, inputs.data(), backlog_tokens_, pos, attention_slots(committed_, m, {}), nullptr);
    committed_ += m;
    backlog_tokens_.clear();
    backlog_hidden_.clear();
}

DraftTree EagleDrafter::propose(std::span<const std::int32_t> ctx, const DraftBudget& budget) {
    if (budget.max_depth < 1 || ctx.empty()) return {};
    const int H = head_->config().hidden, V = head_->config().draft_vocab;
    const bool chain = budget.max_nodes == 0;
    const int width = chain ? 1 : width_;
    const int backlog = static_cast<int>(backlog_tokens_.size());
    if (committed_ + backlog + 1 + width * budget.max_depth > cache_.capacity()) return {};

    std::vector<ScoredNode> nodes;
    std::vector<int> slot;                // head cache slot of each expanded node
    std::vector<std::vector<float>> out;  // head output of each expanded node (its children's g)
    // Greedy: the `width` most likely draft tokens. Sampling: `width` draws from the head's processed
    // distribution, which goes into the draft for verification (soft drafts).
    const bool soft = soft_ && budget.soft();
    ChildDists dists;
    const auto to_target = [&](std::int32_t id) { return head_->to_target(id); };
    auto children = [&](const float* logits, int parent, int depth, double base, std::vector<int>& made) {
        for (const auto& [id, lp] :
             pick_children(logits, V, to_target, target_->config().vocab_size, width,
                           soft ? budget.sampling : nullptr, budget.rng, parent, dists)) {
            nodes.push_back({id, parent, depth, base + lp});
            slot.push_back(-1);
            out.emplace_back();
            made.push_back(static_cast<int>(nodes.size()) - 1);
        }
    };
    std::vector<float> logits;
    const auto root_h = catch_up_and_root(ctx.back(), logits);
    const int root_slot = committed_;
    std::vector<int> frontier;
    children(logits.data(), -1, 1, 0.0, frontier);
    for (int depth = 2; depth <= budget.max_depth; ++depth) {
        // Expand the `width` best frontier nodes together.
        frontier = best_nodes(nodes, std::move(frontier), width);
        const int M = static_cast<int>(frontier.size());
        std::vector<float> g(static_cast<std::size_t>(M) * H);
        std::vector<std::int32_t> toks, p;
        std::vector<std::vector<int>> slots;
        const int base = cache_.size();
        for (int i = 0; i < M; ++i) {
            const ScoredNode& n = nodes[static_cast<std::size_t>(frontier[static_cast<std::size_t>(i)])];
            const auto& src = n.parent < 0 ? root_h : out[static_cast<std::size_t>(n.parent)];
            std::copy(src.begin(), src.end(), g.begin() + static_cast<std::ptrdiff_t>(i) * H);
            toks.push_back(n.token);
            p.push_back(committed_ + n.depth);
            // Visible: verified pairs, the root step, this node's expanded ancestors, itself.
            std::vector<int> sl(static_cast<std::size_t>(committed_));
            std::iota(sl.begin(), sl.end(), 0);
            sl.push_back(root_slot);
            std::vector<int> anc;
            for (int a = n.parent; a >= 0; a = nodes[static_cast<std::size_t>(a)].parent)
                anc.push_back(slot[static_cast<std::size_t>(a)]);
            sl.insert(sl.end(), anc.rbegin(), anc.rend());
            sl.push_back(base + i);
            slots.push_back(std::move(sl));
        }
        // The head embeds target ids; its logits come back over the draft vocabulary.
        auto h = head_->forward(cache_, g.data(), toks, p, slots, &logits);
        std::vector<int> next;
        for (int i = 0; i < M; ++i) {
            const auto k = static_cast<std::size_t>(frontier[static_cast<std::size_t>(i)]);
            slot[k] = base + i;
            out[k].assign(h.begin() + static_cast<std::ptrdiff_t>(i) * H,
                          h.begin() + static_cast<std::ptrdiff_t>(i + 1) * H);
            children(logits.data() + static_cast<std::size_t>(i) * V, frontier[static_cast<std::size_t>(i)],
                     depth, nodes[k].score, next);
        }
        frontier = std::move(next);
    }
    return assemble_draft(nodes, chain, budget.max_nodes, soft ? &dists : nullptr);
}

}  // namespace ternspec
