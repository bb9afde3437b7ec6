// bench_issue_rate's AVX2 loop: the step of MaddubsDot (target/kernels/ternary_matmul_avx2.cpp).
#include <cstring>

#include "bench/issue_rate/sweep.hpp"

namespace ternspec::issue_rate {
namespace {

struct Maddubs {
    static __m256i step(__m256i acc, __m256i plane, const std::int8_t* x4) {
        std::int32_t v;
        std::memcpy(&v, x4, sizeof v);
        __m256i sum = _mm256_add_epi16(acc, _mm256_maddubs_epi16(plane, _mm256_set1_epi32(v)));
        asm("" : "+x"(sum));
        return sum;
    }
};

}  // namespace

std::int64_t maddubs_add(bool planes, const std::int8_t* x, std::int64_t turns, std::int32_t* sink) {
    return planes ? sweep<Maddubs, true>(x, turns, sink) : sweep<Maddubs, false>(x, turns, sink);
}

}  // namespace ternspec::issue_rate
