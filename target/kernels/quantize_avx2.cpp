// AVX2 body of the per-token activation quantiser. Max is exact and the rounding is the scalar body's
// multiply, add and subtract (no FMA: the library builds with -ffp-contract=off), so the bytes match.
#include <immintrin.h>

#include "target/kernels/kernel_variants.hpp"
#include "target/kernels/ternary_matrix.hpp"

namespace ternspec {
namespace {

float hmax(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 0x55));
    return _mm_cvtss_f32(m);
}

std::int32_t hsum(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

}  // namespace

void quantize_row_avx2(const float* x, int cols, std::int8_t* q, float* scale, std::int32_t* sums) {
    const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    __m256 vmax = _mm256_setzero_ps();
    // max(|x|, running) keeps the running maximum where x is NaN, as std::max(amax, |x|) does.
    for (int k = 0; k < cols; k += 8)
        vmax = _mm256_max_ps(_mm256_and_ps(_mm256_loadu_ps(x + k), abs_mask), vmax);
    const float amax = hmax(vmax);
    const float inv = amax > 0 ? 127.0f / amax : 0.0f;
    *scale = amax / 127.0f;
    const __m256 vinv = _mm256_set1_ps(inv), magic = _mm256_set1_ps(kRoundMagic);
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    for (int b = 0; b < cols / kBlock; ++b) {
        __m256i half_sum[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};
        for (int e = 0; e < kBlock; e += 32) {
            const int k = b * kBlock + e;
            __m256i v[4];
            for (int j = 0; j < 4; ++j) {
                const __m256 scaled = _mm256_mul_ps(_mm256_loadu_ps(x + k + 8 * j), vinv);
                v[j] = _mm256_cvttps_epi32(_mm256_sub_ps(_mm256_add_ps(scaled, magic), magic));
                half_sum[e / 64] = _mm256_add_epi32(half_sum[e / 64], v[j]);
            }
            // packs works within 128-bit lanes; the permutation restores element order.
            const __m256i w16a = _mm256_packs_epi32(v[0], v[1]), w16b = _mm256_packs_epi32(v[2], v[3]);
            const __m256i w8 = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(w16a, w16b), order);
            _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + k), w8);
        }
        const std::int32_t lo = hsum(half_sum[0]), hi = hsum(half_sum[1]);
        sums[3 * b] = -lo;
        sums[3 * b + 1] = -hi;
        sums[3 * b + 2] = -(lo + hi);
    }
}

}  // namespace ternspec
