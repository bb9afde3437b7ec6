#include "drafters/mtp_drafter.hpp"

#include <numeric>

#include "drafters/scored_tree.hpp"
#include "target/model/attention.hpp"
#include "target/model/qwen3_model.hpp"
#include "ternspec/error.hpp"

namespace ternspec {

std::shared_ptr<MtpModules> load_mtp_modules(const DrafterOptions& o,
                                             std::shared_ptr<const Qwen3Model> target) {
    if (!o.draft_model.empty()) return MtpModules::load(o.draft_model, std::move(target));
    // A target file that carries MTP layers (a Bonsai 2 GGUF with Qwen3.5's nextn layer) drafts with them.
    if (!target->mtp_layers_path().empty()) return MtpModules::load(target->mtp_layers_path(), target);
    throw InputError(
        "the mtp drafter needs a draft model: an MTP sidecar folder or a GGUF with nextn "
        "layers (the target's file has none)");
}

MtpDrafter::MtpDrafter(const DrafterOptions& o, std::shared_ptr<const Qwen3Model> target)
    : MtpDrafter(o, target, load_mtp_modules(o, target)) {}

MtpDrafter::MtpDrafter(const DrafterOptions& o, std::shared_ptr<const Qwen3Model> target,
                       std::shared_ptr<MtpModules> mods)
    : target_(std::move(target)),
      mods_(std::move(mods)),
      depth_(static_cast<int>(o.get("mtp_depth", mods_->depth()))),
      width_(static_cast<int>(o.get("mtp_width", 4))),
      soft_(o.get("soft_drafts", 1) != 0) {
    if (mods_->recursive())
        throw Error(o.draft_model + ": Qwen3.5's nextn layers are drafted by NextnDrafter, not MtpDrafter");
    if (depth_ < 1 || depth_ > mods_->depth())
        throw InputError("mtp_depth " + std::to_string(depth_) + " is outside 1.." +
                         std::to_string(mods_->depth()) + " (the modules in " + o.draft_model + ")");
    if (width_ < 1 || width_ > 16) throw InputError("mtp_width must be between 1 and 16");
    make_caches();
}

MtpDrafter::MtpDrafter(const MtpDrafter& proto, SiblingOf)
    : target_(proto.target_),
      mods_(proto.mods_),
      depth_(proto.depth_),
      width_(proto.width_),
      soft_(proto.soft_) {
    make_caches();
}

void MtpDrafter::make_caches() {
    const int capacity = target_->config().context_length + width_ * depth_ * depth_ + 8;
    for (int d = 0; d < depth_; ++d) caches_.push_back(mods_->make_cache(capacity));
    committed_.assign(static_cast<std::size_t>(depth_), 0);
    outs_.resize(static_cast<std::size_t>(depth_));
}

std::unique_ptr<Drafter> MtpDrafter::sibling() const {
    return std::unique_ptr<Drafter>(new MtpDrafter(*this, SiblingOf{}));
}

std::size_t MtpDrafter::weight_bytes_per_draft(int depth) const {
    std::size_t b = 0;
    for (int d = 0; d < std::min(depth, depth_); ++d) b += mods_->step_bytes(d);
    return b;
}

std::vector<int> MtpDrafter::hidden_layers() const {
    return {target_->config().n_layers};
}

void MtpDrafter::begin(std::span<const std::int32_t> prompt, const HiddenRows* hidden) {
    for (auto& c : caches_) c.truncate(0);
    std::fill(committed_.begin(), committed_.end(), 0);
    for (auto& o : outs_) o.clear();
    hidden_.clear();
    observe(prompt, hidden);
}

void MtpDrafter::observe(std::span<const std::int32_t> cached, const HiddenRows* hidden) {
    append_final_hidden(*target_, cached, hidden, hidden_);
}

// Module d commits row j once t[j + d + 1] is verified: rows 0 .. N - 2 - d for a context of N tokens. The
// rows it has yet to commit and `draft` rows (rolled back next round) go through one forward, so the
// module's weights are read once a round. Returns the draft rows' outputs.
std::vector<float> MtpDrafter::run_module(int d, std::span<const std::int32_t> ctx, const DraftRows& draft) {
    const int H = target_->config().hidden_size, N = static_cast<int>(ctx.size());
    auto& cache = caches_[static_cast<std::size_t>(d)];
    int& done = committed_[static_cast<std::size_t>(d)];
    cache.truncate(done);  // the last round's draft rows
    const int count = std::max(0, N - 1 - d - done);
    if (count == 0 && draft.tokens.empty()) return {};
    const auto& src = d == 0 ? hidden_ : outs_[static_cast<std::size_t>(d - 1)];
    std::vector<float> prev(src.begin() + static_cast<std::ptrdiff_t>(done) * H,
                            src.begin() + static_cast<std::ptrdiff_t>(done + count) * H);
    prev.insert(prev.end(), draft.prev.begin(), draft.prev.end());
    std::vector<std::int32_t> toks(ctx.begin() + done + d + 1, ctx.begin() + done + d + 1 + count);
    toks.insert(toks.end(), draft.tokens.begin(), draft.tokens.end());
    std::vector<std::int32_t> pos(static_cast<std::size_t>(count));
    std::iota(pos.begin(), pos.end(), done);
    pos.insert(pos.end(), draft.positions.begin(), draft.positions.end());
    auto slots = attention_slots(done, count, {});
    slots.insert(slots.end(), draft.slots.begin(), draft.slots.end());
    const auto out = mods_->forward(d, cache, prev.data(), toks, pos, slots);
    auto& committed_out = outs_[static_cast<std::size_t>(d)];
    committed_out.insert(committed_out.end(), out.begin(),
                         out.begin() + static_cast<std::ptrdiff_t>(count) * H);
    done += count;
    return {out.begin() + static_cast<std::ptrdiff_t>(count) * H, out.end()};
}

// Module d's rows for the frontier nodes: per node, rows first .. first + d - 1 conditioned on its path
// x_1 .. x_d. Row `first` reads module d-1's last committed output, later rows its outputs in the parent's
// pass; each row attends to the committed rows and its own chain (slots from `first` on).
MtpDrafter::DraftRows MtpDrafter::frontier_rows(int d, int first, const std::vector<int>& frontier,
                                                const std::vector<ScoredNode>& nodes,
                                                const std::vector<std::vector<float>>& pass) const {
    const int H = target_->config().hidden_size, rows = d, G = static_cast<int>(frontier.size());
    const int base = first;
    DraftRows draft;
    draft.prev.resize(static_cast<std::size_t>(G) * rows * H);
    const auto& committed_prev = outs_[static_cast<std::size_t>(d - 1)];
    for (int g = 0; g < G; ++g) {
        const int node = frontier[static_cast<std::size_t>(g)];
        std::vector<std::int32_t> path;
        for (int a = node; a >= 0; a = nodes[static_cast<std::size_t>(a)].parent)
            path.insert(path.begin(), nodes[static_cast<std::size_t>(a)].token);
        const int parent = nodes[static_cast<std::size_t>(node)].parent;
        for (int i = 0; i < rows; ++i) {
            const float* src =
                i == 0 ? committed_prev.data() + static_cast<std::size_t>(first) * H
                       : pass[static_cast<std::size_t>(parent)].data() + static_cast<std::size_t>(i - 1) * H;
            std::copy_n(src, H, draft.prev.begin() + (static_cast<std::ptrdiff_t>(g) * rows + i) * H);
            draft.tokens.push_back(path[static_cast<std::size_t>(i)]);
            draft.positions.push_back(first + i);
            std::vector<int> sl(static_cast<std::size_t>(first));
            std::iota(sl.begin(), sl.end(), 0);
            for (int k = 0; k <= i; ++k) sl.push_back(base + g * rows + k);
            draft.slots.push_back(std::move(sl));
        }
    }
    return draft;
}

void MtpDrafter::catch_up(std::span<const std::int32_t> verified, int max_depth) {
    // The modules a draft of max_depth uses, over every row the verified tokens complete.
    for (int d = 0; d < std::min(max_depth, depth_); ++d) run_module(d, verified, {});
}

DraftTree MtpDrafter::propose(std::span<const std::int32_t> ctx, const DraftBudget& budget) {
    const int H = target_->config().hidden_size, V = mods_->draft_vocab_size(),
              N = static_cast<int>(ctx.size());
    if (static_cast<int>(hidden_.size() / static_cast<std::size_t>(H)) != N - 1)
        throw Error("MTP drafter: " + std::to_string(hidden_.size() / static_cast<std::size_t>(H)) +
                    " hidden rows for a context of " + std::to_string(N) + " tokens");
    const int max_depth = std::min({budget.max_depth, depth_, N - 1});
    if (max_depth < 1) return {};
    const bool chain = budget.max_nodes == 0;
    const int width = chain ? 1 : width_;
    run_module(0, ctx, {});  // module 0's newest committed row gives depth 1; later modules catch up below

    std::vector<ScoredNode> nodes;
    std::vector<std::vector<float>> pass;  // per expanded node: its module's outputs over the drafted rows
    // Greedy: the `width` most likely draft tokens. Sampling: `width` draws from the head's processed
    // distribution, which goes into the draft for verification (soft drafts).
    const bool soft = soft_ && budget.soft();
    ChildDists dists;
    const auto to_target = [&](std::int32_t id) { return mods_->to_target(id); };
    auto children = [&](const float* logits, int parent, int depth, double base, std::vector<int>& made) {
        for (const auto& [id, lp] :
             pick_children(logits, V, to_target, target_->config().vocab_size, width,
                           soft ? budget.sampling : nullptr, budget.rng, parent, dists)) {
            nodes.push_back({id, parent, depth, base + lp});
            pass.emplace_back();
            made.push_back(static_cast<int>(nodes.size()) - 1);
        }
    };
    // Depth 1: module 0's committed row N - 2 (the newest hidden state with the pending token).
    std::vector<float> logits(static_cast<std::size_t>(V));
    mods_->logits(0, outs_[0].data() + static_cast<std::size_t>(N - 2) * H, 1, logits.data());
    std::vector<int> frontier;
    children(logits.data(), -1, 1, 0.0, frontier);
    for (int depth = 2; depth <= max_depth; ++depth) {
        // Module d = depth - 1 over rows N - 1 - d .. N - 2: row N - 1 - d is its first uncommitted row; row
        // j conditions on t[j + d + 1], i.e. the node's path x_1 .. x_d.
        const int d = depth - 1, first = N - 1 - d, rows = d;
        frontier = best_nodes(nodes, std::move(frontier), width);
        const int G = static_cast<int>(frontier.size());
        const int base = first;  // the draft rows follow the module's rows committed in the same forward
        const DraftRows draft = frontier_rows(d, first, frontier, nodes, pass);
        if (base + G * rows > caches_[static_cast<std::size_t>(d)].capacity()) break;
        const auto out = run_module(d, ctx, draft);
        std::vector<float> last(static_cast<std::size_t>(G) * H);
        for (int g = 0; g < G; ++g)
            std::copy_n(out.begin() + (static_cast<std::ptrdiff_t>(g) * rows + rows - 1) * H, H,
                        last.begin() + static_cast<std::ptrdiff_t>(g) * H);
        logits.resize(static_cast<std::size_t>(G) * V);
        mods_->logits(d, last.data(), G, logits.data());
        std::vector<int> next;
        for (int g = 0; g < G; ++g) {
            const auto k = static_cast<std::size_t>(frontier[static_cast<std::size_t>(g)]);
            pass[k].assign(out.begin() + static_cast<std::ptrdiff_t>(g) * rows * H,
                           out.begin() + static_cast<std::ptrdiff_t>(g + 1) * rows * H);
            children(logits.data() + static_cast<std::size_t>(g) * V, frontier[static_cast<std::size_t>(g)],
                     depth, nodes[k].score, next);
        }
        frontier = std::move(next);
    }
    return assemble_draft(nodes, chain, budget.max_nodes, soft ? &dists : nullptr);
}

}  // namespace ternspec
