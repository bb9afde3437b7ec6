#pragma once
// The one ISA dispatch point. Every kernel with ISA variants has a slot in KernelTable, and
// kernel_table.cpp fills one table per path from the variants this build compiled (a path the build lacks
// falls back to the next lower one there, and nowhere else). Callers run kernels().slot(...), never test the
// ISA themselves; tests compare kernels_for(path) tables path by path.
#include <cstdint>
#include <vector>

#include "target/kernels/cpu_features.hpp"
#include "target/kernels/delta_rule.hpp"

namespace ternspec {

class TernaryMatrix;
struct QuantizedActivations;
class Int8Matrix;
namespace attention_detail {
struct AttendJob;
struct AttendRun;
}  // namespace attention_detail

struct KernelTable {
    KernelPath path;
    // Rows [group_begin, group_end) of row groups of Y = X W^T (ternary_matrix.hpp).
    void (*ternary_matmul_groups)(const TernaryMatrix& w, const QuantizedActivations& x, float* y,
                                  int group_begin, int group_end);
    // One token's int8 quantisation with block sums (ternary_matrix.hpp).
    void (*quantize_row)(const float* x, int cols, std::int8_t* q, float* scale, std::int32_t* sums);
    // Rows [n0, n1) of y for int8 activations (int8_matrix.hpp).
    void (*int8_matmul_rows)(const Int8Matrix& w, const std::int8_t* xq, const float* xs, int M, float* y,
                             int n0, int n1);
    void (*exp_shifted_row)(float* x, int n, float shift);                    // fast_math.hpp
    void (*silu_mul_row)(const float* g, const float* u, float* out, int n);  // fast_math.hpp
    void (*half_row_to_float)(const std::uint16_t* src, float* dst, int n);   // half_table.hpp
    void (*float_row_to_half)(const float* src, std::uint16_t* dst, int n);   // half_table.hpp
    // One run of tokens of one kv head (attention_core.hpp).
    void (*attend_run)(const attention_detail::AttendJob& job, const attention_detail::AttendRun& run);
    DeltaRuleHeadFn delta_rule_head;  // one value head of a Gated DeltaNet token (delta_rule.hpp)
};

const KernelTable& kernels();                  // the table of the path that runs now (kernel_path())
const KernelTable& kernels_for(KernelPath p);  // p's table; a path the build lacks gives the lower one
std::vector<KernelPath> runnable_paths();      // Scalar up to best_kernel_path(): what the tests compare

}  // namespace ternspec
