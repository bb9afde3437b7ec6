#pragma once
// The loop of bench_issue_rate, included by one translation unit per instruction set with that set's flags.
// It issues the kernel's step (target/kernels/ternary_tile_x86.hpp) for eight tokens from registers and L1:
// no weight stream, no block's conversion and FMA, no chain shorter than eight.
#include <immintrin.h>

#include <cstdint>

#include "bench/issue_rate/sweep_api.hpp"

namespace ternspec::issue_rate {

template <class Dot, bool Planes>
std::int64_t sweep(const std::int8_t* x, std::int64_t turns, std::int32_t* sink) {
    __m256i acc[kTokens];
    for (auto& a : acc) a = _mm256_setzero_si256();
    __m256i codes = _mm256_set1_epi8(0x39);
    const __m256i mask = _mm256_set1_epi8(3);
    for (std::int64_t n = 0; n < turns; ++n) {
        const std::int8_t* xn = x + (n * 16) % kActBytes;
        for (int p = 0; p < 4; ++p) {
            __m256i plane = codes;
            if constexpr (Planes) plane = _mm256_and_si256(_mm256_srli_epi16(codes, 2 * p), mask);
            for (int t = 0; t < kTokens; ++t) acc[t] = Dot::step(acc[t], plane, xn + t * kActBytes + 4 * p);
        }
        asm("" : "+x"(codes));  // a new code vector every turn, as far as the compiler knows
    }
    for (int t = 1; t < kTokens; ++t) acc[0] = _mm256_xor_si256(acc[0], acc[t]);
    *sink = _mm256_extract_epi32(acc[0], 0);
    return turns * 4 * kTokens;
}

}  // namespace ternspec::issue_rate
