#pragma once
// Tensor element types found in GGUF and safetensors files, with their block geometry.
// Q2_0 has two incompatible layouts under GGUF id 42 (mainline group 64, legacy Ternary-Bonsai group
// 128); they are distinct types here and the reader tells them apart by the tensor's byte size.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ternspec {

// I8/I32/I64 hold the integer side tensors of drafter checkpoints (EAGLE-3's d2t and t2d).
enum class TensorType : std::uint8_t {
    F32,
    F16,
    BF16,
    Q8_0,
    TQ1_0,
    TQ2_0,
    Q2_0,
    Q2_0_G128,
    PQ2_0,
    PTQ1_0,
    I8,
    I32,
    I64
};

struct TensorTypeInfo {
    TensorType type;
    std::string_view name;
    std::uint32_t ggml_id;
    std::uint32_t block_elems;
    std::uint32_t block_bytes;
    bool ternary;  // the format itself can only hold {-1, 0, +1} x scale (or one code past it, see docs)
};

const TensorTypeInfo& type_info(TensorType t);
std::optional<TensorType> type_from_name(std::string_view name);  // case-insensitive, e.g. "q2_0_g128"

// The GGUF type ids that map to more than one layout resolve through the tensor's byte size.
std::optional<TensorType> type_from_ggml(std::uint32_t ggml_id, std::uint64_t n_elems, std::uint64_t n_bytes);

// Bytes for n elements; throws FormatError naming `what` if n is not a whole number of blocks or overflows.
std::uint64_t tensor_bytes(TensorType t, std::uint64_t n_elems, const std::string& what);

}  // namespace ternspec
