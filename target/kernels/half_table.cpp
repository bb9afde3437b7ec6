#include "target/kernels/half_table.hpp"

#include <vector>

#include "target/io/half.hpp"
#include "target/kernels/cpu_features.hpp"
#include "target/kernels/kernel_table.hpp"
#include "target/kernels/kernel_variants.hpp"

namespace ternspec {

const float* half_table() {
    static const std::vector<float> table = [] {
        std::vector<float> t(65536);
        for (std::uint32_t i = 0; i < 65536; ++i) t[i] = half_to_float(static_cast<std::uint16_t>(i));
        return t;
    }();
    return table.data();
}

void half_row_to_float_table(const std::uint16_t* src, float* dst, int n) {
    const float* t = half_table();
    for (int i = 0; i < n; ++i) dst[i] = t[src[i]];
}
void float_row_to_half_scalar(const float* src, std::uint16_t* dst, int n) {
    for (int i = 0; i < n; ++i) dst[i] = float_to_half(src[i]);
}

void float_row_to_half(const float* src, std::uint16_t* dst, int n) {
    kernels().float_row_to_half(src, dst, n);
}

void half_row_to_float(const std::uint16_t* src, float* dst, int n) {
    kernels().half_row_to_float(src, dst, n);
}

}  // namespace ternspec
