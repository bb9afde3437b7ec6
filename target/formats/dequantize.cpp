#include "target/formats/dequantize.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

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

void dequant_q2(const std::uint8_t* b, float* y, int group) {
    const float d = half_to_float(load_u16(b));
    for (int j = 0; j < group; ++j) y[j] = static_cast<float>(((b[2 + j / 4] >> (2 * (j % 4))) & 3) - 1) * d;
}

void quant_q2(const float* x, std::uint8_t* b, int group) {
    const float amax = block_absmax(x, group);
    const std::uint16_t dh = float_to_half(amax);
    const float d = half_to_float(dh);
    const float inv = d > 0 ? 1.0f / d : 0.0f;
    store_u16(b, dh);
    std::memset(b + 2, 0, static_cast<std::size_t>(group / 4));
    for (int j = 0; j < group; ++j)
        b[2 + j / 4] |= static_cast<std::uint8_t>((trit_of(x[j], inv) + 1) << (2 * (j % 4)));
}

}  // namespace

void dequantize(TensorType t, const std::uint8_t* src, float* dst, std::uint64_t n) {
    const auto& info = type_info(t);
    const std::uint64_t blocks = n / info.block_elems;
    switch (t) {
        case TensorType::F32:
            std::memcpy(dst, src, n * 4);
            return;
        case TensorType::F16:
            for (std::uint64_t i = 0; i < n; ++i) dst[i] = half_to_float(load_u16(src + 2 * i));
            return;
        case TensorType::BF16:
            for (std::uint64_t i = 0; i < n; ++i) dst[i] = bf16_to_float(load_u16(src + 2 * i));
            return;
        case TensorType::I8:
            for (std::uint64_t i = 0; i < n; ++i)
                dst[i] = static_cast<float>(static_cast<std::int8_t>(src[i]));
            return;
        case TensorType::I32:
            for (std::uint64_t i = 0; i < n; ++i) {
                std::int32_t v;
                std::memcpy(&v, src + 4 * i, 4);
                dst[i] = static_cast<float>(v);
            }
            return;
        case TensorType::I64:
            for (std::uint64_t i = 0; i < n; ++i) {
                std::int64_t v;
                std::memcpy(&v, src + 8 * i, 8);
                dst[i] = static_cast<float>(v);
            }
            return;
        case TensorType::Q8_0:
            for (std::uint64_t b = 0; b < blocks; ++b, src += 34, dst += 32) {
                const float d = half_to_float(load_u16(src));
                for (int j = 0; j < 32; ++j)
                    dst[j] = static_cast<float>(static_cast<std::int8_t>(src[2 + j])) * d;
            }
            return;
        case TensorType::TQ2_0:
            // 64 bytes of codes then d; four 32-element runs per 32 bytes, lowest bit pair first.
            for (std::uint64_t b = 0; b < blocks; ++b, src += 66) {
                const float d = half_to_float(load_u16(src + 64));
                for (int j = 0; j < 64; j += 32)
                    for (int l = 0; l < 4; ++l)
                        for (int m = 0; m < 32; ++m)
                            *dst++ = static_cast<float>(((src[j + m] >> (2 * l)) & 3) - 1) * d;
            }
            return;
        case TensorType::TQ1_0:
            // qs[48] (5 trits a byte: 32 bytes x5 then 16 bytes x5), qh[4] (4 trits a byte), d.
            for (std::uint64_t b = 0; b < blocks; ++b, src += 54) {
                const float d = half_to_float(load_u16(src + 52));
                for (int n5 = 0; n5 < 5; ++n5)
                    for (int m = 0; m < 32; ++m) *dst++ = static_cast<float>(tq1_digit(src[m], n5) - 1) * d;
                for (int n5 = 0; n5 < 5; ++n5)
                    for (int m = 0; m < 16; ++m)
                        *dst++ = static_cast<float>(tq1_digit(src[32 + m], n5) - 1) * d;
                for (int n4 = 0; n4 < 4; ++n4)
                    for (int m = 0; m < 4; ++m)
                        *dst++ = static_cast<float>(tq1_digit(src[48 + m], n4) - 1) * d;
            }
            return;
        case TensorType::Q2_0:
        case TensorType::Q2_0_G128:
        case TensorType::PQ2_0: {
            const int g = static_cast<int>(info.block_elems);
            for (std::uint64_t b = 0; b < blocks; ++b, src += info.block_bytes, dst += g)
                dequant_q2(src, dst, g);
            return;
        }
    }
    throw FormatError("dequantize: unknown tensor type");
}

