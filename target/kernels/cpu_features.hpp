#pragma once
// Which kernel path runs: AVX2 when it was compiled in and the CPU has AVX2+FMA+F16C, else scalar.
// TERNSPEC_KERNELS=scalar in the environment forces the scalar path (the tests' oracle).
namespace ternspec {

enum class KernelPath { Scalar, Avx2 };

KernelPath kernel_path();
const char* kernel_path_name(KernelPath p);
void force_kernel_path(KernelPath p);  // tests compare both paths in one process

}  // namespace ternspec
