#include "target/kernels/cpu_features.hpp"

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace ternspec {
namespace {

KernelPath detect() {
    if (const char* e = std::getenv("TERNSPEC_KERNELS"); e && std::strcmp(e, "scalar") == 0)
        return KernelPath::Scalar;
#if defined(TERNSPEC_HAVE_AVX2)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return KernelPath::Avx2;
#endif
    return KernelPath::Scalar;
}

std::atomic<int>& current() {
    static std::atomic<int> p{static_cast<int>(detect())};
    return p;
}

}  // namespace

KernelPath kernel_path() {
    return static_cast<KernelPath>(current().load(std::memory_order_relaxed));
}

const char* kernel_path_name(KernelPath p) {
    return p == KernelPath::Avx2 ? "avx2" : "scalar";
}

void force_kernel_path(KernelPath p) {
#if !defined(TERNSPEC_HAVE_AVX2)
    p = KernelPath::Scalar;
#endif
    current().store(static_cast<int>(p));
}

}  // namespace ternspec
