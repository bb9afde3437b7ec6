#pragma once
// Several requests decoded together over one target. Each round every unfinished request drafts, then
// one forward runs all their pending tokens and drafts (each with its own KV cache), so every weight is
// read once per round for all of them; each request then verifies and rolls back on its own. Outputs
// equal decoding each request alone, because the forward is batch invariant.
#include <memory>
#include <span>
#include <vector>

#include "runtime/speculative_decoder.hpp"

namespace ternspec {

struct BatchRequest {
    std::vector<std::int32_t> prompt;
    Drafter* drafter = nullptr;  // one per request (drafters keep per-request state); null: plain decoding
};

std::vector<DecodeResult> decode_batch(const std::shared_ptr<const Qwen3Model>& model, std::span<const BatchRequest> requests,
                                       const DecodeOptions& options);

}  // namespace ternspec
