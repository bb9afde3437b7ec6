#include "target/kernels/ternary_matrix.hpp"

#include <tbb/parallel_for.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>

#include "target/kernels/kernel_table.hpp"
#include "target/kernels/kernel_variants.hpp"

#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "target/kernels/cpu_features.hpp"
#include "target/kernels/row_parallel.hpp"
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

namespace {

// Where element e (0..127) of row r (0..7 in its group) sits in a 256-byte block: step e / 4 covers four
// consecutive elements; byte 4r + e % 4 of vector step / 4 holds them in bit pair step % 4. So one shift and
// one mask of a 32-byte vector give four elements of each of the eight rows, one row per int32 lane.
struct CodeSlot {
    int byte, shift;
};
CodeSlot code_slot(int r, int e) {
    const int step = e / 4;
    return {32 * (step / 4) + 4 * r + e % 4, 2 * (step % 4)};
}

}  // namespace

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
    const std::size_t padded_rows = static_cast<std::size_t>(row_groups()) * kRowGroup;
    codes_ = make_aligned<std::uint8_t>(padded_rows * cols / 4);
    scales_ = make_aligned<float>(padded_rows * bpr * scales_per_block_);
    // Padding rows get code 1 (weight 0) and scale 0. They live only in the last group, whose bytes
    // interleave them with real rows; the packing below overwrites every real row's bytes.
    if (padded_rows != static_cast<std::size_t>(rows))
        std::memset(codes_.get() + (padded_rows - kRowGroup) * cols / 4, 0x55,
                    static_cast<std::size_t>(kRowGroup) * cols / 4);
    // Row groups are packed in parallel (each writes only its own bytes); the first row out of range, in
    // row order, names the error.
    std::vector<int> bad_row(static_cast<std::size_t>(row_groups()), -1);
    tbb::parallel_for(0, row_groups(), [&](int g) {
        std::uint8_t* gc = codes_.get() + static_cast<std::size_t>(g) * kRowGroup * cols / 4;
        float* gs = scales_.get() + static_cast<std::size_t>(g) * bpr * scales_per_block_ * kRowGroup;
        for (int rg = 0; rg < kRowGroup && g * kRowGroup + rg < rows; ++rg) {
            const int r = g * kRowGroup + rg;
            const std::int8_t* t = trits.data() + static_cast<std::size_t>(r) * cols;
            int bad = 0;
            for (int k = 0; k < cols; ++k) bad |= static_cast<int>(t[k] < -1) | static_cast<int>(t[k] > 1);
            if (bad) {
                bad_row[static_cast<std::size_t>(g)] = r;
                return;
            }
            for (int b = 0; b < bpr; ++b) {
                const std::int8_t* tb = t + b * kBlock;
                std::uint8_t* block = gc + static_cast<std::size_t>(b) * 256;
                for (int e = 0; e < kBlock; e += 16)  // e: first element of one code vector's 16
                    for (int i = 0; i < 4; ++i) {
                        std::uint8_t byte = 0;
                        for (int p = 0; p < 4; ++p)
                            byte |= static_cast<std::uint8_t>((tb[e + 4 * p + i] + 1) << (2 * p));
                        block[code_slot(rg, e + i).byte] = byte;
                    }
                const std::size_t g0 =
                    (static_cast<std::size_t>(r) * cols + static_cast<std::size_t>(b) * kBlock) / group;
                for (int h = 0; h < scales_per_block_; ++h)
                    gs[(static_cast<std::size_t>(b) * scales_per_block_ + h) * kRowGroup + rg] =
                        scales[g0 + h];
            }
        }
    });
    for (const int r : bad_row)
        if (r >= 0)
            throw FormatError(name + ": row " + std::to_string(r) + " holds a value that is not ternary");
}

std::size_t TernaryMatrix::bytes() const {
    const std::size_t padded_rows = static_cast<std::size_t>(row_groups()) * kRowGroup;
    return padded_rows * cols_ / 4 + padded_rows * blocks_per_row() * scales_per_block_ * sizeof(float);
}

std::int8_t TernaryMatrix::trit(int row, int col) const {
    const CodeSlot slot = code_slot(row % kRowGroup, col % kBlock);
    const std::uint8_t byte =
        group_codes(row / kRowGroup)[static_cast<std::size_t>(col / kBlock) * 256 + slot.byte];
    return static_cast<std::int8_t>(((byte >> slot.shift) & 3) - 1);
}

float TernaryMatrix::scale_of(int row, int col) const {
    const int b = col / kBlock, h = scales_per_block_ == 2 ? (col % kBlock) / 64 : 0;
    return group_scales(row / kRowGroup)[(b * scales_per_block_ + h) * kRowGroup + row % kRowGroup];
}

void TernaryMatrix::dequantize_row(int row, float* out) const {
    for (int k = 0; k < cols_; ++k) out[k] = static_cast<float>(trit(row, k)) * scale_of(row, k);
}

