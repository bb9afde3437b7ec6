// F16C bodies of the row conversions: fp16 -> fp32 is exact, and fp32 -> fp16 rounds to nearest even as
// float_to_half does, so both equal the generic path.
#include <immintrin.h>

#include "target/io/half.hpp"
#include "target/kernels/half_table.hpp"
#include "target/kernels/kernel_variants.hpp"

namespace ternspec {

void half_row_to_float_f16c(const std::uint16_t* src, float* dst, int n) {
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dst + i,
                         _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i))));
    const float* t = half_table();
    for (; i < n; ++i) dst[i] = t[src[i]];
}

void float_row_to_half_f16c(const float* src, std::uint16_t* dst, int n) {
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; ++i) dst[i] = float_to_half(src[i]);
}

}  // namespace ternspec
