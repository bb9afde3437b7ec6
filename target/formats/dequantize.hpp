#pragma once
// Scalar reference decoding of every tensor type to float, and the inverse encoders that the writers and
// `convert` use. These are the oracle the packed kernels are tested against.
#include <cstdint>
#include <span>

#include "target/formats/tensor_type.hpp"

namespace ternspec {

// Decodes n elements (a whole number of blocks) from src.
void dequantize(TensorType t, const std::uint8_t* src, float* dst, std::uint64_t n);

// Encodes n floats (a whole number of blocks). Ternary types take values that are already ternary per
// block (q * scale); they keep the block's largest magnitude as its scale.
void quantize(TensorType t, const float* src, std::uint8_t* dst, std::uint64_t n);

// The scale of one block of a ternary type, read where that type's layout keeps it.
float block_scale(TensorType t, const std::uint8_t* block);

}  // namespace ternspec
