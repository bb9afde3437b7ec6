#include "target/kernels/half_table.hpp"

#include <vector>

#include "target/io/half.hpp"

namespace ternspec {

const float* half_table() {
    static const std::vector<float> table = [] {
        std::vector<float> t(65536);
        for (std::uint32_t i = 0; i < 65536; ++i) t[i] = half_to_float(static_cast<std::uint16_t>(i));
        return t;
    }();
    return table.data();
}

}  // namespace ternspec
