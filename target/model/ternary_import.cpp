#include "target/model/ternary_import.hpp"

#include <tbb/parallel_for.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "target/formats/dequantize.hpp"
#include "ternspec/error.hpp"

namespace ternspec {
namespace {}  // namespace

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
    // A NaN or infinite norm weight makes every later logit NaN: the model would emit token 0 forever.
    for (std::size_t i = 0; i < out.size(); ++i)
        if (!std::isfinite(out[i]))
            throw FormatError(t.file + ": tensor " + t.source_name + " holds a non-finite value at element " +
                              std::to_string(i));
    return out;
}

std::vector<std::int64_t> import_ints(const TensorRef& t) {
    if (t.type != TensorType::I32 && t.type != TensorType::I64)
        throw FormatError(t.file + ": tensor " + t.source_name + " must hold I32 or I64 ids");
    std::vector<std::int64_t> v(t.n_elems());
    for (std::size_t i = 0; i < v.size(); ++i) {
        if (t.type == TensorType::I64) {
            std::memcpy(&v[i], t.data + 8 * i, 8);
        } else {
            std::int32_t x;
            std::memcpy(&x, t.data + 4 * i, 4);
            v[i] = x;
        }
    }
    return v;
}

namespace {

// One group of a ternary type, decoded to `v` with block scale s: its trits, or an error naming the block.
std::string ternary_group(const float* v, std::size_t G, float s, std::int8_t* tr, const std::string& what,
                          std::size_t g) {
    if (!std::isfinite(s)) return what + ": block " + std::to_string(g) + " has a non-finite scale";
    if (s == 0.0f) {
        std::fill(tr, tr + G, std::int8_t{0});
        return {};
    }
    int bad = 0;  // bitwise, so the loop vectorises
    for (std::size_t j = 0; j < G; ++j) {
        tr[j] = static_cast<std::int8_t>((v[j] == s) - (v[j] == -s));
        bad |= static_cast<int>(v[j] != s) & static_cast<int>(v[j] != -s) & static_cast<int>(v[j] != 0.0f);
    }
    if (!bad) return {};
    std::size_t j = 0;
    while (v[j] == s || v[j] == -s || v[j] == 0.0f) ++j;
    return what + ": block " + std::to_string(g) + " holds the value " + std::to_string(v[j] / s) +
           " x scale (code 3 of Q2_0), which is not ternary";
}

// One group of a float type: exact {-s, 0, +s} groups convert as they are; others are quantised when allowed.
enum class FloatGroup { Exact, Quantized, NotTernary };
FloatGroup float_group(const float* v, std::size_t G, bool allow_quantize, std::int8_t* tr, float* scale) {
    float s = 0;
    for (std::size_t j = 0; j < G; ++j) s = std::max(s, std::fabs(v[j]));
    bool exact = true;
    for (std::size_t j = 0; j < G && exact; ++j) exact = v[j] == 0.0f || std::fabs(v[j]) == s;
    if (exact) {
        *scale = s;
        for (std::size_t j = 0; j < G; ++j)
            tr[j] = static_cast<std::int8_t>(v[j] > 0 ? 1 : v[j] < 0 ? -1 : 0);
        return FloatGroup::Exact;
    }
    if (!allow_quantize) return FloatGroup::NotTernary;
    absmean_quantize(v, static_cast<int>(G), tr, scale);
    return FloatGroup::Quantized;
}

// Groups are decoded in chunks, in parallel: a 1.7B model holds 1.7 G weights, and one float array of a
// whole tensor (1.2 GB for the embedding) plus a division per weight made loading take about 19 s. Errors
// are kept per chunk and the first in file order is raised, so the message does not depend on threads.
// Returns that first error ("" when every group decoded).
std::string decode_groups(const TensorRef& t, bool allow_quantize, TernaryData& d) {
    const std::string what = t.file + ": tensor " + t.source_name;
    const auto& info = type_info(t.type);
    const std::size_t n = t.n_elems();
    const bool ternary = info.ternary;
    const auto G = static_cast<std::size_t>(d.group);
    const std::size_t groups = n / G;
    // File bytes per group: one block of a ternary type, or G values of a float type.
    const std::size_t group_bytes = ternary ? info.block_bytes : G * info.block_bytes / info.block_elems;
    d.trits.resize(n);
    d.scales.resize(groups);
    constexpr std::size_t kChunk = 4096;  // groups per task
    const std::size_t chunks = (groups + kChunk - 1) / kChunk;
    std::vector<std::string> errors(chunks);
    std::vector<char> quantized(chunks, 0);
    tbb::parallel_for(std::size_t{0}, chunks, [&](std::size_t c) {
        const std::size_t g0 = c * kChunk, g1 = std::min(groups, g0 + kChunk);
        std::vector<float> vals((g1 - g0) * G);
        dequantize(t.type, t.data + g0 * group_bytes, vals.data(), vals.size());
        for (std::size_t g = g0; g < g1 && errors[c].empty(); ++g) {
            const float* v = vals.data() + (g - g0) * G;
            std::int8_t* tr = d.trits.data() + g * G;
            if (ternary) {
                d.scales[g] = block_scale(t.type, t.data + g * group_bytes);
                errors[c] = ternary_group(v, G, d.scales[g], tr, what, g);
                continue;
            }
            const auto kind = float_group(v, G, allow_quantize, tr, &d.scales[g]);
            quantized[c] |= kind == FloatGroup::Quantized;
            if (kind == FloatGroup::NotTernary)
                errors[c] = what + " (" + std::string(info.name) + ") is not ternary: group " +
                            std::to_string(g) +
                            " holds more than {-s, 0, +s}; load with quantize on (--quantize) to quantise it "
                            "(absmean per group of " +
                            std::to_string(kQuantizeGroup) + ")";
        }
    });
    d.quantized = std::any_of(quantized.begin(), quantized.end(), [](char q) { return q != 0; });
    for (const auto& e : errors)
        if (!e.empty()) return e;
    return "";
}

}  // namespace

TernaryData import_ternary(const TensorRef& t, bool allow_quantize) {
    const std::string what = t.file + ": tensor " + t.source_name;
    if (t.shape.size() != 2) throw FormatError(what + " is not a matrix");
    TernaryData d;
    d.rows = static_cast<int>(t.shape[0]);
    d.cols = static_cast<int>(t.shape[1]);
    const auto& info = type_info(t.type);
    const bool ternary = info.ternary;
    d.group = ternary ? static_cast<int>(info.block_elems) : kQuantizeGroup;
    if (ternary && d.cols % d.group != 0) throw FormatError(what + ": rows do not hold whole blocks");
    if (!ternary && d.cols % kQuantizeGroup != 0)
        throw FormatError(what + ": row length " + std::to_string(d.cols) + " is not a multiple of " +
                          std::to_string(kQuantizeGroup));
    auto error = decode_groups(t, allow_quantize, d);
    // Float weights that are ternary per group of 64 but not 128: a group-128 model whose columns moved by
    // 64 (llama.cpp reorders a hybrid's value heads, 64 wide in a small model, inside ssm_out's rows).
    if (!error.empty() && !ternary && !allow_quantize) {
        TernaryData d64 = d;
        d64.group = 64;
        if (decode_groups(t, false, d64).empty()) return d64;
    }
    if (!error.empty()) throw FormatError(error);
    return d;
}

}  // namespace ternspec
