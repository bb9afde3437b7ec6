#pragma once
// fp16 -> fp32: F16C where the CPU has it (the AVX2 path), else a 64K-entry table. Both are exact, so
// every kernel path reads the same floats.
#include <cstdint>

namespace ternspec {

const float* half_table();
void half_row_to_float(const std::uint16_t* src, float* dst, int n);
void half_row_to_float_f16c(const std::uint16_t* src, float* dst, int n);

}  // namespace ternspec
