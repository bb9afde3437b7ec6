#include "drafters/int8_matrix.hpp"

#include <tbb/parallel_for.h>

#include <algorithm>
#include <cmath>

#include "ternspec/error.hpp"

namespace ternspec {
namespace {

void quantize_row(const float* x, int n, std::int8_t* q, float* scale) {
    float amax = 0;
    for (int i = 0; i < n; ++i) amax = std::max(amax, std::fabs(x[i]));
    *scale = amax / 127.0f;
    const float inv = amax > 0 ? 127.0f / amax : 0.0f;
    constexpr float kMagic = 12582912.0f;  // round to nearest even, vectorisable
    for (int i = 0; i < n; ++i) q[i] = static_cast<std::int8_t>((x[i] * inv + kMagic) - kMagic);
}

}  // namespace

Int8Matrix::Int8Matrix(int rows, int cols, const float* w, const std::string& name)
    : rows_(rows),
      cols_(cols),
      q_(static_cast<std::size_t>(rows) * cols),
      scale_(static_cast<std::size_t>(rows)),
      name_(name) {
    for (int r = 0; r < rows; ++r)
        quantize_row(w + static_cast<std::size_t>(r) * cols, cols,
                     q_.data() + static_cast<std::size_t>(r) * cols, &scale_[static_cast<std::size_t>(r)]);
}

void Int8Matrix::multiply(const float* x, int M, float* y) const {
    std::vector<std::int8_t> xq(static_cast<std::size_t>(M) * cols_);
    std::vector<float> xs(static_cast<std::size_t>(M));
    for (int m = 0; m < M; ++m)
        quantize_row(x + static_cast<std::size_t>(m) * cols_, cols_,
                     xq.data() + static_cast<std::size_t>(m) * cols_, &xs[static_cast<std::size_t>(m)]);
    tbb::parallel_for(tbb::blocked_range<int>(0, rows_, 64), [&](const tbb::blocked_range<int>& r) {
        for (int n = r.begin(); n < r.end(); ++n) {
            const std::int8_t* w = q_.data() + static_cast<std::size_t>(n) * cols_;
            for (int m = 0; m < M; ++m) {
                const std::int8_t* a = xq.data() + static_cast<std::size_t>(m) * cols_;
                std::int32_t acc = 0;
                for (int k = 0; k < cols_; ++k) acc += static_cast<std::int32_t>(w[k]) * a[k];
                y[static_cast<std::size_t>(m) * rows_ + n] = static_cast<float>(acc) *
                                                             scale_[static_cast<std::size_t>(n)] *
                                                             xs[static_cast<std::size_t>(m)];
            }
        }
    });
}

}  // namespace ternspec
