// AVX2 body of ternary_matmul: maddubs(codes, x) sums (w+1)*x exactly in int16, and the int16 lanes
// accumulate a whole block (at most 32 steps of 2 * 2 * 127 = 16256) before madd with ones widens each
// row's two lanes to its int32 lane.
#include "target/kernels/kernel_variants.hpp"
#include "target/kernels/ternary_tile_x86.hpp"

namespace ternspec {
namespace {

struct MaddubsDot {
    using Acc = __m256i;
    // Eight tokens' int16 accumulators, the mask, a code vector and its plane fit AVX2's sixteen registers.
    // A decode step's one or two tokens split their accumulation over four chains, since maddubs' latency
    // would otherwise serialise them.
    static constexpr int kTokensPerTile = 8;
    static constexpr int chains(int t) { return t >= 4 ? 1 : 4 / t; }
    static constexpr int unroll(int) { return 1; }
    static __m256i zero() { return _mm256_setzero_si256(); }
    static __m256i step(__m256i acc, __m256i codes, const std::int8_t* x4) {
        __m256i sum = _mm256_add_epi16(acc, _mm256_maddubs_epi16(codes, x86::broadcast4(x4)));
        // Opaque to the optimiser: GCC otherwise reassociates a block's adds into trees whose partial sums
        // spill three of four accumulators to the stack; 19% slower at eight tokens (bench_kernels).
        asm("" : "+x"(sum));
        return sum;
    }
    static __m256i merge(__m256i a, __m256i b) { return _mm256_add_epi16(a, b); }
    static __m256i widen(__m256i acc) { return _mm256_madd_epi16(acc, _mm256_set1_epi16(1)); }
};

}  // namespace

void ternary_matmul_groups_avx2(const TernaryMatrix& w, const QuantizedActivations& x, float* y,
                                int group_begin, int group_end) {
    x86::matmul_groups<MaddubsDot>(w, x, y, group_begin, group_end);
}

}  // namespace ternspec
