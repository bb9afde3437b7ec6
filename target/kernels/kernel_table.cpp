#include "target/kernels/kernel_table.hpp"

#include "target/kernels/kernel_variants.hpp"

namespace ternspec {
namespace {

constexpr KernelTable kScalar{
    KernelPath::Scalar,      ternary_matmul_groups_scalar, quantize_row_scalar,
    int8_matmul_rows_scalar, exp_shifted_row_scalar,       silu_mul_row_scalar,
    half_row_to_float_table, float_row_to_half_scalar,     attention_detail::attend_run_generic,
    delta_rule_head_scalar};
#if defined(TERNSPEC_HAVE_AVX2)
constexpr KernelTable kAvx2{
    KernelPath::Avx2,       ternary_matmul_groups_avx2, quantize_row_avx2,
    int8_matmul_rows_avx2,  exp_shifted_row_avx2,       silu_mul_row_avx2,
    half_row_to_float_f16c, float_row_to_half_f16c,     attention_detail::attend_run_avx2,
    delta_rule_head_avx2};
#else
constexpr KernelTable kAvx2 = kScalar;
#endif
#if defined(TERNSPEC_HAVE_AVX2) && defined(TERNSPEC_HAVE_AVX512VNNI)
// VNNI replaces the ternary kernel only; the rest is the AVX2 path's.
constexpr KernelTable kAvx512Vnni{KernelPath::Avx512Vnni,  ternary_matmul_groups_avx512vnni,
                                  kAvx2.quantize_row,      kAvx2.int8_matmul_rows,
                                  kAvx2.exp_shifted_row,   kAvx2.silu_mul_row,
                                  kAvx2.half_row_to_float, kAvx2.float_row_to_half,
                                  kAvx2.attend_run,        kAvx2.delta_rule_head};
#else
constexpr KernelTable kAvx512Vnni = kAvx2;
#endif

}  // namespace

const KernelTable& kernels_for(KernelPath p) {
    switch (p) {
        case KernelPath::Avx512Vnni:
            return kAvx512Vnni;
        case KernelPath::Avx2:
            return kAvx2;
        default:
            return kScalar;
    }
}

const KernelTable& kernels() {
    return kernels_for(kernel_path());
}

std::vector<KernelPath> runnable_paths() {
    std::vector<KernelPath> out{KernelPath::Scalar};
    if (uses_avx2(best_kernel_path())) out.push_back(KernelPath::Avx2);
    if (best_kernel_path() == KernelPath::Avx512Vnni) out.push_back(KernelPath::Avx512Vnni);
    return out;
}

}  // namespace ternspec
