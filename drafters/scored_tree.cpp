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

DraftTree assemble_draft(const std::vector<ScoredNode>& nodes, bool chain, int max_nodes) {
    std::vector<int> keep(nodes.size());
    std::iota(keep.begin(), keep.end(), 0);
    if (!chain) {
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
    return out;
}

}  // namespace ternspec
