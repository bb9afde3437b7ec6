#pragma once
// What a decode did and why it was as fast as it was: acceptance per position, accepted lengths, and
// where the time went.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <vector>

namespace ternspec {

struct DecodeStats {
    std::int64_t prompt_tokens = 0;
    std::int64_t cached_prompt_tokens = 0;  // of them, read from the prefix cache instead of computed
    std::int64_t emitted = 0;               // output tokens
    std::int64_t round_emitted = 0;    // output tokens emitted by verification rounds (not by the prefill)
    std::int64_t target_forwards = 0;  // after prefill
    std::int64_t drafted = 0;          // draft nodes sent to the target
    std::int64_t accepted = 0;         // draft nodes accepted
    std::int64_t pruned = 0;           // draft nodes dropped before the forward (outside a structured output)
    std::vector<std::int64_t> depth_drafted,
        depth_accepted;                         // index d: rounds whose draft reached depth d + 1
    std::vector<std::int64_t> depth_tested;     // index d: of those, rounds that accepted depths 1..d
                                                // (so the token at depth d + 1 was put to the test)
    std::vector<std::int64_t> accepted_hist;    // index n: rounds that accepted n draft tokens
    std::vector<std::int64_t> draft_size_hist;  // index n: rounds that sent n draft nodes
    double t_prefill = 0, t_draft = 0, t_verify = 0, t_total = 0;

    void record_round(int draft_depth, int draft_nodes, int accepted_len);
    void merge(const DecodeStats& o);
    // Two conventions people use, each named where it is shown:
    //   per_position_acceptance (vLLM's): [d] = accepted at depth d + 1 / drafts reaching depth d + 1;
    //   conditional_acceptance: [d] = accepted at depth d + 1 / drafts whose depths 1..d were accepted.
    std::vector<double> per_position_acceptance() const;
    std::vector<double> conditional_acceptance() const;
    double acceptance_rate() const { return drafted ? static_cast<double>(accepted) / drafted : 0.0; }
    // Mean tokens a verification round emits, bonus token included: 1.00 for plain decoding. The token the
    // prefill emits is no round's.
    double tau() const {
        return target_forwards ? static_cast<double>(round_emitted) / target_forwards : 0.0;
    }
    // Tokens per second if every target forward of M tokens cost t(M) and drafting were free: what this
    // run's acceptance would give on another model whose cost curve is t.
    template <typename CostFn>
    double projected_tokens_per_s(CostFn&& t) const {
        double seconds = 0;
        for (std::size_t n = 0; n < draft_size_hist.size(); ++n)
            seconds += static_cast<double>(draft_size_hist[n]) * t(static_cast<int>(n) + 1);
        return seconds > 0 ? static_cast<double>(emitted) / seconds : 0.0;
    }
    double decode_tokens_per_s() const {
        return t_total - t_prefill > 0 ? emitted / (t_total - t_prefill) : 0.0;
    }
    nlohmann::json to_json() const;
};

}  // namespace ternspec
