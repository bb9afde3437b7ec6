#include "target/kernels/half_table.hpp"

#include <vector>

#include "target/io/half.hpp"
#include "target/kernels/cpu_features.hpp"

namespace ternspec {

const float* half_table() {
    static const std::vector<float> table = [] {
        std::vector<float> t(65536);
        for (std::uint32_t i = 0; i < 65536; ++i) t[i] = half_to_float(static_cast<std::uint16_t>(i));
        return t;
    }();
    return table.data();
}

#if !defined(TERNSPEC_HAVE_AVX2)
void half_row_to_float_f16c(const std::uint16_t* src, float* dst, int n) {
    const float* t = half_table();
    for (int i = 0; i < n; ++i) dst[i] = t[src[i]];
}
void float_row_to_half_f16c(const float* src, std::uint16_t* dst, int n) {
    for (int i = 0; i < n; ++i) dst[i] = float_to_half(src[i]);
}
#endif

void float_row_to_half(const float* src, std::uint16_t* dst, int n) {
    if (uses_avx2(kernel_path())) return float_row_to_half_f16c(src, dst, n);
    for (int i = 0; i < n; ++i) dst[i] = float_to_half(src[i]);
}

void half_row_to_float(const std::uint16_t* src, float* dst, int n) {
    if (uses_avx2(kernel_path())) return half_row_to_float_f16c(src, dst, n);
    const float* t = half_table();
    for (int i = 0; i < n; ++i) dst[i] = t[src[i]];
}

}  // namespace ternspec
