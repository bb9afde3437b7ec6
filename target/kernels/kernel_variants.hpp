#pragma once
// The ISA variants behind KernelTable, declared for kernel_table.cpp (which chooses among them) and the
// files that define them; nothing else calls a variant by name. Every variant of a slot gives the same
// bits as the scalar one.
#include "target/kernels/kernel_table.hpp"  // the types, declared there

namespace ternspec {

namespace attention_detail {
void attend_run_generic(const AttendJob& job, const AttendRun& run);
void attend_run_avx2(const AttendJob& job, const AttendRun& run);
}  // namespace attention_detail

void ternary_matmul_groups_scalar(const TernaryMatrix& w, const QuantizedActivations& x, float* y,
                                  int group_begin, int group_end);
void ternary_matmul_groups_avx2(const TernaryMatrix& w, const QuantizedActivations& x, float* y,
                                int group_begin, int group_end);
void ternary_matmul_groups_avx512vnni(const TernaryMatrix& w, const QuantizedActivations& x, float* y,
                                      int group_begin, int group_end);
void quantize_row_scalar(const float* x, int cols, std::int8_t* q, float* scale, std::int32_t* sums);
void quantize_row_avx2(const float* x, int cols, std::int8_t* q, float* scale, std::int32_t* sums);
void int8_matmul_rows_scalar(const Int8Matrix& w, const std::int8_t* xq, const float* xs, int M, float* y,
                             int n0, int n1);
void int8_matmul_rows_avx2(const Int8Matrix& w, const std::int8_t* xq, const float* xs, int M, float* y,
                           int n0, int n1);
void exp_shifted_row_scalar(float* x, int n, float shift);
void exp_shifted_row_avx2(float* x, int n, float shift);
void silu_mul_row_scalar(const float* g, const float* u, float* out, int n);
void silu_mul_row_avx2(const float* g, const float* u, float* out, int n);
void delta_rule_head_scalar(float* S, const float* src, const float* k, const float* v, const float* q,
                            float decay, float beta, int d, float* out);
void delta_rule_head_avx2(float* S, const float* src, const float* k, const float* v, const float* q,
                          float decay, float beta, int d, float* out);
void half_row_to_float_table(const std::uint16_t* src, float* dst, int n);
void half_row_to_float_f16c(const std::uint16_t* src, float* dst, int n);
void float_row_to_half_scalar(const float* src, std::uint16_t* dst, int n);
void float_row_to_half_f16c(const float* src, std::uint16_t* dst, int n);

}  // namespace ternspec
