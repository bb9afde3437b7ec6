// AVX-512 VNNI body of ternary_matmul, on 256-bit vectors: vpdpbusd sums four u8 x s8 products straight into
// each row's int32 lane, replacing AVX2's maddubs + add. AVX-512VL's 32 vector registers hold the
// accumulators of eight tokens, so a tile covers a whole 8-token verification.
#include "target/kernels/kernel_variants.hpp"
#include "target/kernels/ternary_tile_x86.hpp"

namespace ternspec {
namespace {

struct DpbusdDot {
    using Acc = __m256i;
    static constexpr int kTokensPerTile = 8;
    // vpdpbusd accumulates in place, so a tile of few tokens splits each token's sum over independent
    // chains (eight in all) to cover its latency, and unrolls four code vectors per loop turn. Measured on
    // bench_kernels' gate_up shape: M = 1 at 175 G MAC/s with four chains and no unrolling, 215 like this.
    static constexpr int chains(int t) { return t >= 8 ? 1 : 8 / t; }
    static constexpr int unroll(int t) { return t <= 4 ? 4 : 1; }
    static __m256i zero() { return _mm256_setzero_si256(); }
    // The four activations are an embedded broadcast operand ({1to8}), which GCC does not form from the
    // intrinsics: a separate vpbroadcastd measured 217 against 250 G MAC/s at M = 1 and 359 against 378 at
    // M = 8 (bench_kernels, gate_up).
    static __m256i step(__m256i acc, __m256i codes, const std::int8_t* x4) {
        asm("vpdpbusd %2%{1to8%}, %1, %0"
            : "+v"(acc)
            : "v"(codes), "m"(*reinterpret_cast<const std::int32_t*>(x4)));
        return acc;
    }
    static __m256i merge(__m256i a, __m256i b) { return _mm256_add_epi32(a, b); }
    static __m256i widen(__m256i acc) { return acc; }
};

}  // namespace

void ternary_matmul_groups_avx512vnni(const TernaryMatrix& w, const QuantizedActivations& x, float* y,
                                      int group_begin, int group_end) {
    x86::matmul_groups<DpbusdDot>(w, x, y, group_begin, group_end);
}

}  // namespace ternspec
