#include "target/model/ternary_import.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "target/formats/dequantize.hpp"
#include "target/io/half.hpp"
#include "ternspec/error.hpp"

namespace ternspec {
namespace {

std::uint16_t u16(const std::uint8_t* p) {
    return static_cast<std::uint16_t>(p[0] | (p[1] << 8));
}

// Offset of the fp16 scale inside a block of a ternary type.
int scale_offset(TensorType t) {
    switch (t) {
        case TensorType::TQ1_0:
            return 52;
        case TensorType::TQ2_0:
            return 64;
        default:
            return 0;
    }
}

}  // namespace

void TernaryData::append_rows(const TernaryData& o) {
    if (rows == 0) {
        *this = o;
        return;
    }
    if (o.cols != cols || o.group != group)
        throw FormatError("cannot stack ternary matrices of different shape or group");
    rows += o.rows;
    trits.insert(trits.end(), o.trits.begin(), o.trits.end());
    scales.insert(scales.end(), o.scales.begin(), o.scales.end());
    quantized = quantized || o.quantized;
}

void absmean_quantize(const float* w, int n, std::int8_t* trits, float* scale) {
    double s = 0;
    for (int i = 0; i < n; ++i) s += std::fabs(w[i]);
    const float sc = static_cast<float>(s / n);
    *scale = sc;
    for (int i = 0; i < n; ++i)
        trits[i] = sc > 0 ? static_cast<std::int8_t>(std::clamp(std::nearbyint(w[i] / sc), -1.0f, 1.0f)) : 0;
}

std::vector<float> import_floats(const TensorRef& t) {
    std::vector<float> out(t.n_elems());
    dequantize(t.type, t.data, out.data(), out.size());
    return out;
}

TernaryData import_ternary(const TensorRef& t, bool allow_quantize) {
    const std::string what = t.file + ": tensor " + t.source_name;
    if (t.shape.size() != 2) throw FormatError(what + " is not a matrix");
    TernaryData d;
    d.rows = static_cast<int>(t.shape[0]);
    d.cols = static_cast<int>(t.shape[1]);
    const auto& info = type_info(t.type);
    const std::size_t n = t.n_elems();
    d.trits.resize(n);
    std::vector<float> vals(n);
    dequantize(t.type, t.data, vals.data(), n);
    if (info.ternary) {
        d.group = static_cast<int>(info.block_elems);
        if (d.cols % d.group != 0) throw FormatError(what + ": rows do not hold whole blocks");
        const std::size_t blocks = n / d.group;
        d.scales.resize(blocks);
        for (std::size_t b = 0; b < blocks; ++b) {
            const float s = half_to_float(u16(t.data + b * info.block_bytes + scale_offset(t.type)));
            d.scales[b] = s;
            for (int j = 0; j < d.group; ++j) {
                const std::size_t i = b * d.group + j;
                const float q = s != 0 ? vals[i] / s : 0.0f;
                if (q != -1.0f && q != 0.0f && q != 1.0f)
                    throw FormatError(what + ": block " + std::to_string(b) + " holds the value " +
                                      std::to_string(q) + " x scale (code 3 of Q2_0), which is not ternary");
                d.trits[i] = static_cast<std::int8_t>(q);
            }
        }
        return d;
    }
    d.group = 128;
    if (d.cols % 128 != 0)
        throw FormatError(what + ": row length " + std::to_string(d.cols) + " is not a multiple of 128");
    const std::size_t groups = n / 128;
    d.scales.resize(groups);
    for (std::size_t g = 0; g < groups; ++g) {
        const float* v = vals.data() + g * 128;
        float s = 0;
        for (int j = 0; j < 128; ++j) s = std::max(s, std::fabs(v[j]));
        bool exact = true;
        for (int j = 0; j < 128 && exact; ++j) exact = v[j] == 0.0f || std::fabs(v[j]) == s;
        if (exact) {
            d.scales[g] = s;
            for (int j = 0; j < 128; ++j)
                d.trits[g * 128 + j] = static_cast<std::int8_t>(v[j] > 0 ? 1 : v[j] < 0 ? -1 : 0);
        } else if (allow_quantize) {
            absmean_quantize(v, 128, d.trits.data() + g * 128, &d.scales[g]);
            d.quantized = true;
        } else {
            throw FormatError(
                what + " (" + std::string(info.name) + ") is not ternary: group " + std::to_string(g) +
                " holds more than {-s, 0, +s}; pass --quantize to quantise it (absmean per group of 128)");
        }
    }
    return d;
}

}  // namespace ternspec
