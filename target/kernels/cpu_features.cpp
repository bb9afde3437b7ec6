#include "target/kernels/cpu_features.hpp"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>

namespace ternspec {
namespace {

KernelPath detect_best() {
    KernelPath best = KernelPath::Scalar;
#if defined(TERNSPEC_HAVE_AVX2)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c"))
        best = KernelPath::Avx2;
#if defined(TERNSPEC_HAVE_AVX512VNNI)
    if (best == KernelPath::Avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512vnni"))
        best = KernelPath::Avx512Vnni;
#endif
#endif
    return best;
}

KernelPath detect() {
    KernelPath p = best_kernel_path();
    if (const char* e = std::getenv("TERNSPEC_KERNELS")) {
        if (std::strcmp(e, "scalar") == 0) p = KernelPath::Scalar;
        if (std::strcmp(e, "avx2") == 0) p = std::min(p, KernelPath::Avx2);
    }
    return p;
}

std::atomic<int>& current() {
    static std::atomic<int> p{static_cast<int>(detect())};
    return p;
}

}  // namespace

KernelPath best_kernel_path() {
    static const KernelPath best = detect_best();
    return best;
}

KernelPath kernel_path() {
    return static_cast<KernelPath>(current().load(std::memory_order_relaxed));
}

const char* kernel_path_name(KernelPath p) {
    switch (p) {
        case KernelPath::Avx512Vnni:
            return "avx512vnni";
        case KernelPath::Avx2:
            return "avx2";
        default:
            return "scalar";
    }
}

void force_kernel_path(KernelPath p) {
    current().store(static_cast<int>(std::min(p, best_kernel_path())));
}

}  // namespace ternspec
