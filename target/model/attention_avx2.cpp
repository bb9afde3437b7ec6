// AVX2 row operations for attention: F16C conversion of a run of cache rows, and the dot and axpy of the
// generic path on eight-float vectors. Multiplies and adds stay separate (no FMA, and -ffp-contract=off),
// so every float equals the generic path's.
#include <immintrin.h>

#include <cstring>

#include "target/kernels/kernel_variants.hpp"
#include "target/model/attention_core.hpp"

namespace ternspec::attention_detail {
namespace {

struct Avx2Ops {
    static void rows(const KvCache& cache, int layer, const int* slots, int count, bool value, int head,
                     float* out) {
        const int n = cache.head_dim();
        for (int c = 0; c < count; ++c) {
            float* dst = out + static_cast<std::size_t>(c) * n;
            const void* row = cache.slice(layer, value, head, slots[c]);
            if (cache.type() == KvType::F32) {
                std::memcpy(dst, row, static_cast<std::size_t>(n) * 4);
                continue;
            }
            const std::uint16_t* src = static_cast<const std::uint16_t*>(row);
            int e = 0;
            for (; e + 8 <= n; e += 8)
                _mm256_storeu_ps(dst + e,
                                 _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + e))));
            if (e < n) cache.load_part(layer, slots[c], value, head * n + e, n - e, dst + e);
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
    // Eight keys at a time: their independent sums hide the add latency that bounds one key's dot, and one
    // transposing reduction combines each key's lanes in dot's order, ((0+4)+(2+6))+((1+5)+(3+7)).
    static void dots(const float* q, const float* k, int count, int n, float* out) {
        int c = 0;
        if (n % 8 == 0) {
            for (; c + 8 <= count; c += 8) {
                const float* kc = k + static_cast<std::size_t>(c) * n;
                __m256 acc[8];
                for (int j = 0; j < 8; ++j) acc[j] = _mm256_setzero_ps();
                for (int e = 0; e < n; e += 8) {
                    const __m256 qv = _mm256_loadu_ps(q + e);
                    for (int j = 0; j < 8; ++j)
                        acc[j] = _mm256_add_ps(
                            acc[j],
                            _mm256_mul_ps(qv, _mm256_loadu_ps(kc + static_cast<std::size_t>(j) * n + e)));
                }
                // Lanes i and i + 4 of keys (2p, 2p + 1): [k0: x0..x3 | k1: x0..x3].
                __m256 x[4];
                for (int p = 0; p < 4; ++p)
                    x[p] = _mm256_add_ps(_mm256_permute2f128_ps(acc[2 * p], acc[2 * p + 1], 0x20),
                                         _mm256_permute2f128_ps(acc[2 * p], acc[2 * p + 1], 0x31));
                // y0 = x0 + x2, y1 = x1 + x3 of keys [0, 2, 1, 3] and [4, 6, 5, 7], two per key.
                const __m256 y0 =
                    _mm256_add_ps(_mm256_shuffle_ps(x[0], x[1], 0x44), _mm256_shuffle_ps(x[0], x[1], 0xee));
                const __m256 y1 =
                    _mm256_add_ps(_mm256_shuffle_ps(x[2], x[3], 0x44), _mm256_shuffle_ps(x[2], x[3], 0xee));
                // y0 + y1 of keys [0, 2, 4, 6 | 1, 3, 5, 7], then into key order; + 0 as dot adds its empty
                // tail.
                const __m256 z =
                    _mm256_add_ps(_mm256_shuffle_ps(y0, y1, 0x88), _mm256_shuffle_ps(y0, y1, 0xdd));
                const __m256 ordered = _mm256_permutevar8x32_ps(z, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
                _mm256_storeu_ps(out + c, _mm256_add_ps(ordered, _mm256_setzero_ps()));
            }
        }
        for (; c < count; ++c) out[c] = dot(q, k + static_cast<std::size_t>(c) * n, n);
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
