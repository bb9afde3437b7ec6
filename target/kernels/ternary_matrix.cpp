#include "target/kernels/ternary_matrix.hpp"

#include <tbb/parallel_for.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "target/kernels/cpu_features.hpp"
#include "ternspec/error.hpp"

namespace ternspec {

void* allocate_aligned_zeroed(std::size_t bytes) {
    constexpr std::size_t kHuge = std::size_t{2} << 20;
    const std::size_t align = bytes >= kHuge ? kHuge : 64;
    void* p = nullptr;
    // The size is not rounded up: the kernel backs only whole aligned 2 MB ranges with huge pages, so the
    // tail stays on small pages and resident memory does not grow.
    if (posix_memalign(&p, align, std::max<std::size_t>(bytes, 1)) != 0) throw std::bad_alloc();
#if defined(__linux__)
    // Only whole 2 MB pages inside the array: a huge page over the tail would be resident memory never used.
    if (align == kHuge)
        madvise(p, bytes / kHuge * kHuge, MADV_HUGEPAGE);  // advice: failure leaves 4 KB pages
#endif
    std::memset(p, 0, bytes);
    return p;
}

void FreeDeleter::operator()(void* p) const {
    std::free(p);
}

TernaryMatrix::TernaryMatrix(int rows, int cols, int group, std::span<const std::int8_t> trits,
                             std::span<const float> scales, const std::string& name)
    : rows_(rows), cols_(cols), group_(group), name_(name) {
    if (cols % kBlock != 0)
        throw FormatError(name + ": row length " + std::to_string(cols) +
                          " is not a multiple of 128, which the packed ternary kernels need");
    if (group != 64 && group != 128 && group != 256)
        throw FormatError(name + ": unsupported ternary group " + std::to_string(group));
    if (static_cast<std::size_t>(rows) * cols != trits.size() ||
        static_cast<std::size_t>(rows) * (cols / group) != scales.size())
        throw Error(name + ": trit or scale count does not match the shape");
    scales_per_block_ = group == 64 ? 2 : 1;
    const int bpr = cols / kBlock;
    codes_ = make_aligned<std::uint8_t>(static_cast<std::size_t>(rows) * cols / 4);
    scales_ = make_aligned<float>(static_cast<std::size_t>(rows) * bpr * scales_per_block_);
    for (int r = 0; r < rows; ++r) {
        const std::int8_t* t = trits.data() + static_cast<std::size_t>(r) * cols;
        std::uint8_t* c = codes_.get() + static_cast<std::size_t>(r) * cols / 4;
        for (int b = 0; b < bpr; ++b) {
            for (int j = 0; j < 32; ++j) {
                std::uint8_t byte = 0;
                for (int p = 0; p < 4; ++p) {
                    const int v = t[b * kBlock + j + 32 * p];
                    if (v < -1 || v > 1) throw FormatError(name + ": value is not ternary");
                    byte |= static_cast<std::uint8_t>((v + 1) << (2 * p));
                }
                c[b * 32 + j] = byte;
            }
            float* s = scales_.get() + (static_cast<std::size_t>(r) * bpr + b) * scales_per_block_;
            const std::size_t g0 =
                (static_cast<std::size_t>(r) * cols + static_cast<std::size_t>(b) * kBlock) / group;
            if (scales_per_block_ == 2) {
                s[0] = scales[g0];
                s[1] = scales[g0 + 1];
            } else {
                s[0] = scales[g0];
            }
        }
    }
}

std::size_t TernaryMatrix::bytes() const {
    return static_cast<std::size_t>(rows_) * cols_ / 4 +
           static_cast<std::size_t>(rows_) * blocks_per_row() * scales_per_block_ * sizeof(float);
}

std::int8_t TernaryMatrix::trit(int row, int col) const {
    const int b = col / kBlock, e = col % kBlock;
    const std::uint8_t byte = codes(row)[b * 32 + e % 32];
    return static_cast<std::int8_t>(((byte >> (2 * (e / 32))) & 3) - 1);
}

float TernaryMatrix::scale_of(int row, int col) const {
    const int b = col / kBlock, e = col % kBlock;
    return scales(row)[b * scales_per_block_ + (scales_per_block_ == 2 ? e / 64 : 0)];
}

void TernaryMatrix::dequantize_row(int row, float* out) const {
    for (int k = 0; k < cols_; ++k) out[k] = static_cast<float>(trit(row, k)) * scale_of(row, k);
}

void QuantizedActivations::quantize(const float* x, int m_rows, int k_cols) {
    if (m_rows != rows || k_cols != cols || !q) {
        rows = m_rows;
        cols = k_cols;
        q = make_aligned<std::int8_t>(static_cast<std::size_t>(rows) * cols);
        lane_sums = make_aligned<std::int32_t>(static_cast<std::size_t>(rows) * (cols / kBlock) * 24);
        scale.assign(static_cast<std::size_t>(rows), 0.0f);
    }
    const int blocks = cols / kBlock;
    for (int m = 0; m < rows; ++m) {
        const float* xr = x + static_cast<std::size_t>(m) * cols;
        float amax = 0;
        for (int k = 0; k < cols; ++k) amax = std::max(amax, std::fabs(xr[k]));
        const float inv = amax > 0 ? 127.0f / amax : 0.0f;
        scale[static_cast<std::size_t>(m)] = amax / 127.0f;
        std::int8_t* qr = q.get() + static_cast<std::size_t>(m) * cols;
        // Adding and removing 1.5 * 2^23 rounds to nearest even exactly for |v| <= 127 (as nearbyint does in
        // the default rounding mode), and vectorises where nearbyint is a library call.
        constexpr float kMagic = 12582912.0f;
        for (int k = 0; k < cols; ++k) qr[k] = static_cast<std::int8_t>((xr[k] * inv + kMagic) - kMagic);
        std::int32_t* s = lane_sums.get() + static_cast<std::size_t>(m) * blocks * 24;
        for (int b = 0; b < blocks; ++b) {
            const std::int8_t* xb = qr + b * kBlock;
            for (int half = 0; half < 2; ++half)
                for (int lane = 0; lane < 8; ++lane) {
                    std::int32_t acc = 0;
                    for (int p = 2 * half; p < 2 * half + 2; ++p)
                        for (int j = 4 * lane; j < 4 * lane + 4; ++j) acc += xb[j + 32 * p];
                    s[b * 24 + half * 8 + lane] = -acc;
                }
            for (int lane = 0; lane < 8; ++lane)
                s[b * 24 + 16 + lane] = s[b * 24 + lane] + s[b * 24 + 8 + lane];
        }
    }
}

// The scalar path is the oracle: the same integer lanes and the same fused multiply-adds as the AVX2 path.
void ternary_matmul_rows_scalar(const TernaryMatrix& w, const QuantizedActivations& x, float* y,
                                int row_begin, int row_end) {
    const int blocks = w.blocks_per_row();
    const int n_out = w.rows();
    const bool two = w.scales_per_block() == 2;
    for (int n = row_begin; n < row_end; ++n) {
        const std::uint8_t* c = w.codes(n);
        const float* s = w.scales(n);
        for (int m = 0; m < x.rows; ++m) {
            const std::int8_t* xr = x.row(m);
            const std::int32_t* xs = x.sums(m);
            float acc[8] = {};
            for (int b = 0; b < blocks; ++b) {
                for (int lane = 0; lane < 8; ++lane) {
                    std::int32_t half_sum[2] = {0, 0};
                    for (int p = 0; p < 4; ++p)
                        for (int j = 4 * lane; j < 4 * lane + 4; ++j)
                            half_sum[p / 2] += ((c[b * 32 + j] >> (2 * p)) & 3) * xr[b * kBlock + j + 32 * p];
                    half_sum[0] += xs[b * 24 + lane];
                    half_sum[1] += xs[b * 24 + 8 + lane];
                    if (two) {
                        acc[lane] = std::fma(static_cast<float>(half_sum[0]), s[2 * b], acc[lane]);
                        acc[lane] = std::fma(static_cast<float>(half_sum[1]), s[2 * b + 1], acc[lane]);
                    } else {
                        acc[lane] = std::fma(static_cast<float>(half_sum[0] + half_sum[1]), s[b], acc[lane]);
                    }
                }
            }
            // The AVX2 path's horizontal order: halves, then pairs, then the last two.
            const float h0 = acc[0] + acc[4], h1 = acc[1] + acc[5], h2 = acc[2] + acc[6],
                        h3 = acc[3] + acc[7];
            const float total = (h0 + h2) + (h1 + h3);
            y[static_cast<std::size_t>(m) * n_out + n] = total * x.scale[static_cast<std::size_t>(m)];
        }
    }
}

#if !defined(TERNSPEC_HAVE_AVX2)
void ternary_matmul_rows_avx2(const TernaryMatrix& w, const QuantizedActivations& x, float* y, int row_begin,
                              int row_end) {
    ternary_matmul_rows_scalar(w, x, y, row_begin, row_end);
}
#endif
#if !defined(TERNSPEC_HAVE_AVX512VNNI)
void ternary_matmul_rows_avx512vnni(const TernaryMatrix& w, const QuantizedActivations& x, float* y,
                                    int row_begin, int row_end) {
    ternary_matmul_rows_avx2(w, x, y, row_begin, row_end);
}
#endif

void ternary_matmul(const TernaryMatrix& w, const QuantizedActivations& x, float* y) {
    if (x.cols != w.cols())
        throw Error(w.name() + ": activations have " + std::to_string(x.cols) + " columns, weights " +
                    std::to_string(w.cols()));
    const KernelPath path = kernel_path();
    // About 64K multiply-adds per task keeps TBB's overhead small on the tiny shapes.
    const long long work_per_row = static_cast<long long>(w.cols()) * std::max(1, x.rows);
    const int grain =
        static_cast<int>(std::clamp<long long>(65536 / std::max(1LL, work_per_row), 4, 1024)) & ~3;
    tbb::parallel_for(tbb::blocked_range<int>(0, w.rows(), std::max(4, grain)),
                      [&](const tbb::blocked_range<int>& r) {
                          switch (path) {
                              case KernelPath::Avx512Vnni:
                                  ternary_matmul_rows_avx512vnni(w, x, y, r.begin(), r.end());
                                  break;
                              case KernelPath::Avx2:
                                  ternary_matmul_rows_avx2(w, x, y, r.begin(), r.end());
                                  break;
                              default:
                                  ternary_matmul_rows_scalar(w, x, y, r.begin(), r.end());
                          }
                      });
}

}  // namespace ternspec
