#pragma once
// SuffixDecoding: speculation from this request's prompt and output (ContextIndex) and from a global
// suffix trie over earlier responses (bounded by global_max_tokens, default 2^20, and a memory budget
// global_max_mb, default 256 MiB; the oldest responses are evicted first). Every length of the context's
// suffix that occurred before drafts; the draft with the highest expected accepted count wins (ties to the
// longer match). A token's probability is its share of the followers times (m + s) / (m + s +
// match_prior) for a match of m tokens s tokens into the draft: short matches are weak evidence, and that
// one factor replaced SuffixDecoding's length cap on the measured streams. Drafts stop below
// min_token_prob and at K; max_spec_factor and max_spec_offset add the cap min(K, factor x m + offset)
// when given. Options and their measured effect: docs/suffix.md.
#include <deque>
#include <mutex>

#include "drafters/context_index.hpp"
#include "drafters/drafter.hpp"
#include "drafters/suffix_trie.hpp"

namespace ternspec {

class SuffixDrafter : public Drafter {
  public:
    explicit SuffixDrafter(const DrafterOptions& o);
    std::string name() const override { return "suffix"; }
    void begin(std::span<const std::int32_t> prompt, const HiddenRows*) override;
    // Appends the tokens as they are cached (O(1) each), so a round drafted after many rounds without a
    // draft does not pay for all of them at once.
    void observe(std::span<const std::int32_t> cached, const HiddenRows*) override;
    // Brings the index up to the context (the pending token included) before matching.
    DraftTree propose(std::span<const std::int32_t> context, const DraftBudget& budget) override;
    void end_request(std::span<const std::int32_t> output) override;
    std::unique_ptr<Drafter> sibling() const override;

    std::size_t tokens_in_local_index() const { return local_.size(); }  // for the tests
    const SuffixTrie& global_trie() const { return global_->trie; }      // for the tests

  private:
    // A draft from the global trie, given the node matched and the match length.
    DraftTree expand(const SuffixTrie& trie, std::int32_t node, int match_len, const DraftBudget& budget,
                     double* expected) const;
    int max_len(int match_len, const DraftBudget& budget) const;
    void propose_local(const DraftBudget& budget, DraftTree* best, double* best_score);
    void propose_global(std::span<const std::int32_t> ctx, const DraftBudget& budget, DraftTree* best,
                        double* best_score);

    int depth_, max_match_, max_occurrences_;
    double max_spec_factor_, max_spec_offset_, min_token_prob_, match_prior_;
    bool overlap_;
    std::size_t global_max_tokens_, global_max_bytes_;
    ContextIndex local_;
    std::size_t observed_ = 0;  // context tokens seen by begin() and observe()
    FollowerTally tally_;
    std::vector<ContextIndex::Occurrence> occurrences_;
    std::vector<std::int32_t> ends_;
    // Earlier responses, shared by siblings (a server's slots); the mutex makes concurrent siblings safe.
    struct GlobalStore {
        explicit GlobalStore(int depth) : trie(depth) {}
        std::mutex mu;
        SuffixTrie trie;
        std::deque<std::vector<std::int32_t>> responses;
        std::size_t tokens = 0;
    };
    std::shared_ptr<GlobalStore> global_;
};

}  // namespace ternspec
