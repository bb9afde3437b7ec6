#pragma once
// SuffixDecoding: speculation from a suffix trie over this request's prompt and output, and a global trie
// over earlier responses (bounded by global_max_tokens, default 2^20, and a memory budget global_max_mb,
// default 256 MiB; the oldest responses are evicted first). From the longest suffix of the context that
// occurred before, candidates are scored by the product of child frequencies; the path is capped at
// max_spec_factor x match length and stops below min_token_prob. Chains or trees.
#include <deque>

#include "drafters/drafter.hpp"
#include "drafters/suffix_trie.hpp"

namespace ternspec {

class SuffixDrafter : public Drafter {
  public:
    explicit SuffixDrafter(const DrafterOptions& o);
    std::string name() const override { return "suffix"; }
    void begin(std::span<const std::int32_t> prompt, const HiddenRows*) override;
    // Extends the local trie with the tokens as they are cached, so that a round drafted after many rounds
    // without a draft does not pay for all of them at once (the draft-length controller charges a round's
    // drafting time to its drafted tokens).
    void observe(std::span<const std::int32_t> cached, const HiddenRows*) override;
    // Brings the local trie up to the context (the pending token included) before matching.
    DraftTree propose(std::span<const std::int32_t> context, const DraftBudget& budget) override;
    void end_request(std::span<const std::int32_t> output) override;

    // A draft from one trie, given the node matched and the match length; exposed for the tests.
    DraftTree expand(const SuffixTrie& trie, std::int32_t node, int match_len, const DraftBudget& budget,
                     double* expected) const;

    std::size_t tokens_in_local_trie() const { return synced_; }  // for the tests
    const SuffixTrie& global_trie() const { return global_; }     // for the tests

  private:
    int depth_;
    double max_spec_factor_, min_token_prob_;
    std::size_t global_max_tokens_, global_max_bytes_;
    SuffixTrie local_;
    SuffixTrie::Cursor cursor_;
    std::size_t synced_ = 0;    // context tokens already in the local trie
    std::size_t observed_ = 0;  // context tokens seen by begin() and observe()
    SuffixTrie global_;
    std::deque<std::vector<std::int32_t>> responses_;
    std::size_t global_tokens_ = 0;
};

}  // namespace ternspec
