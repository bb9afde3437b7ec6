#pragma once
// Replaying recorded greedy streams through a drafting system, without a model: per round the drafter
// proposes from the context, the recorded target output decides how much of the draft greedy verification
// would accept, and the accepted tokens plus the bonus token become the next context. Every drafter change
// is then measured in seconds (tau, acceptance, cost per call) instead of by decoding (docs/suffix.md).
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "drafters/drafter.hpp"

namespace ternspec::bench {

// One request: the prompt's ids and the target's greedy output ids for it.
struct Stream {
    std::string kind, source;
    std::vector<std::int32_t> prompt, output;
};

// JSONL, one stream per line: {"kind", "source", "prompt_ids", "output_ids"}. Throws InputError naming the
// file and line of anything malformed.
std::vector<Stream> read_streams(const std::string& path);
void write_streams(const std::string& path, const std::vector<Stream>& streams);

// A drafting system as the replay drives it; ternspec's drafters and, for comparison, others.
class Speculator {
  public:
    virtual ~Speculator() = default;
    virtual void start(std::span<const std::int32_t> prompt) = 0;
    // context ends with the pending token (the last one the target produced)
    virtual DraftTree propose(std::span<const std::int32_t> context, const DraftBudget& budget) = 0;
    // the tokens that entered the target's cache this round: the pending one and the accepted ones
    virtual void cached(std::span<const std::int32_t> tokens) = 0;
    virtual void finish(std::span<const std::int32_t> output) = 0;
};

struct ReplayTotals {
    long rounds = 0, emitted = 0, drafted = 0, accepted = 0;
    long prompt_tokens = 0, cached_tokens = 0, starts = 0;
    double start_s = 0, propose_s = 0, cached_s = 0, finish_s = 0;
    double tau() const { return rounds ? double(emitted) / double(rounds) : 0; }
    double acceptance() const { return drafted ? double(accepted) / double(drafted) : 0; }
};

// The longest path of `draft` whose tokens equal `truth` from its start: what greedy verification accepts.
int accepted_length(const DraftTree& draft, std::span<const std::int32_t> truth);

// Replays the streams in order through one speculator (it keeps what it learns across them).
ReplayTotals replay(Speculator& s, const std::vector<Stream>& streams, const DraftBudget& budget);

}  // namespace ternspec::bench
