// bench_issue_rate's AVX-512 VNNI loop: the step of DpbusdDot (target/kernels/ternary_matmul_avx512vnni.cpp).
#include "bench/issue_rate/sweep.hpp"

namespace ternspec::issue_rate {
namespace {

struct Dpbusd {
    static __m256i step(__m256i acc, __m256i plane, const std::int8_t* x4) {
        asm("vpdpbusd %2%{1to8%}, %1, %0"
            : "+v"(acc)
            : "v"(plane), "m"(*reinterpret_cast<const std::int32_t*>(x4)));
        return acc;
    }
};

}  // namespace

std::int64_t dpbusd(bool planes, const std::int8_t* x, std::int64_t turns, std::int32_t* sink) {
    return planes ? sweep<Dpbusd, true>(x, turns, sink) : sweep<Dpbusd, false>(x, turns, sink);
}

}  // namespace ternspec::issue_rate
