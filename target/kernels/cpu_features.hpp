#pragma once
// Which kernel path runs: the best one compiled in that the CPU has. AVX2 needs AVX2+FMA+F16C; the
// AVX-512 VNNI path (256-bit vpdpbusd in the ternary kernel, AVX2 everywhere else) also needs
// AVX512F/VL/VNNI. Every path gives bit-identical results. TERNSPEC_KERNELS=scalar, avx2 or avx512vnni
// in the environment chooses a path (the tests' oracle, and A/B benchmarks on one machine).
#include <string_view>

namespace ternspec {

enum class KernelPath { Scalar, Avx2, Avx512Vnni };  // ordered: each path includes the one before

KernelPath kernel_path();
KernelPath best_kernel_path();  // what this CPU and build could run, ignoring TERNSPEC_KERNELS
const char* kernel_path_name(KernelPath p);
// The path TERNSPEC_KERNELS asks for (`value`; null: unset, the best path). InputError for a name that is
// not a path, or a path this CPU or build cannot run: an override is never ignored. The CLI and
// Model::load call it with the environment's value before any kernel runs.
KernelPath kernel_path_override(const char* value);
void check_kernel_environment();       // kernel_path_override(getenv("TERNSPEC_KERNELS")), for its error
void force_kernel_path(KernelPath p);  // tests compare paths in one process; capped at best_kernel_path()
inline bool uses_avx2(KernelPath p) {
    return p != KernelPath::Scalar;
}

}  // namespace ternspec
