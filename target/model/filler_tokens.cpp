#include "target/model/filler_tokens.hpp"

#include <numeric>
#include <span>

namespace ternspec {

FillerTokens::FillerTokens(const ModelConfig& c, std::size_t n) : ids(n), positions(n) {
    for (std::size_t i = 0; i < n; ++i)
        ids[i] = static_cast<std::int32_t>((i * 7919 + 13) % static_cast<std::size_t>(c.vocab_size));
    std::iota(positions.begin(), positions.end(), 0);
}

ForwardInput FillerTokens::slice(std::size_t from, std::size_t count, bool logits) const {
    ForwardInput in;
    in.tokens = std::span(ids).subspan(from, count);
    in.positions = std::span(positions).subspan(from, count);
    in.no_logits = !logits;
    return in;
}

}  // namespace ternspec
