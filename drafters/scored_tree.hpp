#pragma once
// Building a draft from a model drafter's scored candidates (EAGLE-2's dynamic tree): nodes carry the
// cumulative log-probability of their path; a tree keeps the best nodes, a chain keeps them all.
#include <cstdint>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include "verify/draft_tree.hpp"
#include "verify/sampler.hpp"

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

// Soft drafting (the target samples): a node's children drawn from the drafter's own distribution q,
// processed as the target's is (temperature, top-k, top-p, min-p), in order and without replacement, which is
// what recursive rejection sampling needs to accept them exactly. q is over target ids: draft id i maps
// through to_target, every other target id has q = 0. Fewer than `width` children when q has fewer tokens.
struct SampledChildren {
    std::vector<std::pair<std::int32_t, double>> children;  // target id and log q, in the order drawn
    std::shared_ptr<const std::vector<float>> q;
};
SampledChildren sample_children(const float* logits, int n,
                                const std::function<std::int32_t(std::int32_t)>& to_target, int target_vocab,
                                int width, const SamplingParams& sp, Rng& rng);

// A node list's children distributions: entry 0 the root's, entry k + 1 node k's (null: not expanded).
using ChildDists = std::vector<std::shared_ptr<const std::vector<float>>>;

// The children of node `parent` (-1: the root) from its draft logits, as (target id, log-probability):
// greedy, the `width` most likely; with `sampling` (soft drafts), `width` draws from q, which goes into
// dists[parent + 1]. What EAGLE and MTP both do at every expanded node.
std::vector<std::pair<std::int32_t, double>> pick_children(
    const float* logits, int n, const std::function<std::int32_t(std::int32_t)>& to_target, int target_vocab,
    int width, const SamplingParams* sampling, Rng* rng, int parent, ChildDists& dists);

// chain: every node, in order (one per depth). Otherwise the max_nodes best nodes whose ancestors are all
// kept (a child never outscores its parent), parents first.
// With `dists` (soft drafts) a tree keeps the first max_nodes nodes in the order they were drawn instead:
// dropping a child by its value would bias what verification accepts, while a prefix of each node's draws
// is still a draw without replacement. The distributions go into the draft.
DraftTree assemble_draft(const std::vector<ScoredNode>& nodes, bool chain, int max_nodes,
                         const ChildDists* dists = nullptr);

}  // namespace ternspec
