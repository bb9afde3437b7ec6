#pragma once
// Acceptance of a draft against the target's logits, as pure functions. logits row 0 is the target's
// prediction after the root (pending) token, row i + 1 after draft node i.
#include <cstdint>
#include <span>
#include <vector>

#include "verify/draft_tree.hpp"
#include "verify/sampler.hpp"

namespace ternspec {

struct Verdict {
    std::vector<int> accepted_nodes;  // the accepted path, root's child first
    std::int32_t next_token = -1;     // the target's own token after the path (bonus or correction)
};

// `context` is the sequence so far, ending with the root (pending) token: a repeat penalty in `sp` is
// applied to each row over it and the draft path to that row, as plain decoding would have applied it.

// A constraint on the output (structured output): sets to -infinity, in a row of logits, every token that
// cannot follow the output so far and then `path` (the draft tokens from the root to the row). Applied after
// the penalties, so the target distribution verification preserves is the constrained one.
class RowMask {
  public:
    virtual ~RowMask() = default;
    virtual void apply(float* row, std::span<const std::int32_t> path) const = 0;
    // Whether `token` may follow `path`: greedy verification asks this of the unconstrained argmax first (if
    // allowed, it is the constrained argmax too) and masks the whole row only when it is not.
    virtual bool admits(std::span<const std::int32_t> path, std::int32_t token) const = 0;
};

// Greedy: follow children that equal the target's argmax; then the argmax itself.
Verdict verify_greedy(const DraftTree& draft, const float* logits, int vocab, const SamplingParams& sp = {},
                      std::span<const std::int32_t> context = {}, const RowMask* mask = nullptr);

// Lossless stochastic acceptance (speculative sampling; for several children of a node, recursive rejection
// sampling without replacement). The emitted tokens follow the target's distribution exactly.
Verdict verify_stochastic(const DraftTree& draft, const float* logits, int vocab, const SamplingParams& sp,
                          Rng& rng, std::span<const std::int32_t> context = {},
                          const RowMask* mask = nullptr);

}  // namespace ternspec
