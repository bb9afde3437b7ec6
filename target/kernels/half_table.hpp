#pragma once
// fp16 -> fp32 through a 64K-entry table: exact, branch-free, and the same on every kernel path.
#include <cstdint>

namespace ternspec {

const float* half_table();

inline void half_row_to_float(const std::uint16_t* src, float* dst, int n) {
    const float* t = half_table();
    for (int i = 0; i < n; ++i) dst[i] = t[src[i]];
}

}  // namespace ternspec
