// AVX2 body of ternary_matmul: maddubs(codes, x) sums (w+1)*x exactly in int16 (four planes stay below
// 4 * 2 * 2 * 127), and madd with ones widens adjacent pairs to the int32 lanes.
#include "target/kernels/ternary_tile_x86.hpp"

namespace ternspec {
namespace {

struct MaddubsDot {
    static __m256i pair(__m256i init, __m256i pa, __m256i xa, __m256i pb, __m256i xb) {
        return _mm256_add_epi32(init, _mm256_madd_epi16(_mm256_add_epi16(_mm256_maddubs_epi16(pa, xa),
                                                                         _mm256_maddubs_epi16(pb, xb)),
                                                        _mm256_set1_epi16(1)));
    }
    static __m256i quad(__m256i init, __m256i p0, __m256i x0, __m256i p1, __m256i x1, __m256i p2, __m256i x2,
                        __m256i p3, __m256i x3) {
        const __m256i lo = _mm256_add_epi16(_mm256_maddubs_epi16(p0, x0), _mm256_maddubs_epi16(p1, x1));
        const __m256i hi = _mm256_add_epi16(_mm256_maddubs_epi16(p2, x2), _mm256_maddubs_epi16(p3, x3));
        return _mm256_add_epi32(init, _mm256_madd_epi16(_mm256_add_epi16(lo, hi), _mm256_set1_epi16(1)));
    }
};

}  // namespace

void ternary_matmul_rows_avx2(const TernaryMatrix& w, const QuantizedActivations& x, float* y, int row_begin,
                              int row_end) {
    x86::matmul_rows<MaddubsDot>(w, x, y, row_begin, row_end);
}

}  // namespace ternspec
