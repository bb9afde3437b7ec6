#include "target/kernels/int8_matrix.hpp"

#include <tbb/parallel_for.h>

#include <algorithm>
#include <cmath>

#include "target/kernels/cpu_features.hpp"
#include "target/kernels/kernel_table.hpp"
#include "target/kernels/kernel_variants.hpp"
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

void int8_matmul_rows_scalar(const Int8Matrix& w, const std::int8_t* xq, const float* xs, int M, float* y,
                             int n0, int n1) {
    const int cols = w.cols();
    for (int n = n0; n < n1; ++n) {
        const std::int8_t* r = w.row(n);
        for (int m = 0; m < M; ++m) {
            const std::int8_t* a = xq + static_cast<std::size_t>(m) * cols;
            std::int32_t acc = 0;
            for (int k = 0; k < cols; ++k) acc += static_cast<std::int32_t>(r[k]) * a[k];
            y[static_cast<std::size_t>(m) * w.rows() + n] = static_cast<float>(acc) * w.scale(n) * xs[m];
        }
    }
}

void Int8Matrix::multiply(const float* x, int M, float* y) const {
    std::vector<std::int8_t> xq(static_cast<std::size_t>(M) * cols_);
    std::vector<float> xs(static_cast<std::size_t>(M));
    for (int m = 0; m < M; ++m)
        quantize_row(x + static_cast<std::size_t>(m) * cols_, cols_,
                     xq.data() + static_cast<std::size_t>(m) * cols_, &xs[static_cast<std::size_t>(m)]);
    const auto rows_kernel = kernels().int8_matmul_rows;
    // About 64K multiply-adds per task: a drafter's small matrices run on one thread.
    const int grain = static_cast<int>(
        std::clamp<long long>(65536 / std::max(1LL, static_cast<long long>(cols_) * M), 4, 1024));
    tbb::parallel_for(tbb::blocked_range<int>(0, rows_, grain), [&](const tbb::blocked_range<int>& r) {
        rows_kernel(*this, xq.data(), xs.data(), M, y, r.begin(), r.end());
    });
}

}  // namespace ternspec
