#include "drafters/nextn_drafter.hpp"

#include <numeric>

#include "drafters/scored_tree.hpp"
#include "target/model/attention.hpp"
#include "target/model/qwen3_model.hpp"
#include "ternspec/error.hpp"

namespace ternspec {

NextnDrafter::NextnDrafter(const DrafterOptions& o, std::shared_ptr<const Qwen3Model> target,
                           std::shared_ptr<MtpModules> mods)
    : target_(std::move(target)),
      mods_(std::move(mods)),
      max_depth_(static_cast<int>(o.get("mtp_depth", kMaxDraftTokens))),
      width_(static_cast<int>(o.get("mtp_width", 4))),
      soft_(o.get("soft_drafts", 1) != 0),
      cache_(mods_->make_cache(target_->config().context_length + kMaxDraftTokens * 16 + 8)) {
    if (!mods_->recursive()) throw Error(o.draft_model + ": not a qwen35 file's nextn layers");
    if (mods_->depth() != 1)
        throw FormatError(o.draft_model + ": " + std::to_string(mods_->depth()) +
                          " nextn layers; Qwen3.5's MTP has one (llama.cpp runs only one too)");
    if (max_depth_ < 1 || max_depth_ > kMaxDraftTokens)
        throw InputError("mtp_depth " + std::to_string(max_depth_) + " is outside 1.." +
                         std::to_string(kMaxDraftTokens));
    if (width_ < 1 || width_ > 16) throw InputError("mtp_width must be between 1 and 16");
}

std::unique_ptr<Drafter> NextnDrafter::sibling() const {
    DrafterOptions o;
    o.extra = {{"mtp_depth", std::to_string(max_depth_)},
               {"mtp_width", std::to_string(width_)},
               {"soft_drafts", soft_ ? "1" : "0"}};
    return std::make_unique<NextnDrafter>(o, target_, mods_);
}

std::size_t NextnDrafter::weight_bytes_per_draft(int depth) const {
    return static_cast<std::size_t>(std::max(depth, 0)) * mods_->step_bytes(0);
}

std::vector<int> NextnDrafter::hidden_layers() const {
    return {target_->config().n_layers};
}

void NextnDrafter::begin(std::span<const std::int32_t> prompt, const HiddenRows* hidden) {
    cache_.truncate(0);
    committed_ = 0;
    hidden_.clear();
    last_out_.clear();
    observe(prompt, hidden);
}

void NextnDrafter::observe(std::span<const std::int32_t> cached, const HiddenRows* hidden) {
    append_final_hidden(*target_, cached, hidden, hidden_);
}

// Rows committed_ .. N - 2 (each token whose successor is verified) through the module, in one forward.
void NextnDrafter::rows_up_to(std::span<const std::int32_t> ctx) {
    const int H = target_->config().hidden_size, N = static_cast<int>(ctx.size());
    cache_.truncate(committed_);  // the last round's draft rows
    const int count = N - 1 - committed_;
    if (count <= 0) return;
    std::vector<float> prev(static_cast<std::size_t>(count) * H);
    mods_->hidden_in(hidden_.data() + static_cast<std::size_t>(committed_) * H, count, true, prev.data());
    const std::vector<std::int32_t> toks(ctx.begin() + committed_ + 1, ctx.begin() + N);
    std::vector<std::int32_t> pos(static_cast<std::size_t>(count));
    std::iota(pos.begin(), pos.end(), committed_);
    const auto out =
        mods_->forward(0, cache_, prev.data(), toks, pos, attention_slots(committed_, count, {}));
    last_out_.assign(out.end() - H, out.end());
    committed_ += count;
}

void NextnDrafter::catch_up(std::span<const std::int32_t> verified, int max_depth) {
    if (max_depth >= 1 && verified.size() >= 2 &&
        hidden_.size() == verified.size() * static_cast<std::size_t>(target_->config().hidden_size))
        rows_up_to(verified);
}

DraftTree NextnDrafter::propose(std::span<const std::int32_t> ctx, const DraftBudget& budget) {
    const int H = target_->config().hidden_size, V = mods_->draft_vocab_size(),
              N = static_cast<int>(ctx.size());
    if (static_cast<int>(hidden_.size() / static_cast<std::size_t>(H)) != N - 1)
        throw Error("MTP drafter: " + std::to_string(hidden_.size() / static_cast<std::size_t>(H)) +
                    " hidden rows for a context of " + std::to_string(N) + " tokens");
    const int max_depth = std::min(budget.max_depth, max_depth_);
    if (max_depth < 1 || N < 2) return {};
    rows_up_to(ctx);
    const bool chain = budget.max_nodes == 0;
    const int width = chain ? 1 : width_;
    const bool soft = soft_ && budget.soft();
    std::vector<ScoredNode> nodes;
    std::vector<std::vector<float>> out_of;  // per node: output of the row that consumed its token
    std::vector<int> slot_of;                // per node: that row's cache slot
    ChildDists dists;
    const auto to_target = [&](std::int32_t id) { return mods_->to_target(id); };
    auto children = [&](const float* logits, int parent, int depth, double base, std::vector<int>& made) {
        for (const auto& [id, lp] :
             pick_children(logits, V, to_target, target_->config().vocab_size, width,
                           soft ? budget.sampling : nullptr, budget.rng, parent, dists)) {
            nodes.push_back({id, parent, depth, base + lp});
            out_of.emplace_back();
            slot_of.push_back(-1);
            made.push_back(static_cast<int>(nodes.size()) - 1);
        }
    };
    std::vector<float> logits(static_cast<std::size_t>(V));
    mods_->logits(0, last_out_.data(), 1, logits.data());
    std::vector<int> frontier;
    children(logits.data(), -1, 1, 0.0, frontier);
    for (int depth = 2; depth <= max_depth; ++depth) {
        frontier = best_nodes(nodes, std::move(frontier), width);
        const int G = static_cast<int>(frontier.size()), base = cache_.size();
        if (G == 0 || base + G > cache_.capacity()) break;
        // Row g consumes frontier node g's token at position N - 3 + depth, fed the output of the row that
        // drafted it, and attends to the verified rows, its ancestors' rows and itself.
        std::vector<float> raw(static_cast<std::size_t>(G) * H), prev(raw.size());
        std::vector<std::int32_t> toks, pos;
        std::vector<std::vector<int>> slots;
        for (int g = 0; g < G; ++g) {
            const int node = frontier[static_cast<std::size_t>(g)];
            const int parent = nodes[static_cast<std::size_t>(node)].parent;
            const auto& src = parent < 0 ? last_out_ : out_of[static_cast<std::size_t>(parent)];
            std::copy(src.begin(), src.end(), raw.begin() + static_cast<std::ptrdiff_t>(g) * H);
            toks.push_back(nodes[static_cast<std::size_t>(node)].token);
            pos.push_back(N - 3 + depth);
            std::vector<int> sl(static_cast<std::size_t>(committed_));
            std::iota(sl.begin(), sl.end(), 0);
            std::vector<int> up;
            for (int a = parent; a >= 0; a = nodes[static_cast<std::size_t>(a)].parent)
                up.push_back(slot_of[static_cast<std::size_t>(a)]);
            sl.insert(sl.end(), up.rbegin(), up.rend());
            sl.push_back(base + g);
            slots.push_back(std::move(sl));
        }
        mods_->hidden_in(raw.data(), G, false, prev.data());
        const auto out = mods_->forward(0, cache_, prev.data(), toks, pos, slots);
        logits.resize(static_cast<std::size_t>(G) * V);
        mods_->logits(0, out.data(), G, logits.data());
        std::vector<int> next;
        for (int g = 0; g < G; ++g) {
            const auto k = static_cast<std::size_t>(frontier[static_cast<std::size_t>(g)]);
            out_of[k].assign(out.begin() + static_cast<std::ptrdiff_t>(g) * H,
                             out.begin() + static_cast<std::ptrdiff_t>(g + 1) * H);
            slot_of[k] = base + g;
            children(logits.data() + static_cast<std::size_t>(g) * V, frontier[static_cast<std::size_t>(g)],
                     depth, nodes[k].score, next);
        }
        frontier = std::move(next);
    }
    return assemble_draft(nodes, chain, budget.max_nodes, soft ? &dists : nullptr);
}

}  // namespace ternspec
