#include "target/kernels/fast_math.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "target/kernels/cpu_features.hpp"
#include "target/kernels/kernel_table.hpp"
#include "target/kernels/kernel_variants.hpp"

namespace ternspec {
namespace {

float fast_exp(float x) {
    using namespace fast_exp_constants;
    x = std::min(std::max(x, kLow), kHigh);
    const float n = (x * kLog2e + kRound) - kRound;
    const float r = (x - n * kLn2Hi) - n * kLn2Lo;
    float p = kP[0];
    for (int i = 1; i < 6; ++i) p = p * r + kP[i];
    const float y = (p * (r * r) + r) + 1.0f;
    const std::int32_t bits = (static_cast<std::int32_t>(n) + 127) << 23;
    float two_n;
    std::memcpy(&two_n, &bits, sizeof two_n);
    return y * two_n;
}

}  // namespace

void exp_shifted_row_scalar(float* x, int n, float shift) {
    for (int i = 0; i < n; ++i) x[i] = fast_exp(x[i] - shift);
}

void silu_mul_row_scalar(const float* g, const float* u, float* out, int n) {
    for (int i = 0; i < n; ++i) out[i] = g[i] / (1.0f + fast_exp(-g[i])) * u[i];
}

void exp_shifted_row(float* x, int n, float shift) {
    kernels().exp_shifted_row(x, n, shift);
}

void silu_mul_row(const float* g, const float* u, float* out, int n) {
    kernels().silu_mul_row(g, u, out, n);
}

}  // namespace ternspec
