#pragma once
// A drafter head's weight matrix in the storage its file implies. Exactly ternary weights (a ternary GGUF
// type, or float values in {-s, 0, +s} per group of 128, as quantisation-aware training exports them) are
// packed with the target's kernels: about 2 bits a weight. Anything else is int8 per row: 8 bits. On a
// ternary target a drafter pays in bytes read per drafted token, so the ternary form is the cheap one.
#include <cstddef>
#include <string>
#include <variant>

#include "target/kernels/int8_matrix.hpp"
#include "target/kernels/ternary_matrix.hpp"
#include "target/model/model_files.hpp"

namespace ternspec {

class HeadMatrix {
  public:
    HeadMatrix() = default;
    // `t` must have shape [rows, cols] (checked by the caller).
    static HeadMatrix load(const TensorRef& t);
    explicit HeadMatrix(TernaryMatrix m) : m_(std::move(m)) {}

    bool ternary() const { return std::holds_alternative<TernaryMatrix>(m_); }
    int rows() const;
    int cols() const;
    std::size_t bytes() const;  // bytes one multiply reads
    // y (M x rows) = x (M x cols) W^T
    void multiply(const float* x, int M, float* y) const;

  private:
    std::variant<Int8Matrix, TernaryMatrix> m_;
};

// True when every group of 128 of `t` holds only {-s, 0, +s} (or `t` has a ternary type): the weights can
// be packed without changing a value.
bool is_exactly_ternary(const TensorRef& t);

// The rows `ids` of `m`, in that order: a head restricted to a draft vocabulary.
TernaryMatrix select_rows(const TernaryMatrix& m, const std::vector<std::int32_t>& ids,
                          const std::string& name);

}  // namespace ternspec
