#pragma once
// Building a draft from a model drafter's scored candidates (EAGLE-2's dynamic tree): nodes carry the
// cumulative log-probability of their path; a tree keeps the best nodes, a chain keeps them all.
#include <cstdint>
#include <utility>
#include <vector>

#include "verify/draft_tree.hpp"

namespace ternspec {

struct ScoredNode {
    std::int32_t token;  // target id
    int parent;          // index into the node list, -1 for a child of the root
    int depth;           // 1 for the root's children
    double score;        // cumulative log-probability of the path
};

// The `width` most likely entries of a logit row, with their log-probabilities.
std::vector<std::pair<int, double>> top_log_probs(const float* logits, int n, int width);

// Indices of the `width` best nodes among `candidates` (by score, ties by position).
std::vector<int> best_nodes(const std::vector<ScoredNode>& nodes, std::vector<int> candidates, int width);

// chain: every node, in order (one per depth). Otherwise the max_nodes best nodes whose ancestors are all
// kept (a child never outscores its parent), parents first.
DraftTree assemble_draft(const std::vector<ScoredNode>& nodes, bool chain, int max_nodes);

}  // namespace ternspec
