#pragma once
// The x86 tile loop of ternary_matmul, shared by the AVX2 and AVX-512 VNNI translation units, which
// include it under their own target flags. `Dot` turns unpacked code planes and int8 activations into
// `init` plus the eight int32 lanes the scalar path defines (lane j sums bytes 4j..4j+3 of each plane's
// products), so every path produces the same integers and, through the same FMAs, the same floats.
#include <immintrin.h>

#include "target/kernels/ternary_matrix.hpp"

namespace ternspec::x86 {

inline float hsum(__m256 v) {
    const __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    const __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
    const __m128 s1 = _mm_add_ss(s2, _mm_shuffle_ps(s2, s2, 0x55));
    return _mm_cvtss_f32(s1);
}

// Codes are w+1 in {0,1,2}; the negated per-lane activation sums computed at quantisation remove the +1.
// Scales apply with FMA, as std::fma does on the scalar path. Tiles of R rows x T tokens read each weight
// block once per tile.
template <class Dot, int R, int T, bool Two>
void tile(const TernaryMatrix& w, const QuantizedActivations& x, float* y, int n0, int m0) {
    const int blocks = w.blocks_per_row();
    const __m256i mask = _mm256_set1_epi8(3);
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
    // Codes 16 KB ahead of each row go to L2 while this tile computes: decode streams the weights from DRAM
    // and the hardware prefetcher alone leaves it far below the machine's bandwidth. Measured on the
    // Qwen3-1.7B shape (docs/packed-layout.md): the next tile into L1 gave 25 ms per decode step, 8-32 KB
    // ahead into L2 gives 16-18 ms.
    constexpr std::size_t ahead = 16384;
    for (int b = 0; b < blocks; ++b) {
        for (int r = 0; r < R; ++r) {
            _mm_prefetch(reinterpret_cast<const char*>(codes[r] + ahead + static_cast<std::size_t>(b) * 32),
                         _MM_HINT_T1);
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
                if constexpr (Two) {
                    const __m256i slo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xs[t] + b * 24));
                    const __m256i shi =
                        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xs[t] + b * 24 + 8));
                    const __m256i lo = Dot::pair(slo, p0, x0, p1, x1);
                    const __m256i hi = Dot::pair(shi, p2, x2, p3, x3);
                    acc[r][t] =
                        _mm256_fmadd_ps(_mm256_cvtepi32_ps(lo), _mm256_set1_ps(scales[r][2 * b]), acc[r][t]);
                    acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(hi), _mm256_set1_ps(scales[r][2 * b + 1]),
                                                acc[r][t]);
                } else {
                    const __m256i st =
                        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xs[t] + b * 24 + 16));
                    const __m256i sum = Dot::quad(st, p0, x0, p1, x1, p2, x2, p3, x3);
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

// All activation rows against rows n0..n0+R-1: four tokens per tile, the rest (up to three) in one tile.
template <class Dot, int R, bool Two>
void rows_tile(const TernaryMatrix& w, const QuantizedActivations& x, float* y, int n0) {
    int m = 0;
    for (; m + 4 <= x.rows; m += 4) tile<Dot, R, 4, Two>(w, x, y, n0, m);
    switch (x.rows - m) {
        case 3:
            tile<Dot, R, 3, Two>(w, x, y, n0, m);
            break;
        case 2:
            tile<Dot, R, 2, Two>(w, x, y, n0, m);
            break;
        case 1:
            tile<Dot, R, 1, Two>(w, x, y, n0, m);
            break;
        default:
            break;
    }
}

// Rows [row_begin, row_end): decode (one token) in tiles of 4 rows, batches in tiles of 2 rows x 4 tokens.
// Larger tiles (1x8, 2x8, 3x4, 4x4) measured no faster on either path.
template <class Dot, bool Two>
void rows(const TernaryMatrix& w, const QuantizedActivations& x, float* y, int row_begin, int row_end) {
    int n = row_begin;
    if (x.rows == 1) {
        for (; n + 4 <= row_end; n += 4) tile<Dot, 4, 1, Two>(w, x, y, n, 0);
    } else {
        for (; n + 2 <= row_end; n += 2) rows_tile<Dot, 2, Two>(w, x, y, n);
    }
    for (; n < row_end; ++n) rows_tile<Dot, 1, Two>(w, x, y, n);
}

template <class Dot>
void matmul_rows(const TernaryMatrix& w, const QuantizedActivations& x, float* y, int row_begin,
                 int row_end) {
    if (w.scales_per_block() == 2)
        rows<Dot, true>(w, x, y, row_begin, row_end);
    else
        rows<Dot, false>(w, x, y, row_begin, row_end);
}

}  // namespace ternspec::x86
