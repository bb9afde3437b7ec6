#pragma once
// The runtime's packed ternary weight layout (docs/packed-layout.md) and the batched kernel
//   Y[m][n] = xs[m] * sum_b scale[n][b] * sum_{k in block b} w[n][k] * xq[m][k]
// with int8 activations xq (per-token absmax scale xs). Block sums are exact integers; the float
// accumulation runs in eight fixed lanes with a fixed final order, so a row's result is the same for
// any batch size, any thread split and on both the scalar and AVX2 paths (bit for bit).
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace ternspec {

inline constexpr int kBlock = 128;  // weights per packed block (32 bytes of 2-bit codes)

// Zeroed, 64-byte aligned storage. Arrays of 2 MB and more are aligned to 2 MB and offered to the kernel as
// transparent huge pages: decode streams every weight once per token, and with 4 KB pages that walk is one
// TLB miss per 4 KB (docs/packed-layout.md).
void* allocate_aligned_zeroed(std::size_t bytes);
struct FreeDeleter {
    void operator()(void* p) const;
};
template <typename T>
using AlignedArray = std::unique_ptr<T[], FreeDeleter>;
template <typename T>
AlignedArray<T> make_aligned(std::size_t n) {
    return AlignedArray<T>(static_cast<T*>(allocate_aligned_zeroed(n * sizeof(T))));
}

// Accessors the kernels call are always inlined: the AVX2 and AVX-512 translation units include this header
// under their own -m flags, and an out-of-line copy compiled there could be the one the linker keeps for all.
class TernaryMatrix {
  public:
    TernaryMatrix() = default;
    // trits: rows*cols values in {-1,0,1}, row-major. scales: one per `group` weights of a row, group in
    // {64, 128, 256}. cols must be a multiple of 128.
    TernaryMatrix(int rows, int cols, int group, std::span<const std::int8_t> trits,
                  std::span<const float> scales, const std::string& name);

    [[gnu::always_inline]] int rows() const { return rows_; }
    [[gnu::always_inline]] int cols() const { return cols_; }
    [[gnu::always_inline]] int blocks_per_row() const { return cols_ / kBlock; }
    [[gnu::always_inline]] int scales_per_block() const { return scales_per_block_; }
    int source_group() const { return group_; }
    [[gnu::always_inline]] const std::uint8_t* codes(int row) const {
        return codes_.get() + static_cast<std::size_t>(row) * cols_ / 4;
    }
    [[gnu::always_inline]] const float* scales(int row) const {
        return scales_.get() + static_cast<std::size_t>(row) * blocks_per_row() * scales_per_block_;
    }
    std::size_t bytes() const;  // packed codes + scales
    std::int8_t trit(int row, int col) const;
    float scale_of(int row, int col) const;
    void dequantize_row(int row, float* out) const;  // exact trit * scale
    const std::string& name() const { return name_; }

  private:
    int rows_ = 0, cols_ = 0, group_ = 128, scales_per_block_ = 1;
    AlignedArray<std::uint8_t> codes_;
    AlignedArray<float> scales_;
    std::string name_;
};

// Per-token int8 activations, with the negated per-lane block sums the kernel adds (codes are w + 1): a
// dot-product instruction can start from them.
struct QuantizedActivations {
    int rows = 0, cols = 0;
    AlignedArray<std::int8_t> q;  // rows * cols
    std::vector<float> scale;     // rows
    // rows * blocks * 24: negated lane sums of planes 0-1, of planes 2-3, and of all four.
    AlignedArray<std::int32_t> lane_sums;

    void quantize(const float* x, int rows, int cols);
    [[gnu::always_inline]] const std::int8_t* row(int m) const {
        return q.get() + static_cast<std::size_t>(m) * cols;
    }
    [[gnu::always_inline]] const std::int32_t* sums(int m) const {
        return lane_sums.get() + static_cast<std::size_t>(m) * (cols / kBlock) * 24;
    }
};

// Y (rows x W.rows(), row-major) = X * W^T, with rows split across TBB threads.
void ternary_matmul(const TernaryMatrix& w, const QuantizedActivations& x, float* y);

// Kernel bodies for rows [row_begin, row_end) and all activation rows; used by ternary_matmul and the tests.
void ternary_matmul_rows_scalar(const TernaryMatrix& w, const QuantizedActivations& x, float* y,
                                int row_begin, int row_end);
void ternary_matmul_rows_avx2(const TernaryMatrix& w, const QuantizedActivations& x, float* y, int row_begin,
                              int row_end);
void ternary_matmul_rows_avx512vnni(const TernaryMatrix& w, const QuantizedActivations& x, float* y,
                                    int row_begin, int row_end);

}  // namespace ternspec
