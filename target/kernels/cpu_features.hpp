#pragma once
// Which kernel path runs: the best one compiled in that the CPU has. AVX2 needs AVX2+FMA+F16C; the
// AVX-512 VNNI path (256-bit vpdpbusd in the ternary kernel, AVX2 everywhere else) also needs
// AVX512F/VL/VNNI. Every path gives bit-identical results. TERNSPEC_KERNELS=scalar or =avx2 in the
// environment caps the choice (the tests' oracle, and A/B benchmarks on one machine).
namespace ternspec {

enum class KernelPath { Scalar, Avx2, Avx512Vnni };  // ordered: each path includes the one before

KernelPath kernel_path();
KernelPath best_kernel_path();  // what this CPU and build could run, ignoring TERNSPEC_KERNELS
const char* kernel_path_name(KernelPath p);
void force_kernel_path(KernelPath p);  // tests compare paths in one process; capped at best_kernel_path()
inline bool uses_avx2(KernelPath p) {
    return p != KernelPath::Scalar;
}

}  // namespace ternspec
