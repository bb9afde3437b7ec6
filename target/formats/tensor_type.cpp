#include "target/formats/tensor_type.hpp"

#include <algorithm>
#include <array>
#include <cctype>

#include "ternspec/error.hpp"

namespace ternspec {
namespace {

constexpr std::array<TensorTypeInfo, 13> kTypes{{
    {TensorType::F32, "F32", 0, 1, 4, false},
    {TensorType::F16, "F16", 1, 1, 2, false},
    {TensorType::BF16, "BF16", 30, 1, 2, false},
    {TensorType::Q8_0, "Q8_0", 8, 32, 34, false},
    {TensorType::TQ1_0, "TQ1_0", 34, 256, 54, true},
    {TensorType::TQ2_0, "TQ2_0", 35, 256, 66, true},
    {TensorType::Q2_0, "Q2_0", 42, 64, 18, true},
    {TensorType::Q2_0_G128, "Q2_0_G128", 42, 128, 34, true},
    {TensorType::PQ2_0, "PQ2_0", 142, 128, 34, true},
    {TensorType::PTQ1_0, "PTQ1_0", 143, 128, 28, true},
    {TensorType::I8, "I8", 24, 1, 1, false},
    {TensorType::I32, "I32", 26, 1, 4, false},
    {TensorType::I64, "I64", 27, 1, 8, false},
}};

}  // namespace

const TensorTypeInfo& type_info(TensorType t) {
    return kTypes[static_cast<std::size_t>(t)];
}

std::optional<TensorType> type_from_name(std::string_view name) {
    for (const auto& info : kTypes) {
        if (std::equal(name.begin(), name.end(), info.name.begin(), info.name.end(),
                       [](char a, char b) { return std::toupper(static_cast<unsigned char>(a)) == b; }))
            return info.type;
    }
    return std::nullopt;
}

std::optional<TensorType> type_from_ggml(std::uint32_t ggml_id, std::uint64_t n_elems,
                                         std::uint64_t n_bytes) {
    std::optional<TensorType> first;
    for (const auto& info : kTypes) {
        if (info.ggml_id != ggml_id) continue;
        if (!first) first = info.type;
        if (n_elems % info.block_elems == 0 && n_elems / info.block_elems * info.block_bytes == n_bytes)
            return info.type;
    }
    return first;
}

std::uint64_t tensor_bytes(TensorType t, std::uint64_t n_elems, const std::string& what) {
    const auto& info = type_info(t);
    if (n_elems % info.block_elems != 0)
        throw FormatError(what + ": " + std::to_string(n_elems) + " elements is not a multiple of the " +
                          std::string(info.name) + " block of " + std::to_string(info.block_elems));
    const std::uint64_t blocks = n_elems / info.block_elems;
    if (blocks > UINT64_MAX / info.block_bytes) throw FormatError(what + ": tensor size overflows");
    return blocks * info.block_bytes;
}

}  // namespace ternspec
