#pragma once
// Float weights of drafter heads quantised to int8 per row at load (absmax), multiplied with int8
// activations (absmax per token): a head costs a quarter of its float bytes, so drafting stays cheap next
// to a target forward on a CPU. Integer dot products are exact; rows split across TBB threads.
#include <cstdint>
#include <string>
#include <vector>

namespace ternspec {

class Int8Matrix {
  public:
    Int8Matrix() = default;
    Int8Matrix(int rows, int cols, const float* w, const std::string& name);

    int rows() const { return rows_; }
    int cols() const { return cols_; }
    std::size_t bytes() const { return q_.size() + scale_.size() * sizeof(float); }
    // y (M x rows) = x (M x cols) W^T
    void multiply(const float* x, int M, float* y) const;
    const std::int8_t* row(int n) const { return q_.data() + static_cast<std::size_t>(n) * cols_; }
    float scale(int n) const { return scale_[static_cast<std::size_t>(n)]; }

  private:
    int rows_ = 0, cols_ = 0;
    std::vector<std::int8_t> q_;
    std::vector<float> scale_;
    std::string name_;
};

// The row kernel (KernelTable::int8_matmul_rows): exact integer dot products, then float(dot) * row scale *
// token scale on every path, so they agree bit for bit.

}  // namespace ternspec
