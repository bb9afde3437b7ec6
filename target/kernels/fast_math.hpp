#pragma once
// exp for softmax and SwiGLU rows, vectorised on the AVX2 path. A libm call per element was a serial
// share of every forward; this exp uses only multiplies, adds and exact conversions in one fixed order,
// so the AVX2 body and the scalar body give the same floats. Accuracy: within 2 ulp of exp on
// [-87, 88]; inputs below -87 give exp(-87) (about 1.6e-38), above 88 give exp(88).
namespace ternspec {

// x[i] = exp(x[i] - shift), in place.
void exp_shifted_row(float* x, int n, float shift);
// out[i] = g[i] / (1 + exp(-g[i])) * u[i]: SiLU of the gate times the up projection.
void silu_mul_row(const float* g, const float* u, float* out, int n);
// (The bodies behind them are KernelTable::exp_shifted_row and silu_mul_row, kernel_table.hpp.)

// The polynomial's constants, shared by both bodies.
namespace fast_exp_constants {
inline constexpr float kLow = -87.0f, kHigh = 88.0f;
inline constexpr float kLog2e = 1.44269504088896341f;
inline constexpr float kLn2Hi = 0.693359375f, kLn2Lo = -2.12194440e-4f;
inline constexpr float kRound = 12582912.0f;  // 1.5 * 2^23: adding and removing it rounds to nearest
// exp(r) on [-ln2/2, ln2/2] as 1 + r + r^2 * P(r) (the Cephes expf coefficients).
inline constexpr float kP[6] = {1.9875691500e-4f, 1.3981999507e-3f, 8.3334519073e-3f,
                                4.1665795894e-2f, 1.6666665459e-1f, 5.0000001201e-1f};
}  // namespace fast_exp_constants

}  // namespace ternspec
