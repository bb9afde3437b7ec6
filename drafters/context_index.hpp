#pragma once
// The suffix drafter's view of the request itself (prompt and output so far): the tokens and, per
// position, the previous position holding the same token. Appending is O(1), so a 1,000-token prompt
// costs microseconds where a depth-32 suffix trie pays 32 node updates per token. At propose time the
// earlier occurrences of the context's last token are walked backwards to find how long each one matches:
// every match length SuffixDecoding's local tree would offer, and their continuations, without a tree.
#include <cstdint>
#include <span>
#include <vector>

#include "verify/draft_tree.hpp"

namespace ternspec {

class ContextIndex {
  public:
    void clear();
    void append(std::int32_t token);
    std::span<const std::int32_t> tokens() const { return seq_; }
    std::size_t size() const { return seq_.size(); }

    // An earlier position `end` whose last `length` tokens equal the context's last `length` tokens.
    struct Occurrence {
        std::int32_t end, length;
    };
    // The most recent `max_occurrences` earlier occurrences of the last token, each with its match length
    // (at most max_length), longest first and, among equal lengths, most recent first.
    void matches(int max_length, int max_occurrences, std::vector<Occurrence>& out) const;

  private:
    std::vector<std::int32_t> seq_, prev_;  // prev_[i]: the previous position holding seq_[i], or -1
    std::vector<std::int32_t> last_;        // token -> its latest position, or -1 (sized by the largest id)
};

// Counting the tokens that follow a set of positions, by token id, in time linear in the set: the step
// every suffix draft takes. Scratch space reused across calls.
class FollowerTally {
  public:
    void clear();
    void add(std::int32_t token, std::int32_t position);
    struct Entry {
        std::int32_t token, count, latest;  // latest: the most recent position it followed
    };
    const std::vector<Entry>& entries() const { return entries_; }
    // The most frequent follower, ties to the most recent (what SuffixDecoding's sibling order gives); -1
    // when empty.
    int best() const;

  private:
    std::vector<std::int32_t> slot_;  // token -> index into entries_, or -1
    std::vector<Entry> entries_;
};

struct SuffixDraftLimits {
    int max_len;          // longest path
    int max_nodes;        // 0: a chain; otherwise a tree of at most this many nodes
    double min_prob;      // a token whose estimated path probability falls below this is not drafted
    bool overlap = true;  // chains: an occurrence that runs into the present continues with the draft
    int match_len = 0;    // the length of the match the occurrences share
    double prior = 0;     // > 0: each token's estimate is also scaled by (m + s) / (m + s + prior), m + s the
                          // length the occurrence matches once s tokens are drafted: short matches are weak
};

// A draft continuing the occurrences ending at `ends` within `seq`. A token's probability is its count
// among the followers over the count of the path so far (SuffixDecoding's estimate), times the match
// reliability when limits.prior is set. Returns the draft; *score is the sum of its tokens' path
// probabilities (the expected number accepted).
DraftTree draft_from_occurrences(std::span<const std::int32_t> seq, std::span<const std::int32_t> ends,
                                 const SuffixDraftLimits& limits, FollowerTally& tally, double* score);

}  // namespace ternspec
