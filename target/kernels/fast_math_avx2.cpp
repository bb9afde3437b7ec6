// AVX2 bodies of fast_math.hpp: the scalar body's operations lane by lane (no FMA), tails padded to a
// full vector.
#include <immintrin.h>

#include <cstring>

#include "target/kernels/fast_math.hpp"
#include "target/kernels/kernel_variants.hpp"

namespace ternspec {
namespace {

__m256 fast_exp8(__m256 x) {
    using namespace fast_exp_constants;
    // Operand order as std::max(x, low) and std::min(x, high) compare, so even a NaN goes the same way.
    x = _mm256_min_ps(_mm256_set1_ps(kHigh), _mm256_max_ps(_mm256_set1_ps(kLow), x));
    const __m256 round = _mm256_set1_ps(kRound);
    const __m256 n = _mm256_sub_ps(_mm256_add_ps(_mm256_mul_ps(x, _mm256_set1_ps(kLog2e)), round), round);
    const __m256 r = _mm256_sub_ps(_mm256_sub_ps(x, _mm256_mul_ps(n, _mm256_set1_ps(kLn2Hi))),
                                   _mm256_mul_ps(n, _mm256_set1_ps(kLn2Lo)));
    __m256 p = _mm256_set1_ps(kP[0]);
    for (int i = 1; i < 6; ++i) p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(kP[i]));
    const __m256 y =
        _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(p, _mm256_mul_ps(r, r)), r), _mm256_set1_ps(1.0f));
    const __m256i bits =
        _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvttps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(y, _mm256_castsi256_ps(bits));
}

__m256 load_part(const float* p, int count) {
    alignas(32) float tmp[8] = {};
    std::memcpy(tmp, p, sizeof(float) * static_cast<std::size_t>(count));
    return _mm256_load_ps(tmp);
}

void store_part(float* p, __m256 v, int count) {
    alignas(32) float tmp[8];
    _mm256_store_ps(tmp, v);
    std::memcpy(p, tmp, sizeof(float) * static_cast<std::size_t>(count));
}

__m256 silu_mul8(__m256 g, __m256 u) {
    const __m256 e = fast_exp8(_mm256_xor_ps(g, _mm256_set1_ps(-0.0f)));  // -g, sign flipped as in C++
    return _mm256_mul_ps(_mm256_div_ps(g, _mm256_add_ps(_mm256_set1_ps(1.0f), e)), u);
}

}  // namespace

void exp_shifted_row_avx2(float* x, int n, float shift) {
    const __m256 s = _mm256_set1_ps(shift);
    int i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, fast_exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), s)));
    if (i < n) store_part(x + i, fast_exp8(_mm256_sub_ps(load_part(x + i, n - i), s)), n - i);
}

void silu_mul_row_avx2(const float* g, const float* u, float* out, int n) {
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(out + i, silu_mul8(_mm256_loadu_ps(g + i), _mm256_loadu_ps(u + i)));
    if (i < n) store_part(out + i, silu_mul8(load_part(g + i, n - i), load_part(u + i, n - i)), n - i);
}

}  // namespace ternspec
