#include "drafters/head_matrix.hpp"

#include <cmath>

#include "target/formats/dequantize.hpp"
#include "target/model/ternary_import.hpp"
#include "ternspec/error.hpp"

namespace ternspec {

bool is_exactly_ternary(const TensorRef& t) {
    if (type_info(t.type).ternary) return true;
    if (t.shape.size() != 2 || t.shape[1] % 128 != 0) return false;
    const std::size_t n = t.n_elems(),
                      group_bytes = 128 * type_info(t.type).block_bytes / type_info(t.type).block_elems;
    std::vector<float> v(128);
    for (std::size_t g = 0; g < n / 128; ++g) {
        dequantize(t.type, t.data + g * group_bytes, v.data(), v.size());
        float s = 0;
        for (float x : v) s = std::max(s, std::fabs(x));
        for (float x : v)
            if (x != 0.0f && std::fabs(x) != s) return false;
    }
    return true;
}

HeadMatrix HeadMatrix::load(const TensorRef& t) {
    HeadMatrix h;
    const int rows = static_cast<int>(t.shape.at(0)), cols = static_cast<int>(t.shape.at(1));
    if (is_exactly_ternary(t)) {
        const auto d = import_ternary(t, false);
        h.m_ = TernaryMatrix(d.rows, d.cols, d.group, d.trits, d.scales, t.name);
        return h;
    }
    const auto v = import_floats(t);  // refuses a non-finite weight, naming the tensor and element
    h.m_ = Int8Matrix(rows, cols, v.data(), t.name);
    return h;
}

int HeadMatrix::rows() const {
    return std::visit([](const auto& m) { return m.rows(); }, m_);
}

int HeadMatrix::cols() const {
    return std::visit([](const auto& m) { return m.cols(); }, m_);
}

std::size_t HeadMatrix::bytes() const {
    return std::visit([](const auto& m) { return m.bytes(); }, m_);
}

void HeadMatrix::multiply(const float* x, int M, float* y) const {
    if (const auto* t = std::get_if<TernaryMatrix>(&m_)) {
        QuantizedActivations qa;
        qa.quantize(x, M, t->cols());
        ternary_matmul(*t, qa, y);
        return;
    }
    std::get<Int8Matrix>(m_).multiply(x, M, y);
}

TernaryMatrix select_rows(const TernaryMatrix& m, const std::vector<std::int32_t>& ids,
                          const std::string& name) {
    const int cols = m.cols(), group = m.source_group();
    const int per_row = cols / group;
    std::vector<std::int8_t> trits(ids.size() * static_cast<std::size_t>(cols));
    std::vector<float> scales(ids.size() * static_cast<std::size_t>(per_row));
    for (std::size_t r = 0; r < ids.size(); ++r) {
        const int src = ids[r];
        if (src < 0 || src >= m.rows())
            throw FormatError(name + ": row " + std::to_string(src) + " is outside the matrix's " +
                              std::to_string(m.rows()) + " rows");
        for (int c = 0; c < cols; ++c) trits[r * static_cast<std::size_t>(cols) + c] = m.trit(src, c);
        for (int b = 0; b < per_row; ++b)
            scales[r * static_cast<std::size_t>(per_row) + b] = m.scale_of(src, b * group);
    }
    return TernaryMatrix(static_cast<int>(ids.size()), cols, group, trits, scales, name);
}

}  // namespace ternspec
