#include "target/kernels/cpu_features.hpp"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string>

#include "ternspec/error.hpp"

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
    try {
        return kernel_path_override(std::getenv("TERNSPEC_KERNELS"));
    } catch (const InputError&) {
        // Reported by check_kernel_environment() at every entry point; here the safe path is the answer.
        return KernelPath::Scalar;
    }
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

KernelPath kernel_path_override(const char* value) {
    const KernelPath best = best_kernel_path();
    if (!value) return best;
    const std::string_view v(value);
    for (const auto p : {KernelPath::Scalar, KernelPath::Avx2, KernelPath::Avx512Vnni}) {
        if (v != kernel_path_name(p)) continue;
        if (p > best)
            throw InputError("TERNSPEC_KERNELS=" + std::string(v) +
                             ": this CPU or build cannot run it (best: " + kernel_path_name(best) + ")");
        return p;
    }
    throw InputError("TERNSPEC_KERNELS=" + std::string(v) +
                     " is not a kernel path (scalar, avx2 or avx512vnni)");
}

void check_kernel_environment() {
    (void)kernel_path_override(std::getenv("TERNSPEC_KERNELS"));
}

void force_kernel_path(KernelPath p) {
    current().store(static_cast<int>(std::min(p, best_kernel_path())));
}

}  // namespace ternspec
