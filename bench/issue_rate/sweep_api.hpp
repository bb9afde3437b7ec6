#pragma once
// Entry points of bench_issue_rate's per-instruction-set loops. Each returns the number of 32-product steps
// it issued: `turns` code vectors, four planes each, eight tokens per plane. `x` holds kTokens rows of
// kActBytes int8 activations. `planes` unpacks each code vector's four planes inside the loop (shift and
// mask, as the kernel does); without it the same register serves every step.
#include <cstdint>

namespace ternspec::issue_rate {

inline constexpr int kTokens = 8;
inline constexpr int kActBytes = 1024;

std::int64_t maddubs_add(bool planes, const std::int8_t* x, std::int64_t turns, std::int32_t* sink);
std::int64_t dpbusd(bool planes, const std::int8_t* x, std::int64_t turns, std::int32_t* sink);

}  // namespace ternspec::issue_rate
