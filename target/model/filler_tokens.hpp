#pragma once
// Inputs for timing forwards (the cost model, `bench forward`, bench_forward): what the tokens are does not
// change a forward's cost, so any ids spread over the vocabulary will do.
#include <cstdint>
#include <vector>

#include "target/model/qwen3_model.hpp"

namespace ternspec {

// n token ids spread over the vocabulary at positions 0..n-1; slice() makes the input of tokens
// [from, from + count), which points into this object.
struct FillerTokens {
    std::vector<std::int32_t> ids, positions;
    FillerTokens(const ModelConfig& c, std::size_t n);
    ForwardInput slice(std::size_t from, std::size_t count, bool logits = true) const;
};

}  // namespace ternspec
