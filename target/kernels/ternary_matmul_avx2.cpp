// AVX2 body of ternary_matmul. Codes are w+1 in {0,1,2}: maddubs(codes, x) sums (w+1)*x exactly in int16,
// and the per-lane activation sums computed at quantisation remove the +1. Scales apply with FMA, as
// std::fma does on the scalar path. Tiles of R rows x T tokens
// read each weight block once per tile; the float arithmetic per (row, token) is the scalar path's.
#include <immintrin.h>

#include "target/kernels/ternary_matrix.hpp"

namespace ternspec {
namespace {

inline float hsum(__m256 v) {
    const __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    const __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
    const __m128 s1 = _mm_add_ss(s2, _mm_shuffle_ps(s2, s2, 0x55));
    return _mm_cvtss_f32(s1);
}

template <int R, int T, bool Two>
void tile(const TernaryMatrix& w, const QuantizedActivations& x, float* y, int n0, int m0) {
    const int blocks = w.blocks_per_row();
    const __m256i mask = _mm256_set1_epi8(3);
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc[R][T];
    for (int r = 0; r < R; ++r)
        for (int t = 0; t < T; ++t) acc[r][t] = _mm256_setzero_ps();
    const std::uint8_t* codes[R];
    const float* scales[R];
    for (int r = 0; r < R; ++r) {
        codes[r] = w.codes(n0 + r);
        scales[r] = w.scales(n0 + r);
    }
    const std::int8_t* xr[T];
    const std::int32_t* xs[T];
    for (int t = 0; t < T; ++t) {
        xr[t] = x.row(m0 + t);
        xs[t] = x.sums(m0 + t);
    }
    // The next tile's rows follow these in memory: fetching them now keeps DRAM busy while this tile
    // computes (the hardware prefetcher alone leaves decode far below the machine's bandwidth).
    const std::size_t ahead = static_cast<std::size_t>(R) * static_cast<std::size_t>(w.cols()) / 4;
    for (int b = 0; b < blocks; ++b) {
        for (int r = 0; r < R; ++r) {
            _mm_prefetch(reinterpret_cast<const char*>(codes[r] + ahead + static_cast<std::size_t>(b) * 32),
                         _MM_HINT_T0);
            const __m256i c = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(codes[r] + b * 32));
            const __m256i p0 = _mm256_and_si256(c, mask);
            const __m256i p1 = _mm256_and_si256(_mm256_srli_epi16(c, 2), mask);
            const __m256i p2 = _mm256_and_si256(_mm256_srli_epi16(c, 4), mask);
            const __m256i p3 = _mm256_and_si256(_mm256_srli_epi16(c, 6), mask);
            for (int t = 0; t < T; ++t) {
                const std::int8_t* xb = xr[t] + b * kBlock;
                const __m256i x0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb));
                const __m256i x1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb + 32));
                const __m256i x2 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb + 64));
                const __m256i x3 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb + 96));
                const __m256i lo16 =
                    _mm256_add_epi16(_mm256_maddubs_epi16(p0, x0), _mm256_maddubs_epi16(p1, x1));
                const __m256i hi16 =
                    _mm256_add_epi16(_mm256_maddubs_epi16(p2, x2), _mm256_maddubs_epi16(p3, x3));
                const __m256i ones16 = ones;
                if constexpr (Two) {
                    const __m256i slo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xs[t] + b * 24));
                    const __m256i shi =
                        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xs[t] + b * 24 + 8));
                    const __m256i lo = _mm256_sub_epi32(_mm256_madd_epi16(lo16, ones16), slo);
                    const __m256i hi = _mm256_sub_epi32(_mm256_madd_epi16(hi16, ones16), shi);
                    acc[r][t] =
                        _mm256_fmadd_ps(_mm256_cvtepi32_ps(lo), _mm256_set1_ps(scales[r][2 * b]), acc[r][t]);
                    acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(hi), _mm256_set1_ps(scales[r][2 * b + 1]),
                                                acc[r][t]);
                } else {
                    // |lo16 + hi16| <= 4 * 2 * 2 * 127: still exact in int16.
                    const __m256i st =
                        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xs[t] + b * 24 + 16));
                    const __m256i sum =
                        _mm256_sub_epi32(_mm256_madd_epi16(_mm256_add_epi16(lo16, hi16), ones16), st);
                    acc[r][t] =
                        _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum), _mm256_set1_ps(scales[r][b]), acc[r][t]);
                }
            }
        }
    }
    const int n_out = w.rows();
    for (int r = 0; r < R; ++r)
        for (int t = 0; t < T; ++t)
            y[static_cast<std::size_t>(m0 + t) * n_out + n0 + r] =
                hsum(acc[r][t]) * x.scale[static_cast<std::size_t>(m0 + t)];
}

template <int R, bool Two>
void rows_tile(const TernaryMatrix& w, const QuantizedActivations& x, float* y, int n0) {
    int m = 0;
    if constexpr (R == 4) {
        for (; m < x.rows; ++m) tile<4, 1, Two>(w, x, y, n0, m);
    } else {
        for (; m + 4 <= x.rows; m += 4) tile<R, 4, Two>(w, x, y, n0, m);
        switch (x.rows - m) {
            case 3:
                tile<R, 3, Two>(w, x, y, n0, m);
                break;
            case 2:
                tile<R, 2, Two>(w, x, y, n0, m);
                break;
            case 1:
                tile<R, 1, Two>(w, x, y, n0, m);
                break;
            default:
                break;
        }
    }
}

template <bool Two>
void rows(const TernaryMatrix& w, const QuantizedActivations& x, float* y, int row_begin, int row_end) {
    int n = row_begin;
    if (x.rows == 1) {
        for (; n + 4 <= row_end; n += 4) rows_tile<4, Two>(w, x, y, n);
    } else {
        for (; n + 2 <= row_end; n += 2) rows_tile<2, Two>(w, x, y, n);
    }
    for (; n < row_end; ++n) rows_tile<1, Two>(w, x, y, n);
}

}  // namespace

void ternary_matmul_rows_avx2(const TernaryMatrix& w, const QuantizedActivations& x, float* y, int row_begin,
                              int row_end) {
    if (w.scales_per_block() == 2)
        rows<true>(w, x, y, row_begin, row_end);
    else
        rows<false>(w, x, y, row_begin, row_end);
}

}  // namespace ternspec
