#pragma once
// The runtime's packed ternary weight layout (docs/packed-layout.md) and the batched kernel
//   Y[m][n] = xs[m] * sum_b scale[n][b] * sum_{k in block b} w[n][k] * xq[m][k]
// with int8 activations xq (per-token absmax scale xs). Block sums are exact integers and each row adds
// its blocks' products in block order with one fused multiply-add each, so a row's result is the same for
// any batch size, any thread split and on every kernel path (bit for bit).
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace ternspec {

inline constexpr int kBlock = 128;   // weights per row and scale block
inline constexpr int kRowGroup = 8;  // rows interleaved in one packed stream, one per int32 lane

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
    // Rows are packed in interleaved groups of kRowGroup; the last group is padded with zero weights.
    [[gnu::always_inline]] int row_groups() const { return (rows_ + kRowGroup - 1) / kRowGroup; }
    int source_group() const { return group_; }
    // A row group's codes: blocks of 256 bytes, eight 32-byte vectors each (docs/packed-layout.md).
    [[gnu::always_inline]] const std::uint8_t* group_codes(int g) const {
        return codes_.get() + static_cast<std::size_t>(g) * kRowGroup * cols_ / 4;
    }
    // A row group's scales: [block][scale of the block][row in group].
    [[gnu::always_inline]] const float* group_scales(int g) const {
        return scales_.get() + static_cast<std::size_t>(g) * blocks_per_row() * scales_per_block_ * kRowGroup;
    }
    std::size_t bytes() const;  // packed codes + scales, padding included
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

// Per-token int8 activations, with the negated block sums the kernel starts from (codes are w + 1, so a
// dot-product instruction over codes overshoots by exactly the sum of the activations).
struct QuantizedActivations {
    int rows = 0, cols = 0;
    std::size_t capacity = 0;     // values q can hold
    AlignedArray<std::int8_t> q;  // rows * cols
    std::vector<float> scale;     // rows
    // rows * blocks * 3: negated sums of a block's first 64 values, of its last 64, and of all 128.
    AlignedArray<std::int32_t> block_sums;

    void quantize(const float* x, int rows, int cols);
    // The same in two steps, so a caller's own parallel row loop can quantise each row it has just made.
    void resize(int rows, int cols);
    void quantize_row(int m, const float* x);
    [[gnu::always_inline]] const std::int8_t* row(int m) const {
        return q.get() + static_cast<std::size_t>(m) * cols;
    }
    [[gnu::always_inline]] const std::int32_t* sums(int m) const {
        return block_sums.get() + static_cast<std::size_t>(m) * (cols / kBlock) * 3;
    }
};

// One token's quantisation (QuantizedActivations::quantize_row, through KernelTable::quantize_row): absmax
// scale, int8 values rounded to nearest even, negated block sums. The AVX2 body gives the scalar bytes.
// Adding and removing 1.5 * 2^23 rounds to nearest even exactly for |v| <= 127 (as nearbyint does in the
// default rounding mode), and vectorises where nearbyint is a library call.
inline constexpr float kRoundMagic = 12582912.0f;

// Y (rows x W.rows(), row-major) = X * W^T, with row groups split across TBB threads.
void ternary_matmul(const TernaryMatrix& w, const QuantizedActivations& x, float* y);
// (The kernel bodies for row groups are KernelTable::ternary_matmul_groups, kernel_table.hpp.)

}  // namespace ternspec
