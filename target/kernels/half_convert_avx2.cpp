// F16C body of half_row_to_float: the hardware conversion is exact, so it equals the table path.
#include <immintrin.h>

#include "target/kernels/half_table.hpp"

namespace ternspec {

void half_row_to_float_f16c(const std::uint16_t* src, float* dst, int n) {
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dst + i,
                         _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i))));
    const float* t = half_table();
    for (; i < n; ++i) dst[i] = t[src[i]];
}

}  // namespace ternspec
