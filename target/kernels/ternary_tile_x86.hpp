#pragma once
// The x86 tile loop of ternary_matmul, shared by the AVX2 and AVX-512 VNNI translation units, which include
// it under their own target flags. One shift and one mask turn a 32-byte code vector into four consecutive
// codes of each of a row group's eight rows, one row per int32 lane; a token's four matching int8
// activations, broadcast to every lane, meet them in one dot-product step. So the per-block float work (a
// conversion and an FMA) serves eight rows at once, and no horizontal sum is needed. `Dot` supplies the step
// and widens its accumulator to the exact int32 sums the scalar path defines.
#include <immintrin.h>

#include <cstring>

#include "target/kernels/ternary_matrix.hpp"

namespace ternspec::x86 {

[[gnu::always_inline]] inline __m256i broadcast4(const std::int8_t* p) {
    std::int32_t v;
    std::memcpy(&v, p, sizeof v);
    return _mm256_set1_epi32(v);
}

// Code vectors [V0, V1) of one 256-byte block (four steps each) for T tokens, spread over C independent
// accumulator chains per token so that few tokens still keep the multiplier busy. The loop body covers
// U vectors (chain (4u + p) % C), so C may be up to 4U.
template <class Dot, int T, int C, int U, int V0, int V1>
[[gnu::always_inline]] inline void steps(typename Dot::Acc (&a)[T][C], const std::uint8_t* block,
                                         const std::int8_t* const (&xb)[T]) {
    static_assert((V1 - V0) % U == 0 && C <= 4 * U);
    const __m256i mask = _mm256_set1_epi8(3);
#pragma GCC unroll 1
    for (int v0 = V0; v0 < V1; v0 += U) {
#pragma GCC unroll 8
        for (int u = 0; u < U; ++u) {
            const int v = v0 + u;
            const __m256i c = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block + 32 * v));
#pragma GCC unroll 4
            for (int p = 0; p < 4; ++p) {
                const __m256i wv = _mm256_and_si256(p == 0 ? c : _mm256_srli_epi16(c, 2 * p), mask);
#pragma GCC unroll 8
                for (int t = 0; t < T; ++t) {
                    auto& acc = a[t][(4 * u + p) % C];
                    acc = Dot::step(acc, wv, xb[t] + 16 * v + 4 * p);
                }
            }
        }
    }
}

// The block's (or half block's) exact sums for T tokens, multiplied by the eight rows' scales and added to
// acc.
template <class Dot, int T, int C, int U, int V0, int V1>
[[gnu::always_inline]] inline void scaled_steps(__m256 (&acc)[T], const std::uint8_t* block,
                                                const std::int8_t* const (&xb)[T],
                                                const std::int32_t* const (&neg)[T], const float* scales) {
    typename Dot::Acc a[T][C];
    for (int t = 0; t < T; ++t)
        for (int c = 0; c < C; ++c) a[t][c] = Dot::zero();
    steps<Dot, T, C, U, V0, V1>(a, block, xb);
    const __m256 s = _mm256_loadu_ps(scales);
    for (int t = 0; t < T; ++t) {
        typename Dot::Acc sum = a[t][0];
        for (int c = 1; c < C; ++c) sum = Dot::merge(sum, a[t][c]);
        const __m256i exact = _mm256_add_epi32(Dot::widen(sum), _mm256_set1_epi32(*neg[t]));
        acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(exact), s, acc[t]);
    }
}

// Row group g against tokens m0..m0+T-1. Codes 16 KB ahead go to L2 while the tile computes: decode streams
// the weights from DRAM and the hardware prefetcher alone leaves it well below the machine's bandwidth
// (docs/packed-layout.md).
template <class Dot, int T, bool Two>
void tile(const TernaryMatrix& w, const QuantizedActivations& x, float* y, int g, int m0) {
    constexpr int C = Dot::chains(T);
    constexpr int U = Dot::unroll(T);
    const int blocks = w.blocks_per_row();
    const std::uint8_t* codes = w.group_codes(g);
    const float* scales = w.group_scales(g);
    const std::int8_t* xr[T];
    const std::int32_t* xs[T];
    __m256 acc[T];
    for (int t = 0; t < T; ++t) {
        xr[t] = x.row(m0 + t);
        xs[t] = x.sums(m0 + t);
        acc[t] = _mm256_setzero_ps();
    }
    constexpr std::size_t ahead = 16384;
    for (int b = 0; b < blocks; ++b) {
        const std::uint8_t* block = codes + static_cast<std::size_t>(b) * 256;
        for (int line = 0; line < 256; line += 64)
            _mm_prefetch(reinterpret_cast<const char*>(block + ahead + line), _MM_HINT_T1);
        const std::int8_t* xb[T];
        for (int t = 0; t < T; ++t) xb[t] = xr[t] + b * kBlock;
        if constexpr (Two) {
            const std::int32_t* lo[T];
            const std::int32_t* hi[T];
            for (int t = 0; t < T; ++t) {
                lo[t] = xs[t] + 3 * b;
                hi[t] = xs[t] + 3 * b + 1;
            }
            scaled_steps<Dot, T, C, U, 0, 4>(acc, block, xb, lo, scales + 2 * b * kRowGroup);
            scaled_steps<Dot, T, C, U, 4, 8>(acc, block, xb, hi, scales + (2 * b + 1) * kRowGroup);
        } else {
            const std::int32_t* all[T];
            for (int t = 0; t < T; ++t) all[t] = xs[t] + 3 * b + 2;
            scaled_steps<Dot, T, C, U, 0, 8>(acc, block, xb, all, scales + b * kRowGroup);
        }
    }
    const int n_out = w.rows(), n0 = g * kRowGroup;
    for (int t = 0; t < T; ++t) {
        const __m256 out = _mm256_mul_ps(acc[t], _mm256_set1_ps(x.scale[static_cast<std::size_t>(m0 + t)]));
        float* dst = y + static_cast<std::size_t>(m0 + t) * n_out + n0;
        if (n0 + kRowGroup <= n_out) {
            _mm256_storeu_ps(dst, out);
        } else {
            alignas(32) float tmp[kRowGroup];
            _mm256_store_ps(tmp, out);
            std::memcpy(dst, tmp, sizeof(float) * static_cast<std::size_t>(n_out - n0));
        }
    }
}

// The last tokens, fewer than a full tile.
template <class Dot, int T, bool Two>
void tail_tile(const TernaryMatrix& w, const QuantizedActivations& x, float* y, int g, int m0, int count) {
    if constexpr (T > 0) {
        if (count == T)
            tile<Dot, T, Two>(w, x, y, g, m0);
        else
            tail_tile<Dot, T - 1, Two>(w, x, y, g, m0, count);
    }
}

template <class Dot, bool Two>
void groups(const TernaryMatrix& w, const QuantizedActivations& x, float* y, int group_begin, int group_end) {
    constexpr int T = Dot::kTokensPerTile;
    for (int g = group_begin; g < group_end; ++g) {
        int m = 0;
        for (; m + T <= x.rows; m += T) tile<Dot, T, Two>(w, x, y, g, m);
        if (m < x.rows) tail_tile<Dot, T - 1, Two>(w, x, y, g, m, x.rows - m);
    }
}

template <class Dot>
void matmul_groups(const TernaryMatrix& w, const QuantizedActivations& x, float* y, int group_begin,
                   int group_end) {
    if (w.scales_per_block() == 2)
        groups<Dot, true>(w, x, y, group_begin, group_end);
    else
        groups<Dot, false>(w, x, y, group_begin, group_end);
}

}  // namespace ternspec::x86
