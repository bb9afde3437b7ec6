#include "target/formats/dequantize.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <iterator>

#include "target/io/half.hpp"
#include "ternspec/error.hpp"

namespace ternspec {
namespace {

std::uint16_t load_u16(const std::uint8_t* p) {
    return static_cast<std::uint16_t>(p[0] | (p[1] << 8));
}
void store_u16(std::uint8_t* p, std::uint16_t v) {
    p[0] = static_cast<std::uint8_t>(v);
    p[1] = static_cast<std::uint8_t>(v >> 8);
}

// Base-3 digit n of a TQ1_0 byte: the byte holds a fixed-point fraction of 3^5.
int tq1_digit(std::uint8_t byte, int n) {
    static constexpr std::uint8_t kPow3[6] = {1, 3, 9, 27, 81, 243};
    const std::uint8_t q = static_cast<std::uint8_t>(byte * kPow3[n]);
    return static_cast<int>((static_cast<std::uint16_t>(q) * 3) >> 8);
}

// Scale and trit of a float block, for the encoders: scale is the largest magnitude.
float block_absmax(const float* x, int n) {
    float m = 0;
    for (int i = 0; i < n; ++i) m = std::max(m, std::fabs(x[i]));
    return m;
}

int trit_of(float v, float inv) {
    return static_cast<int>(std::lround(std::clamp(v * inv, -1.0f, 1.0f)));
}

// Block codecs: one block of each quantised type, its geometry from the type table (tensor_type.cpp).
// Layouts are ggml's: Q8_0 {d, qs[32]}; TQ2_0 {qs[64], d}; TQ1_0 {qs[48], qh[4], d}; Q2_0 {d, qs[group/4]}.
constexpr int kQ8Elems = 32;
constexpr int kTq2Codes = 64;  // TQ2_0: code bytes before d
constexpr int kTq1Fives = 48;  // TQ1_0: bytes of five trits (32 then 16) before the four-trit bytes
constexpr int kTq1Fours = 4;
constexpr int kTqElems = 256;
// PTQ1_0 (PrismML, id 143): TQ1_0's codec at 128 weights: qs[24] (a run of 16 then one of 8 bytes of five
// trits), qh[2] (four trits each), then d.
constexpr int kPtq1Fives = 24;
constexpr int kPtq1Fours = 2;

void dequant_q8_0(const std::uint8_t* b, float* y) {
    const float d = half_to_float(load_u16(b));
    for (int j = 0; j < kQ8Elems; ++j) y[j] = static_cast<float>(static_cast<std::int8_t>(b[2 + j])) * d;
}

void quant_q8_0(const float* x, std::uint8_t* b) {
    const std::uint16_t dh = float_to_half(block_absmax(x, kQ8Elems) / 127.0f);
    const float d = half_to_float(dh);
    store_u16(b, dh);
    for (int j = 0; j < kQ8Elems; ++j)
        b[2 + j] = static_cast<std::uint8_t>(
            static_cast<std::int8_t>(d > 0 ? std::clamp(std::lround(x[j] / d), -127L, 127L) : 0));
}

// 64 bytes of codes then d; four 32-element runs per 32 bytes, lowest bit pair first.
void dequant_tq2_0(const std::uint8_t* b, float* y) {
    const float d = half_to_float(load_u16(b + kTq2Codes));
    for (int j = 0; j < kTq2Codes; j += 32)
        for (int l = 0; l < 4; ++l)
            for (int m = 0; m < 32; ++m) *y++ = static_cast<float>(((b[j + m] >> (2 * l)) & 3) - 1) * d;
}

void quant_tq2_0(const float* x, std::uint8_t* b) {
    const std::uint16_t dh = float_to_half(block_absmax(x, kTqElems));
    const float d = half_to_float(dh);
    const float inv = d > 0 ? 1.0f / d : 0.0f;
    std::memset(b, 0, kTq2Codes);
    for (int j = 0; j < kTq2Codes; j += 32)
        for (int l = 0; l < 4; ++l)
            for (int m = 0; m < 32; ++m)
                b[j + m] |= static_cast<std::uint8_t>((trit_of(x[j * 4 + l * 32 + m], inv) + 1) << (2 * l));
    store_u16(b + kTq2Codes, dh);
}

// Byte m of a run holds elements first + m + k*run for k = 0..digits-1, most significant trit first.
void dequant_tq1_run(const std::uint8_t* bytes, int run, int digits, float d, float*& y) {
    for (int k = 0; k < digits; ++k)
        for (int m = 0; m < run; ++m) *y++ = static_cast<float>(tq1_digit(bytes[m], k) - 1) * d;
}

void quant_tq1_run(const float* x, int run, int digits, float inv, std::uint8_t* bytes) {
    for (int m = 0; m < run; ++m) {
        int q = 0;
        for (int k = 0; k < digits; ++k) q = q * 3 + trit_of(x[m + k * run], inv) + 1;
        for (int k = digits; k < 5; ++k) q *= 3;
        bytes[m] = static_cast<std::uint8_t>((q * 256 + 242) / 243);
    }
}

// TQ1_0 and PTQ1_0: a run of Run1 then one of Run2 bytes of five trits, Fours bytes of four, then d.
template <int Run1, int Run2, int Fours>
void dequant_base3(const std::uint8_t* b, float* y) {
    const float d = half_to_float(load_u16(b + Run1 + Run2 + Fours));
    dequant_tq1_run(b, Run1, 5, d, y);
    dequant_tq1_run(b + Run1, Run2, 5, d, y);
    dequant_tq1_run(b + Run1 + Run2, Fours, 4, d, y);
}

template <int Run1, int Run2, int Fours>
void quant_base3(const float* x, std::uint8_t* b) {
    constexpr int n = 5 * (Run1 + Run2) + 4 * Fours;
    const std::uint16_t dh = float_to_half(block_absmax(x, n));
    const float d = half_to_float(dh);
    const float inv = d > 0 ? 1.0f / d : 0.0f;
    quant_tq1_run(x, Run1, 5, inv, b);
    quant_tq1_run(x + 5 * Run1, Run2, 5, inv, b + Run1);
    quant_tq1_run(x + 5 * (Run1 + Run2), Fours, 4, inv, b + Run1 + Run2);
    store_u16(b + Run1 + Run2 + Fours, dh);
}

// TQ1_0: qs[48] (32 then 16), qh[4]; PTQ1_0 (PrismML, id 143): the same codec at 128 weights, qs[24] (16 then
// 8), qh[2].
constexpr auto dequant_tq1_0 = dequant_base3<32, 16, kTq1Fours>;
constexpr auto quant_tq1_0 = quant_base3<32, 16, kTq1Fours>;
constexpr auto dequant_ptq1_0 = dequant_base3<16, 8, kPtq1Fours>;
constexpr auto quant_ptq1_0 = quant_base3<16, 8, kPtq1Fours>;

template <int Group>
void dequant_q2(const std::uint8_t* b, float* y) {
    const float d = half_to_float(load_u16(b));
    for (int j = 0; j < Group; ++j) y[j] = static_cast<float>(((b[2 + j / 4] >> (2 * (j % 4))) & 3) - 1) * d;
}

template <int Group>
void quant_q2(const float* x, std::uint8_t* b) {
    const float amax = block_absmax(x, Group);
    const std::uint16_t dh = float_to_half(amax);
    const float d = half_to_float(dh);
    const float inv = d > 0 ? 1.0f / d : 0.0f;
    store_u16(b, dh);
    std::memset(b + 2, 0, Group / 4);
    for (int j = 0; j < Group; ++j)
        b[2 + j / 4] |= static_cast<std::uint8_t>((trit_of(x[j], inv) + 1) << (2 * (j % 4)));
}

// Element types: n values, each converted on its own.
template <typename T>
void widen(const std::uint8_t* src, float* dst, std::uint64_t n) {
    for (std::uint64_t i = 0; i < n; ++i) {
        T v;
        std::memcpy(&v, src + sizeof(T) * i, sizeof(T));
        dst[i] = static_cast<float>(v);
    }
}

template <typename T>
void narrow(const float* src, std::uint8_t* dst, std::uint64_t n) {
    for (std::uint64_t i = 0; i < n; ++i) {
        const auto v = static_cast<T>(std::llround(src[i]));
        std::memcpy(dst + sizeof(T) * i, &v, sizeof(T));
    }
}

template <float (*Widen)(std::uint16_t)>
void widen_half(const std::uint8_t* src, float* dst, std::uint64_t n) {
    for (std::uint64_t i = 0; i < n; ++i) dst[i] = Widen(load_u16(src + 2 * i));
}

template <std::uint16_t (*Narrow)(float)>
void narrow_half(const float* src, std::uint8_t* dst, std::uint64_t n) {
    for (std::uint64_t i = 0; i < n; ++i) store_u16(dst + 2 * i, Narrow(src[i]));
}

void copy_f32_in(const std::uint8_t* src, float* dst, std::uint64_t n) {
    std::memcpy(dst, src, n * 4);
}
void copy_f32_out(const float* src, std::uint8_t* dst, std::uint64_t n) {
    std::memcpy(dst, src, n * 4);
}
// Block types: whole blocks, geometry from the type table.
template <TensorType T, void (*Block)(const std::uint8_t*, float*)>
void dequant_blocks(const std::uint8_t* src, float* dst, std::uint64_t n) {
    const auto& info = type_info(T);
    for (std::uint64_t b = 0; b < n / info.block_elems; ++b)
        Block(src + b * info.block_bytes, dst + b * info.block_elems);
}

template <TensorType T, void (*Block)(const float*, std::uint8_t*)>
void quant_blocks(const float* src, std::uint8_t* dst, std::uint64_t n) {
    const auto& info = type_info(T);
    for (std::uint64_t b = 0; b < n / info.block_elems; ++b)
        Block(src + b * info.block_elems, dst + b * info.block_bytes);
}

struct Codec {
    TensorType type;
    void (*dequant)(const std::uint8_t*, float*, std::uint64_t);
    void (*quant)(const float*, std::uint8_t*, std::uint64_t);
};

using TT = TensorType;
// In TensorType's order (checked below), so a type's codec is found by its value.
constexpr Codec kCodecs[] = {
    {TT::F32, copy_f32_in, copy_f32_out},
    {TT::F16, widen_half<half_to_float>, narrow_half<float_to_half>},
    {TT::BF16, widen_half<bf16_to_float>, narrow_half<float_to_bf16>},
    {TT::Q8_0, dequant_blocks<TT::Q8_0, dequant_q8_0>, quant_blocks<TT::Q8_0, quant_q8_0>},
    {TT::TQ1_0, dequant_blocks<TT::TQ1_0, dequant_tq1_0>, quant_blocks<TT::TQ1_0, quant_tq1_0>},
    {TT::TQ2_0, dequant_blocks<TT::TQ2_0, dequant_tq2_0>, quant_blocks<TT::TQ2_0, quant_tq2_0>},
    {TT::Q2_0, dequant_blocks<TT::Q2_0, dequant_q2<64>>, quant_blocks<TT::Q2_0, quant_q2<64>>},
    {TT::Q2_0_G128, dequant_blocks<TT::Q2_0_G128, dequant_q2<128>>,
     quant_blocks<TT::Q2_0_G128, quant_q2<128>>},
    {TT::PQ2_0, dequant_blocks<TT::PQ2_0, dequant_q2<128>>, quant_blocks<TT::PQ2_0, quant_q2<128>>},
    {TT::PTQ1_0, dequant_blocks<TT::PTQ1_0, dequant_ptq1_0>, quant_blocks<TT::PTQ1_0, quant_ptq1_0>},
    {TT::I8, widen<std::int8_t>, narrow<std::int8_t>},
    {TT::I32, widen<std::int32_t>, narrow<std::int32_t>},
    {TT::I64, widen<std::int64_t>, narrow<std::int64_t>},
};

constexpr bool codecs_in_type_order() {
    for (std::size_t i = 0; i < std::size(kCodecs); ++i)
        if (static_cast<std::size_t>(kCodecs[i].type) != i) return false;
    return std::size(kCodecs) == static_cast<std::size_t>(TT::I64) + 1;
}
static_assert(codecs_in_type_order(), "kCodecs must list every TensorType in its order");

const Codec& codec(TensorType t, const char* what) {
    const auto i = static_cast<std::size_t>(t);
    if (i >= std::size(kCodecs)) throw FormatError(std::string(what) + ": unknown tensor type");
    return kCodecs[i];
}

}  // namespace

float block_scale(TensorType t, const std::uint8_t* block) {
    switch (t) {
        case TensorType::TQ1_0:
            return half_to_float(load_u16(block + kTq1Fives + kTq1Fours));
        case TensorType::TQ2_0:
            return half_to_float(load_u16(block + kTq2Codes));
        case TensorType::PTQ1_0:
            return half_to_float(load_u16(block + kPtq1Fives + kPtq1Fours));
        case TensorType::Q2_0:
        case TensorType::Q2_0_G128:
        case TensorType::PQ2_0:
            return half_to_float(load_u16(block));
        default:
            throw FormatError("block_scale: " + std::string(type_info(t).name) + " is not a ternary type");
    }
}

void dequantize(TensorType t, const std::uint8_t* src, float* dst, std::uint64_t n) {
    codec(t, "dequantize").dequant(src, dst, n);
}

void quantize(TensorType t, const float* src, std::uint8_t* dst, std::uint64_t n) {
    codec(t, "quantize").quant(src, dst, n);
}

}  // namespace ternspec
