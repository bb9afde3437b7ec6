#pragma once
// One request's decode as a state machine: next_input() says what the target must run next (the prompt,
// then each round's pending token and draft, drafted inside next_input), consume() takes the target's
// output (verification, KV rollback, the drafter told, tokens emitted). SpeculativeDecoder drives one
// session; BatchDecoder drives several through one batched target forward per round.
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "runtime/speculative_decoder.hpp"
#include "runtime/stop_strings.hpp"
#include "target/tokenizer/tokenizer.hpp"

namespace ternspec {

class DecodeSession {
  public:
    DecodeSession(std::shared_ptr<const Qwen3Model> model, Drafter* drafter,
                  std::span<const std::int32_t> prompt, const DecodeOptions& options);
    bool done() const { return done_; }
    KvCache& cache() { return cache_; }
    // Before the first next_input: the prompt's first `rows` tokens come from `src` (a prefix cache hit)
    // and only the rest is prefilled. Refused for drafters that read the target's hidden states (they need
    // every prompt row's) and for rows that leave no prompt token to compute.
    void reuse_prefix(const KvCache& src, int rows);
    // After finish(): the cache itself, for a prefix cache.
    KvCache take_cache() { return std::move(cache_); }
    const ForwardInput& next_input();
    void consume(const ForwardOutput& out);
    // Called once, when done(): the output, its text and statistics.
    DecodeResult finish();
    // The last round's draft and the nodes of it the target accepted, in path order.
    const DraftTree& last_draft() const { return draft_; }
    const std::vector<int>& last_accepted() const { return accepted_; }

  private:
    bool emit(std::int32_t token);  // false: stop
    std::string release();          // the text that became visible since the last call
    std::int32_t choose(const float* logits);
    double now() const;             // DecodeOptions::clock, or the steady clock
    void prune_outside_document();  // drops draft nodes the structured output cannot take
    // Times a drafter call into t_draft, less the seconds the drafter says were not drafting (those leave
    // t_total too). Returns the seconds counted.
    template <typename F>
    double timed_drafter_call(F&& call);

    std::shared_ptr<const Qwen3Model> model_;
    Drafter* drafter_;
    DecodeOptions opt_;  // a copy: a session outlives the options a caller built on the stack
    int ctx_;
    std::vector<int> layers_;
    KvCache cache_;
    Rng rng_;
    StreamDecoder stream_;
    StopStrings text_;  // the output text, cut at a stop string
    // Structured output: the document after the emitted tokens, and which tokens may follow a state.
    std::optional<JsonConstraint> json_;
    std::shared_ptr<const JsonTokenMask> json_mask_;
    std::size_t shown_ = 0;  // of it, passed to on_token so far
    DecodeResult res_;
    std::vector<std::int32_t> prompt_, context_;
    bool prefilled_ = false, done_ = false, drafted_last_round_ = false;
    int reused_ = 0;  // prompt tokens taken from a prefix cache
    std::int32_t pending_ = -1;
    double t0_ = 0, t_sent_ = 0, round_draft_s_ = 0;
    // The round in flight.
    DraftTree draft_;
    int depth_ = 0;
    std::vector<int> accepted_;
    std::vector<std::int32_t> toks_, pos_, parents_;
    ForwardInput input_;
};

}  // namespace ternspec
