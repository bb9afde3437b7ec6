// AVX2 row operations for attention: F16C conversion of a run of cache rows, and the dot and axpy of the
// generic path on eight-float vectors. Multiplies and adds stay separate (no FMA, and -ffp-contract=off),
// so every float equals the generic path's.
#include <immintrin.h>

#include <cstring>

#include "target/model/attention_core.hpp"

namespace ternspec::attention_detail {
namespace {

struct Avx2Ops {
    static void rows(const KvCache& cache, int layer, const int* slots, int count, bool value, int first,
                     int n, float* out) {
        for (int c = 0; c < count; ++c) {
            const void* row = value ? cache.v_row(layer, slots[c]) : cache.k_row(layer, slots[c]);
            float* dst = out + static_cast<std::size_t>(c) * n;
            if (cache.type() == KvType::F32) {
                std::memcpy(dst, static_cast<const float*>(row) + first, static_cast<std::size_t>(n) * 4);
                continue;
            }
            const std::uint16_t* src = static_cast<const std::uint16_t*>(row) + first;
            int e = 0;
            for (; e + 8 <= n; e += 8)
                _mm256_storeu_ps(dst + e,
                                 _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + e))));
            if (e < n) cache.load_part(layer, slots[c], value, first + e, n - e, dst + e);
        }
    }
    static float dot(const float* a, const float* b, int n) {
        __m256 acc = _mm256_setzero_ps();
        int e = 0;
        for (; e + 8 <= n; e += 8)
            acc = _mm256_add_ps(acc, _mm256_mul_ps(_mm256_loadu_ps(a + e), _mm256_loadu_ps(b + e)));
        float tail = 0;
        for (; e < n; ++e) tail += a[e] * b[e];
        // ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7)), as the generic lanes combine.
        const __m128 h = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
        const __m128 p = _mm_add_ps(h, _mm_movehl_ps(h, h));
        return _mm_cvtss_f32(_mm_add_ss(p, _mm_shuffle_ps(p, p, 0x55))) + tail;
    }
    // Eight vectors of the output at a time stay in registers while the rows stream past.
    static void axpy_rows(const float* p, const float* v, int count, float* o, int n) {
        int e = 0;
        for (; e + 64 <= n; e += 64) {
            __m256 acc[8];
            for (int j = 0; j < 8; ++j) acc[j] = _mm256_loadu_ps(o + e + 8 * j);
            for (int c = 0; c < count; ++c) {
                const __m256 pc = _mm256_set1_ps(p[c]);
                const float* row = v + static_cast<std::size_t>(c) * n + e;
                for (int j = 0; j < 8; ++j)
                    acc[j] = _mm256_add_ps(acc[j], _mm256_mul_ps(pc, _mm256_loadu_ps(row + 8 * j)));
            }
            for (int j = 0; j < 8; ++j) _mm256_storeu_ps(o + e + 8 * j, acc[j]);
        }
        for (; e + 8 <= n; e += 8) {
            __m256 acc = _mm256_loadu_ps(o + e);
            for (int c = 0; c < count; ++c)
                acc = _mm256_add_ps(acc,
                                    _mm256_mul_ps(_mm256_set1_ps(p[c]),
                                                  _mm256_loadu_ps(v + static_cast<std::size_t>(c) * n + e)));
            _mm256_storeu_ps(o + e, acc);
        }
        for (; e < n; ++e)
            for (int c = 0; c < count; ++c) o[e] += p[c] * v[static_cast<std::size_t>(c) * n + e];
    }
};

}  // namespace

void attend_run_avx2(const AttendJob& job, const AttendRun& run) {
    attend_run<Avx2Ops>(job, run);
}

}  // namespace ternspec::attention_detail
