#pragma once
// Several requests decoded together over one target. Each round every unfinished request drafts, then
// one forward runs all their pending tokens and drafts (each with its own KV cache), so every weight is
// read once per round for all of them; each request then verifies and rolls back on its own. Outputs
// equal decoding each request alone, because the forward is batch invariant.
//
// Overlap: the requests form two halves that take turns, so one half drafts (a oneTBB task) while the
// target verifies the other half's drafts, both in the same task arena, sharing its threads with the
// kernels' own parallel loops (no extra threads, no oversubscription). It pays only when drafting costs
// something and there is more than one thread; Auto measures the first rounds and decides.
#include <memory>
#include <span>
#include <vector>

#include "runtime/speculative_decoder.hpp"

namespace ternspec {

struct BatchRequest {
    std::vector<std::int32_t> prompt;
    Drafter* drafter = nullptr;  // one per request (drafters keep per-request state); null: plain decoding
    const DecodeOptions* options = nullptr;  // this request's own options; null: the batch's
};

enum class Overlap { Auto, Off, On };

struct BatchReport {
    bool overlapped = false;  // whether the two-half schedule ran
    int rounds = 0;           // target forwards after prefill
};

std::vector<DecodeResult> decode_batch(const std::shared_ptr<const Qwen3Model>& model,
                                       std::span<const BatchRequest> requests, const DecodeOptions& options,
                                       Overlap overlap = Overlap::Off, BatchReport* report = nullptr);

}  // namespace ternspec