void quantize(TensorType t, const float* src, std::uint8_t* dst, std::uint64_t n) {
    const auto& info = type_info(t);
    const std::uint64_t blocks = n / info.block_elems;
    switch (t) {
        case TensorType::F32:
            std::memcpy(dst, src, n * 4);
            return;
        case TensorType::F16:
            for (std::uint64_t i = 0; i < n; ++i) store_u16(dst + 2 * i, float_to_half(src[i]));
            return;
        case TensorType::BF16:
            for (std::uint64_t i = 0; i < n; ++i) store_u16(dst + 2 * i, float_to_bf16(src[i]));
            return;
        case TensorType::I8:
            for (std::uint64_t i = 0; i < n; ++i)
                dst[i] = static_cast<std::uint8_t>(static_cast<std::int8_t>(std::lround(src[i])));
            return;
        case TensorType::I32:
            for (std::uint64_t i = 0; i < n; ++i) {
                const auto v = static_cast<std::int32_t>(std::llround(src[i]));
                std::memcpy(dst + 4 * i, &v, 4);
            }
            return;
        case TensorType::I64:
            for (std::uint64_t i = 0; i < n; ++i) {
                const auto v = static_cast<std::int64_t>(std::llround(src[i]));
                std::memcpy(dst + 8 * i, &v, 8);
            }
            return;
        case TensorType::Q8_0:
            for (std::uint64_t b = 0; b < blocks; ++b, src += 32, dst += 34) {
                const std::uint16_t dh = float_to_half(block_absmax(src, 32) / 127.0f);
                const float d = half_to_float(dh);
                store_u16(dst, dh);
                for (int j = 0; j < 32; ++j)
                    dst[2 + j] = static_cast<std::uint8_t>(static_cast<std::int8_t>(
                        d > 0 ? std::clamp(std::lround(src[j] / d), -127L, 127L) : 0));
            }
            return;
        case TensorType::TQ2_0:
            for (std::uint64_t b = 0; b < blocks; ++b, src += 256, dst += 66) {
                const std::uint16_t dh = float_to_half(block_absmax(src, 256));
                const float d = half_to_float(dh);
                const float inv = d > 0 ? 1.0f / d : 0.0f;
                std::memset(dst, 0, 64);
                for (int j = 0; j < 64; j += 32)
                    for (int l = 0; l < 4; ++l)
                        for (int m = 0; m < 32; ++m)
                            dst[j + m] |= static_cast<std::uint8_t>(
                                (trit_of(src[j * 4 + l * 32 + m], inv) + 1) << (2 * l));
                store_u16(dst + 64, dh);
            }
            return;
        case TensorType::TQ1_0:
            for (std::uint64_t b = 0; b < blocks; ++b, src += 256, dst += 54) {
                const std::uint16_t dh = float_to_half(block_absmax(src, 256));
                const float d = half_to_float(dh);
                const float inv = d > 0 ? 1.0f / d : 0.0f;
                // Element order matches dequantize: byte m of a run holds elements m + k*run for k = 0..4.
                auto pack = [&](int first, int run, int count, int digits) {
                    for (int m = 0; m < count; ++m) {
                        int q = 0;
                        for (int k = 0; k < digits; ++k)
                            q = q * 3 + trit_of(src[first + m + k * run], inv) + 1;
                        for (int k = digits; k < 5; ++k) q *= 3;
                        dst[first == 0 ? m : (first == 160 ? 32 + m : 48 + m)] =
                            static_cast<std::uint8_t>((q * 256 + 242) / 243);
                    }
                };
                pack(0, 32, 32, 5);
                pack(160, 16, 16, 5);
                pack(240, 4, 4, 4);
                store_u16(dst + 52, dh);
            }
            return;
        case TensorType::Q2_0:
        case TensorType::Q2_0_G128:
        case TensorType::PQ2_0: {
            const int g = static_cast<int>(info.block_elems);
            for (std::uint64_t b = 0; b < blocks; ++b, src += g, dst += info.block_bytes)
                quant_q2(src, dst, g);
            return;
        }
    }
    throw FormatError("quantize: unknown tensor type");
}

}  // namespace ternspec
