#include "drafters/scored_tree.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace ternspec {

std::vector<std::pair<int, double>> top_log_probs(const float* logits, int n, int width) {
    const float mx = *std::max_element(logits, logits + n);
    double z = 0;
    for (int i = 0; i < n; ++i) z += std::exp(static_cast<double>(logits[i] - mx));
    const double log_z = std::log(z);
    std::vector<int> order(static_cast<std::size_t>(n));
    std::iota(order.begin(), order.end(), 0);
    width = std::min(width, n);
    std::partial_sort(order.begin(), order.begin() + width, order.end(),
                      [&](int a, int b) { return logits[a] > logits[b]; });
    std::vector<std::pair<int, double>> out;
    for (int c = 0; c < width; ++c) {
        const int id = order[static_cast<std::size_t>(c)];
        out.emplace_back(id, static_cast<double>(logits[id] - mx) - log_z);
    }
    return out;
}

std::vector<int> best_nodes(const std::vector<ScoredNode>& nodes, std::vector<int> candidates, int width) {
    std::stable_sort(candidates.begin(), candidates.end(), [&](int a, int b) {
        return nodes[static_cast<std::size_t>(a)].score > nodes[static_cast<std::size_t>(b)].score;
    });
    if (static_cast<int>(candidates.size()) > width) candidates.resize(static_cast<std::size_t>(width));
    return candidates;
}

SampledChildren sample_children(const float* logits, int n,
                                const std::function<std::int32_t(std::int32_t)>& to_target, int target_vocab,
                                int width, const SamplingParams& sp, Rng& rng) {
    const auto draft_q = target_distribution(logits, n, sp);
    auto q = std::make_shared<std::vector<float>>(static_cast<std::size_t>(target_vocab), 0.0f);
    for (int i = 0; i < n; ++i)
        if (draft_q[static_cast<std::size_t>(i)] > 0)
            (*q)[static_cast<std::size_t>(to_target(i))] = draft_q[static_cast<std::size_t>(i)];
    SampledChildren out;
    std::vector<float> left = *q;
    const auto support = std::count_if(left.begin(), left.end(), [](float v) { return v > 0; });
    for (int c = 0; c < width && c < support; ++c) {
        const auto id = rng.draw(left);
        out.children.emplace_back(id, std::log(static_cast<double>((*q)[static_cast<std::size_t>(id)])));
        left[static_cast<std::size_t>(id)] = 0.0f;
    }
    out.q = std::move(q);
    return out;
}

std::vector<std::pair<std::int32_t, double>> pick_children(
    const float* logits, int n, const std::function<std::int32_t(std::int32_t)>& to_target, int target_vocab,
    int width, const SamplingParams* sampling, Rng* rng, int parent, ChildDists& dists) {
    std::vector<std::pair<std::int32_t, double>> out;
    if (!sampling) {
        for (const auto& [id, lp] : top_log_probs(logits, n, width)) out.emplace_back(to_target(id), lp);
        return out;
    }
    auto s = sample_children(logits, n, to_target, target_vocab, width, *sampling, *rng);
    dists.resize(std::max(dists.size(), static_cast<std::size_t>(parent + 2)));
    dists[static_cast<std::size_t>(parent + 1)] = std::move(s.q);
    return s.children;
}

DraftTree assemble_draft(const std::vector<ScoredNode>& nodes, bool chain, int max_nodes,
                         const ChildDists* dists) {
    std::vector<int> keep(nodes.size());
    std::iota(keep.begin(), keep.end(), 0);
    if (!chain && dists) {
        if (static_cast<int>(keep.size()) > max_nodes) keep.resize(static_cast<std::size_t>(max_nodes));
    } else if (!chain) {
        keep = best_nodes(nodes, std::move(keep), max_nodes);
        std::vector<char> kept(nodes.size(), 0);
        for (int k : keep) kept[static_cast<std::size_t>(k)] = 1;
        // Drop any node whose parent fell out (possible with ties).
        keep.erase(std::remove_if(keep.begin(), keep.end(),
                                  [&](int k) {
                                      for (int a = nodes[static_cast<std::size_t>(k)].parent; a >= 0;
                                           a = nodes[static_cast<std::size_t>(a)].parent)
                                          if (!kept[static_cast<std::size_t>(a)]) return true;
                                      return false;
                                  }),
                   keep.end());
        std::stable_sort(keep.begin(), keep.end(), [&](int a, int b) {
            return nodes[static_cast<std::size_t>(a)].depth < nodes[static_cast<std::size_t>(b)].depth;
        });
    }
    DraftTree out;
    std::vector<int> index(nodes.size(), -1);
    for (int k : keep) {
        const ScoredNode& n = nodes[static_cast<std::size_t>(k)];
        index[static_cast<std::size_t>(k)] = static_cast<int>(out.size());
        out.add(n.token, n.parent < 0 ? -1 : index[static_cast<std::size_t>(n.parent)]);
    }
    if (dists && !dists->empty()) {
        out.dist.assign(out.size() + 1, nullptr);
        out.dist[0] = (*dists)[0];
        for (int k : keep)
            if (static_cast<std::size_t>(k + 1) < dists->size())
                out.dist[static_cast<std::size_t>(index[static_cast<std::size_t>(k)] + 1)] =
                    (*dists)[static_cast<std::size_t>(k + 1)];
    }
    return out;
}

}  // namespace ternspec
