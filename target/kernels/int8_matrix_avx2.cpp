// AVX2 body of Int8Matrix::multiply: maddubs(|w|, sign(x, w)) sums w*x exactly in int16 pairs
// (|w|, |x| <= 127), madd widens them to int32. Four tokens share each weight load.
#include <immintrin.h>

#include "target/kernels/int8_matrix.hpp"
#include "target/kernels/kernel_variants.hpp"

namespace ternspec {
namespace {

inline std::int32_t hsum(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

template <int T>
void tokens(const Int8Matrix& w, const std::int8_t* xq, const float* xs, float* y, int n, int m0) {
    const int cols = w.cols(), body = cols & ~31;
    const std::int8_t* r = w.row(n);
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i acc[T];
    for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_si256();
    for (int k = 0; k < body; k += 32) {
        const __m256i wv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(r + k));
        const __m256i aw = _mm256_abs_epi8(wv);
        for (int t = 0; t < T; ++t) {
            const __m256i a = _mm256_loadu_si256(
                reinterpret_cast<const __m256i*>(xq + static_cast<std::size_t>(m0 + t) * cols + k));
            acc[t] = _mm256_add_epi32(
                acc[t], _mm256_madd_epi16(_mm256_maddubs_epi16(aw, _mm256_sign_epi8(a, wv)), ones));
        }
    }
    for (int t = 0; t < T; ++t) {
        const std::int8_t* a = xq + static_cast<std::size_t>(m0 + t) * cols;
        std::int32_t dot = hsum(acc[t]);
        for (int k = body; k < cols; ++k) dot += static_cast<std::int32_t>(r[k]) * a[k];
        y[static_cast<std::size_t>(m0 + t) * w.rows() + n] =
            static_cast<float>(dot) * w.scale(n) * xs[m0 + t];
    }
}

}  // namespace

void int8_matmul_rows_avx2(const Int8Matrix& w, const std::int8_t* xq, const float* xs, int M, float* y,
                           int n0, int n1) {
    for (int n = n0; n < n1; ++n) {
        int m = 0;
        for (; m + 4 <= M; m += 4) tokens<4>(w, xq, xs, y, n, m);
        switch (M - m) {
            case 3:
                tokens<3>(w, xq, xs, y, n, m);
                break;
            case 2:
                tokens<2>(w, xq, xs, y, n, m);
                break;
            case 1:
                tokens<1>(w, xq, xs, y, n, m);
                break;
            default:
                break;
        }
    }
}

}  // namespace ternspec
