#pragma once
// fp16 -> fp32: F16C where the CPU has it (the AVX2 path), else a 64K-entry table. Both are exact, so
// every kernel path reads the same floats.
#include <cstdint>

namespace ternspec {

const float* half_table();
void half_row_to_float(const std::uint16_t* src, float* dst, int n);
// fp32 -> fp16, rounding to nearest even: F16C on the AVX2 path, float_to_half otherwise. They agree on
// every value but NaN payloads (the KV cache never holds NaN from a sound model).
void float_row_to_half(const float* src, std::uint16_t* dst, int n);

}  // namespace ternspec
