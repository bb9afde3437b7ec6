#pragma once
// A fixed set of requests decoded together over one target, each with its own drafter: the engine
// (runtime/engine.hpp) with a slot per request, waited for as a whole. Each round one forward runs every
// request's pending token and draft, so every weight is read once per round for all of them; outputs equal
// decoding each request alone, because the forward is batch invariant.
#include <memory>
#include <span>
#include <vector>

#include "runtime/engine.hpp"

namespace ternspec {

struct BatchRequest {
    std::vector<std::int32_t> prompt;
    Drafter* drafter = nullptr;  // one per request (drafters keep per-request state); null: plain decoding
    const DecodeOptions* options = nullptr;  // this request's own options; null: the batch's
};

struct BatchReport {
    bool overlapped = false;  // whether the two-half schedule ran
    int rounds = 0;           // batched target forwards, prefills included
};

// InputError for the first request that cannot be decoded (before anything runs); Error when a round fails.
std::vector<DecodeResult> decode_batch(const std::shared_ptr<const Qwen3Model>& model,
                                       std::span<const BatchRequest> requests, const DecodeOptions& options,
                                       Overlap overlap = Overlap::Off, BatchReport* report = nullptr,
                                       tbb::task_arena* arena = nullptr);

}  // namespace ternspec
