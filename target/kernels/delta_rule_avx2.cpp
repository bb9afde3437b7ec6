// AVX2 body of delta_rule.hpp: the scalar variant's operations, eight lanes to a vector (no FMA).
#include <immintrin.h>

#include <cstddef>

#include "target/kernels/delta_rule.hpp"
#include "target/kernels/kernel_variants.hpp"

namespace ternspec {
namespace {

// The lanes summed in the scalar variant's order; `tail` adds elements [i, n) to their lanes first.
float finish(__m256 acc, const float* a, const float* b, int i, int n) {
    alignas(32) float lane[8];
    _mm256_store_ps(lane, acc);
    for (; i < n; ++i) lane[i % 8] += a[i] * b[i];
    return ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
}

}  // namespace

void delta_rule_head_avx2(float* S, const float* src, const float* k, const float* v, const float* q,
                          float decay, float beta, int d, float* out) {
    const __m256 vdecay = _mm256_set1_ps(decay);
    const int full = d - d % 8;
    for (int j = 0; j < d; ++j) {
        float* dst = S + static_cast<std::size_t>(j) * d;
        const float* from = src + static_cast<std::size_t>(j) * d;
        __m256 acc = _mm256_setzero_ps();
        int i = 0;
        for (; i < full; i += 8) {
            const __m256 x = _mm256_mul_ps(_mm256_loadu_ps(from + i), vdecay);
            _mm256_storeu_ps(dst + i, x);
            acc = _mm256_add_ps(acc, _mm256_mul_ps(x, _mm256_loadu_ps(k + i)));
        }
        for (; i < d; ++i) dst[i] = from[i] * decay;
        const float delta = (v[j] - finish(acc, dst, k, full, d)) * beta;
        const __m256 vdelta = _mm256_set1_ps(delta);
        acc = _mm256_setzero_ps();
        for (i = 0; i < full; i += 8) {
            const __m256 x =
                _mm256_add_ps(_mm256_loadu_ps(dst + i), _mm256_mul_ps(_mm256_loadu_ps(k + i), vdelta));
            _mm256_storeu_ps(dst + i, x);
            if (out) acc = _mm256_add_ps(acc, _mm256_mul_ps(x, _mm256_loadu_ps(q + i)));
        }
        for (; i < d; ++i) dst[i] += k[i] * delta;
        if (out) out[j] = finish(acc, dst, q, full, d);
    }
}

}  // namespace ternspec
