// AVX-512 VNNI body of ternary_matmul, on 256-bit vectors: vpdpbusd sums four u8 x s8 products straight
// into each int32 lane, replacing AVX2's maddubs + add + madd, and it starts from the negated activation
// sums, so the +1 of the codes costs nothing. Same tiles as AVX2.
#include "target/kernels/ternary_tile_x86.hpp"

namespace ternspec {
namespace {

struct DpbusdDot {
    static __m256i pair(__m256i init, __m256i pa, __m256i xa, __m256i pb, __m256i xb) {
        return _mm256_dpbusd_epi32(_mm256_dpbusd_epi32(init, pa, xa), pb, xb);
    }
    static __m256i quad(__m256i init, __m256i p0, __m256i x0, __m256i p1, __m256i x1, __m256i p2, __m256i x2,
                        __m256i p3, __m256i x3) {
        return pair(pair(init, p0, x0, p1, x1), p2, x2, p3, x3);
    }
};

}  // namespace

void ternary_matmul_rows_avx512vnni(const TernaryMatrix& w, const QuantizedActivations& x, float* y,
                                    int row_begin, int row_end) {
    x86::matmul_rows<DpbusdDot>(w, x, y, row_begin, row_end);
}

}  // namespace ternspec
