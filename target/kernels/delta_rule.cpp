#include "target/kernels/delta_rule.hpp"

#include "target/kernels/kernel_variants.hpp"

namespace ternspec {
namespace {

float lane_dot(const float* a, const float* b, int n) {
    float lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; ++j) lane[j] += a[i + j] * b[i + j];
    for (; i < n; ++i) lane[i % 8] += a[i] * b[i];
    return ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
}

}  // namespace

void delta_rule_head_scalar(float* S, const float* src, const float* k, const float* v, const float* q,
                            float decay, float beta, int d, float* out) {
    for (int j = 0; j < d; ++j) {
        float* dst = S + static_cast<std::size_t>(j) * d;
        const float* from = src + static_cast<std::size_t>(j) * d;
        for (int i = 0; i < d; ++i) dst[i] = from[i] * decay;
        const float delta = (v[j] - lane_dot(dst, k, d)) * beta;
        for (int i = 0; i < d; ++i) dst[i] += k[i] * delta;
        if (out) out[j] = lane_dot(dst, q, d);
    }
}

}  // namespace ternspec
