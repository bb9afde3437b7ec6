#pragma once
// Turns a weight tensor of any supported type into trits and per-group scales, keeping the file's own
// scales (no re-quantisation) for ternary types, and checking that float weights are exactly ternary per
// group of 128 (the "-unpacked" releases). Anything else needs an explicit absmean quantisation.
#include <cstdint>
#include <string>
#include <vector>

#include "target/model/model_files.hpp"

namespace ternspec {

// The group of float weights read as ternary: the -unpacked releases' and BitNet's absmean group.
inline constexpr int kQuantizeGroup = 128;

struct TernaryData {
    int rows = 0, cols = 0, group = kQuantizeGroup;
    std::vector<std::int8_t> trits;
    std::vector<float> scales;
    bool quantized = false;  // true when float weights were absmean-quantised on request

    void append_rows(const TernaryData& other);  // stacks matrices with the same cols and group
};

TernaryData import_ternary(const TensorRef& t, bool allow_quantize);

// Absmean quantisation per group of 128 (BitNet b1.58): scale = mean |w|, trit = clamp(round(w / scale)).
void absmean_quantize(const float* w, int n, std::int8_t* trits, float* scale);

std::vector<float> import_floats(const TensorRef& t);

// An I32 or I64 tensor's values (token-id tables: EAGLE-3's d2t, an MTP draft vocabulary); FormatError
// naming the tensor for any other type.
std::vector<std::int64_t> import_ints(const TensorRef& t);

}  // namespace ternspec
