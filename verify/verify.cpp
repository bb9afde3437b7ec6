#include "verify/verify.hpp"

#include <algorithm>

namespace ternspec {
namespace {

std::vector<std::vector<int>> children_of(const DraftTree& d) {
    std::vector<std::vector<int>> ch(d.size() + 1);
    for (std::size_t i = 0; i < d.size(); ++i)
        ch[static_cast<std::size_t>(d.parents[i] + 1)].push_back(static_cast<int>(i));
    return ch;
}

void normalise(std::vector<float>& v) {
    double t = 0;
    for (float x : v) t += x;
    if (t > 0)
        for (auto& x : v) x = static_cast<float>(x / t);
}

// The draft tokens from the root's child to node slot - 1 (empty for the root's row).
std::vector<std::int32_t> path_to(const DraftTree& d, int slot) {
    std::vector<std::int32_t> path;
    for (int i = slot - 1; i >= 0; i = d.parents[static_cast<std::size_t>(i)])
        path.push_back(d.tokens[static_cast<std::size_t>(i)]);
    std::reverse(path.begin(), path.end());
    return path;
}

// Row `slot` of the logits as the sampler sees it: with a repeat penalty, over the context and the draft
// path to the slot, and masked by `mask` (copied into `buf`); the row itself otherwise.
const float* slot_logits(const DraftTree& d, const float* logits, int slot, int vocab,
                         const SamplingParams& sp, std::span<const std::int32_t> context,
                         std::vector<float>& buf, const RowMask* mask) {
    const float* row = logits + static_cast<std::size_t>(slot) * vocab;
    if (!sp.penalized() && !mask) return row;
    const auto path = path_to(d, slot);
    buf.assign(row, row + vocab);
    if (sp.penalized()) {
        // Only the penalty's window of the context can matter: not a copy of the whole sequence per row.
        const std::size_t window = sp.repeat_last_n < 0
                                       ? context.size()
                                       : std::min(context.size(), static_cast<std::size_t>(sp.repeat_last_n));
        std::vector<std::int32_t> seq(context.end() - static_cast<std::ptrdiff_t>(window), context.end());
        seq.insert(seq.end(), path.begin(), path.end());
        apply_repeat_penalty(buf.data(), vocab, sp, seq);
    }
    if (mask) mask->apply(buf.data(), path);
    return buf.data();
}

// The greedy choice at `slot`: the (penalised) argmax when the mask admits it, else the masked row's.
std::int32_t greedy_choice(const DraftTree& d, const float* logits, int slot, int vocab,
                           const SamplingParams& sp, std::span<const std::int32_t> context,
                           std::vector<float>& buf, const RowMask* mask) {
    const std::int32_t want = argmax(slot_logits(d, logits, slot, vocab, sp, context, buf, nullptr), vocab);
    if (!mask || mask->admits(path_to(d, slot), want)) return want;
    return argmax(slot_logits(d, logits, slot, vocab, sp, context, buf, mask), vocab);
}

}  // namespace

Verdict verify_greedy(const DraftTree& draft, const float* logits, int vocab, const SamplingParams& sp,
                      std::span<const std::int32_t> context, const RowMask* mask) {
    const auto ch = children_of(draft);
    Verdict v;
    std::vector<float> buf;
    int slot = 0;  // 0: root, i + 1: node i
    for (;;) {
        const std::int32_t want = greedy_choice(draft, logits, slot, vocab, sp, context, buf, mask);
        int next = -1;
        for (int c : ch[static_cast<std::size_t>(slot)])
            if (draft.tokens[static_cast<std::size_t>(c)] == want) {
                next = c;
                break;
            }
        if (next < 0) {
            v.next_token = want;
            return v;
        }
        v.accepted_nodes.push_back(next);
        slot = next + 1;
    }
}

Verdict verify_stochastic(const DraftTree& draft, const float* logits, int vocab, const SamplingParams& sp,
                          Rng& rng, std::span<const std::int32_t> context, const RowMask* mask) {
    const auto ch = children_of(draft);
    Verdict v;
    std::vector<float> buf;
    int slot = 0;
    for (;;) {
        std::vector<float> p =
            target_distribution(slot_logits(draft, logits, slot, vocab, sp, context, buf, mask), vocab, sp);
        const auto& dptr = static_cast<std::size_t>(slot) < draft.dist.size()
                               ? draft.dist[static_cast<std::size_t>(slot)]
                               : nullptr;
        const bool soft = dptr && static_cast<int>(dptr->size()) == vocab;
        std::vector<float> q = soft ? *dptr : std::vector<float>();
        int next = -1;
        for (int c : ch[static_cast<std::size_t>(slot)]) {
            const auto tok = static_cast<std::size_t>(draft.tokens[static_cast<std::size_t>(c)]);
            if (soft) {
                const float qx = q[tok];
                const double accept = qx > 0 ? std::min(1.0, static_cast<double>(p[tok]) / qx) : 0.0;
                if (qx > 0 && rng.uniform() < accept) {
                    next = c;
                    break;
                }
                for (std::size_t i = 0; i < p.size(); ++i) p[i] = std::max(0.0f, p[i] - q[i]);
                normalise(p);
                q[tok] = 0.0f;
                normalise(q);
            } else {
                if (rng.uniform() < p[tok]) {
                    next = c;
                    break;
                }
                p[tok] = 0.0f;
                normalise(p);
            }
        }
        if (next < 0) {
            double left = 0;
            for (float x : p) left += x;
            // Rounding can leave nothing after every child was rejected; the last child then had p' = 1.
            if (left > 0 || ch[static_cast<std::size_t>(slot)].empty()) {
                v.next_token = rng.draw(p);
                return v;
            }
            next = ch[static_cast<std::size_t>(slot)].back();
        }
        v.accepted_nodes.push_back(next);
        slot = next + 1;
    }
}

}  // namespace ternspec