void quantize_row_scalar(const float* x, int cols, std::int8_t* q, float* scale, std::int32_t* sums) {
    float amax = 0;
    for (int k = 0; k < cols; ++k) amax = std::max(amax, std::fabs(x[k]));
    const float inv = amax > 0 ? 127.0f / amax : 0.0f;
    *scale = amax / 127.0f;
    for (int k = 0; k < cols; ++k) q[k] = static_cast<std::int8_t>((x[k] * inv + kRoundMagic) - kRoundMagic);
    for (int b = 0; b < cols / kBlock; ++b) {
        std::int32_t half[2] = {0, 0};
        for (int e = 0; e < kBlock; ++e) half[e / 64] += q[b * kBlock + e];
        sums[3 * b] = -half[0];
        sums[3 * b + 1] = -half[1];
        sums[3 * b + 2] = -(half[0] + half[1]);
    }
}

void QuantizedActivations::resize(int m_rows, int k_cols) {
    if (k_cols % kBlock != 0)
        throw Error("activation rows of " + std::to_string(k_cols) + " values are not whole blocks of 128");
    rows = m_rows;
    cols = k_cols;
    const std::size_t need = static_cast<std::size_t>(rows) * cols;
    if (need > capacity || !q) {  // a layer alternates widths; keep the largest buffer
        capacity = std::max<std::size_t>(need, 1);
        q = make_aligned<std::int8_t>(capacity);
        block_sums = make_aligned<std::int32_t>(capacity / kBlock * 3 + 3);
    }
    scale.resize(static_cast<std::size_t>(rows));
}

void QuantizedActivations::quantize_row(int m, const float* x) {
    std::int8_t* qr = q.get() + static_cast<std::size_t>(m) * cols;
    std::int32_t* s = block_sums.get() + static_cast<std::size_t>(m) * (cols / kBlock) * 3;
    float* sc = &scale[static_cast<std::size_t>(m)];
    kernels().quantize_row(x, cols, qr, sc, s);
}

void QuantizedActivations::quantize(const float* x, int m_rows, int k_cols) {
    resize(m_rows, k_cols);
    for_each_row(rows, cols, [&](int m) { quantize_row(m, x + static_cast<std::size_t>(m) * cols); });
}

// The scalar path is the oracle. Per row and token: each block's (or half block's) integer sum, exact, then
// one fused multiply-add by its scale, blocks in order; the vector paths compute the same per int32 lane.
void ternary_matmul_groups_scalar(const TernaryMatrix& w, const QuantizedActivations& x, float* y,
                                  int group_begin, int group_end) {
    const int blocks = w.blocks_per_row();
    const int spb = w.scales_per_block();
    const int n_out = w.rows();
    const int per_scale = kBlock / spb;
    for (int g = group_begin; g < group_end; ++g) {
        const std::uint8_t* gc = w.group_codes(g);
        const float* gs = w.group_scales(g);
        for (int r = 0; r < kRowGroup; ++r) {
            const int n = g * kRowGroup + r;
            if (n >= n_out) break;
            for (int m = 0; m < x.rows; ++m) {
                const std::int8_t* xr = x.row(m);
                const std::int32_t* xs = x.sums(m);
                float acc = 0.0f;
                for (int b = 0; b < blocks; ++b)
                    for (int h = 0; h < spb; ++h) {
                        std::int32_t isum = xs[3 * b + (spb == 2 ? h : 2)];
                        for (int e = h * per_scale; e < (h + 1) * per_scale; ++e) {
                            const CodeSlot slot = code_slot(r, e);
                            const int code =
                                (gc[static_cast<std::size_t>(b) * 256 + slot.byte] >> slot.shift) & 3;
                            isum += code * xr[b * kBlock + e];
                        }
                        acc = std::fma(static_cast<float>(isum), gs[(b * spb + h) * kRowGroup + r], acc);
                    }
                y[static_cast<std::size_t>(m) * n_out + n] = acc * x.scale[static_cast<std::size_t>(m)];
            }
        }
    }
}

void ternary_matmul(const TernaryMatrix& w, const QuantizedActivations& x, float* y) {
    if (x.cols != w.cols())
        throw Error(w.name() + ": activations have " + std::to_string(x.cols) + " columns, weights " +
                    std::to_string(w.cols()));
    const auto groups = kernels().ternary_matmul_groups;
    // About 64K multiply-adds per task keeps TBB's overhead small on the tiny shapes. Each thread takes one
    // contiguous share of the row groups: a decode step streams them from DRAM, and one long stream per core
    // kept more of the bandwidth than stolen chunks (1.7B shape, three alternating pairs of `bench forward`:
    // decode at 86-87% of the read bound against 82-84%).
    const long long work_per_group = static_cast<long long>(w.cols()) * kRowGroup * std::max(1, x.rows);
    const int grain = static_cast<int>(std::clamp<long long>(65536 / std::max(1LL, work_per_group), 1, 256));
    tbb::parallel_for(
        tbb::blocked_range<int>(0, w.row_groups(), grain),
        [&](const tbb::blocked_range<int>& r) { groups(w, x, y, r.begin(), r.end()); },
        tbb::static_partitioner());
}

}  // namespace ternspec
