// Every tensor type decodes hand-made blocks to the documented values, round-trips through its encoder,
// and GGUF and safetensors files round-trip through writer and reader.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "target/formats/dequantize.hpp"
#include "target/formats/gguf.hpp"
#include "target/formats/safetensors.hpp"
#include "target/io/half.hpp"
#include "ternspec/error.hpp"
#include "tests/support/test_models.hpp"

using namespace ternspec;

namespace {
// Decoded values at the given indices.
void expect_values(const std::vector<float>& y, std::initializer_list<std::pair<int, float>> want) {
    for (const auto& [i, v] : want) EXPECT_EQ(y[static_cast<std::size_t>(i)], v) << "element " << i;
}
}  // namespace

TEST(Half, RoundTripsEveryHalfValue) {
    for (std::uint32_t h = 0; h < 65536; ++h) {
        const float f = half_to_float(static_cast<std::uint16_t>(h));
        if (std::isnan(f)) continue;
        EXPECT_EQ(float_to_half(f), h) << h;
    }
    EXPECT_EQ(half_to_float(0x3c00), 1.0f);
    EXPECT_EQ(half_to_float(0xc000), -2.0f);
    EXPECT_EQ(half_to_float(0x0001), std::ldexp(1.0f, -24));
    EXPECT_EQ(float_to_half(1.0f + std::ldexp(1.0f, -11)), 0x3c00);  // tie to even
    EXPECT_EQ(float_to_half(65520.0f), 0x7c00);                      // overflow to inf
    EXPECT_EQ(bf16_to_float(float_to_bf16(3.140625f)), 3.140625f);
}

TEST(Dequantize, Q2_0HandMadeBlocks) {
    // Group 64: scale 0.5 first, then codes LSB-first; 0->-1, 1->0, 2->+1, 3->+2.
    std::vector<std::uint8_t> b(18, 0);
    const std::uint16_t d = float_to_half(0.5f);
    b[0] = static_cast<std::uint8_t>(d), b[1] = static_cast<std::uint8_t>(d >> 8);
    b[2] = 0b11100100;                         // elements 0..3: codes 0,1,2,3
    for (int i = 3; i < 18; ++i) b[i] = 0x55;  // all code 1 -> 0
    std::vector<float> y(64);
    dequantize(TensorType::Q2_0, b.data(), y.data(), 64);
    expect_values(y, {{0, -0.5f}, {1, 0.0f}, {2, 0.5f}, {3, 1.0f}});
    for (int i = 4; i < 64; ++i) EXPECT_EQ(y[i], 0.0f);
    // Group 128 (legacy Bonsai and PQ2_0): same codes, 32 code bytes.
    std::vector<std::uint8_t> g(34, 0x55);
    g[0] = static_cast<std::uint8_t>(d), g[1] = static_cast<std::uint8_t>(d >> 8);
    g[33] = 0b10010101;  // element 127 -> code 2 -> +1, 124..126 -> code 1 -> 0
    std::vector<float> z(128);
    for (auto t : {TensorType::Q2_0_G128, TensorType::PQ2_0}) {
        dequantize(t, g.data(), z.data(), 128);
        EXPECT_EQ(z[127], 0.5f);
        EXPECT_EQ(z[126], 0.0f);
        EXPECT_EQ(z[0], 0.0f);
    }
}

// PTQ1_0 (PrismML, id 143): 28 bytes per 128 weights: qs[24] of five base-3 digits (a run of 16 bytes, then
// one of 8), qh[2] of four, then d. Digit n of byte q is ((q * 3^n mod 256) * 3) >> 8, digit 1 meaning 0; in
// a run of c bytes digit n of byte m is element (run start) + n * c + m. Bytes written by hand from that
// rule.
TEST(Dequantize, PTQ1_0HandMadeBlock) {
    std::vector<std::uint8_t> b(28, 0x80);  // 128 = digits 1,1,1,1,1: all zero
    b[24] = b[25] = 127;                    // 127 = digits 1,1,1,1 (and a trailing 0)
    const std::uint16_t d = float_to_half(0.25f);
    b[26] = static_cast<std::uint8_t>(d), b[27] = static_cast<std::uint8_t>(d >> 8);
    b[0] = 213;   // digits 2,1,1,1,1: element 0 -> +d
    b[16] = 43;   // digits 0,1,1,1,1: element 80 (second run, byte 0, digit 0) -> -d
    b[24] = 155;  // digits 1,2,1,1: element 120 + 1 * 2 + 0 = 122 -> +d
    b[7] = 14;    // digits 0,0,1,1,1 (14 = ceil(13 * 256 / 243)): elements 7 and 16 + 7 -> -d
    std::vector<float> y(128);
    dequantize(TensorType::PTQ1_0, b.data(), y.data(), 128);
    expect_values(y, {{0, 0.25f}, {80, -0.25f}, {122, 0.25f}, {7, -0.25f}, {23, -0.25f}});
    int nonzero = 0;
    for (float v : y) nonzero += v != 0.0f;
    EXPECT_EQ(nonzero, 5);
    EXPECT_EQ(block_scale(TensorType::PTQ1_0, b.data()), 0.25f);
    EXPECT_EQ(type_info(TensorType::PTQ1_0).ggml_id, 143u);
}

TEST(Dequantize, TQ2_0AndTQ1_0HandMadeBlocks) {
    // TQ2_0: byte m of each 32-byte run holds elements m, m+32, m+64, m+96 of its 128 in bit pairs.
    std::vector<std::uint8_t> b(66, 0x55);
    const std::uint16_t d = float_to_half(2.0f);
    b[64] = static_cast<std::uint8_t>(d), b[65] = static_cast<std::uint8_t>(d >> 8);
    b[1] = 0b01100100;  // element 1: code 0 (-1), 33: code 1 (0), 65: code 2 (+1), 97: code 1 (0)
    std::vector<float> y(256);
    dequantize(TensorType::TQ2_0, b.data(), y.data(), 256);
    expect_values(y, {{1, -2.0f}, {33, 0.0f}, {65, 2.0f}, {97, 0.0f}});
    // TQ1_0: a byte holds five trits as a fraction of 243; all-zero trits (digit 1) encode as 122.
    std::vector<float> x(256, 0.0f);
    x[0] = 1.5f, x[32] = -1.5f, x[160] = 1.5f, x[255] = -1.5f;
    std::vector<std::uint8_t> q(54);
    quantize(TensorType::TQ1_0, x.data(), q.data(), 256);
    dequantize(TensorType::TQ1_0, q.data(), y.data(), 256);
    for (int i = 0; i < 256; ++i) EXPECT_EQ(y[i], x[i]) << i;
    std::vector<float> zeros(256, 0.0f);
    quantize(TensorType::TQ1_0, zeros.data(), q.data(), 256);
    EXPECT_EQ(q[0], (121 * 256 + 242) / 243);  // digits 1,1,1,1,1 = 121
}

TEST(Dequantize, Q8_0HandMadeBlock) {
    std::vector<std::uint8_t> b(34, 0);
    const std::uint16_t d = float_to_half(0.25f);
    b[0] = static_cast<std::uint8_t>(d), b[1] = static_cast<std::uint8_t>(d >> 8);
    b[2] = 4, b[3] = static_cast<std::uint8_t>(-8);
    std::vector<float> y(32);
    dequantize(TensorType::Q8_0, b.data(), y.data(), 32);
    EXPECT_EQ(y[0], 1.0f);
    EXPECT_EQ(y[1], -2.0f);
}

TEST(Dequantize, TernaryRoundTripEveryType) {
    std::mt19937 rng(7);
    for (auto t :
         {TensorType::TQ1_0, TensorType::TQ2_0, TensorType::Q2_0, TensorType::Q2_0_G128, TensorType::PQ2_0,
          TensorType::PTQ1_0, TensorType::F16, TensorType::BF16, TensorType::F32}) {
        const int n = 1024, group = type_info(t).ternary ? static_cast<int>(type_info(t).block_elems) : 128;
        std::vector<float> x(n);
        for (int g = 0; g < n / group; ++g) {
            const float s = half_to_float(float_to_half(0.01f + 0.001f * static_cast<float>(rng() % 100)));
            for (int j = 0; j < group; ++j)
                x[g * group + j] = static_cast<float>(static_cast<int>(rng() % 3) - 1) * s;
        }
        std::vector<std::uint8_t> bytes(tensor_bytes(t, n, "x"));
        quantize(t, x.data(), bytes.data(), n);
        std::vector<float> y(n);
        dequantize(t, bytes.data(), y.data(), n);
        for (int i = 0; i < n; ++i) {
            if (t == TensorType::BF16)
                EXPECT_NEAR(y[i], x[i], std::fabs(x[i]) / 128) << type_info(t).name;
            else
                EXPECT_EQ(y[i], x[i]) << type_info(t).name << " element " << i;
        }
    }
}

TEST(Gguf, RoundTripsEveryMetadataTypeAndTensorType) {
    GgufWriter w;
    w.set("general.architecture", GgufValue::str("qwen3"));
    w.set("k.u8", {GgufType::U8, GgufType::U32, std::uint64_t{200}});
    w.set("k.i8", {GgufType::I8, GgufType::U32, std::int64_t{-100}});
    w.set("k.u16", {GgufType::U16, GgufType::U32, std::uint64_t{60000}});
    w.set("k.i16", {GgufType::I16, GgufType::U32, std::int64_t{-30000}});
    w.set("k.u32", GgufValue::u32(4000000000u));
    w.set("k.i32", GgufValue::i32(-2000000000));
    w.set("k.u64", {GgufType::U64, GgufType::U32, std::uint64_t{1ull << 40}});
    w.set("k.i64", {GgufType::I64, GgufType::U32, std::int64_t{-(1ll << 40)}});
    w.set("k.f32", GgufValue::f32(1.5f));
    w.set("k.f64", {GgufType::F64, GgufType::U32, 2.25});
    w.set("k.bool", GgufValue::boolean(true));
    w.set("k.str", GgufValue::str("héllo"));
    w.set("k.arr", GgufValue::array(GgufType::I32, {GgufValue::i32(1), GgufValue::i32(-2)}));
    w.set("k.nested",
          GgufValue::array(GgufType::ARRAY, {GgufValue::array(GgufType::STRING, {GgufValue::str("a")})}));
    w.set("general.alignment", GgufValue::u32(64));
    std::mt19937 rng(3);
    std::map<std::string, std::vector<std::uint8_t>> sent;
    for (auto t : {TensorType::F32, TensorType::F16, TensorType::BF16, TensorType::Q8_0, TensorType::TQ1_0,
                   TensorType::TQ2_0, TensorType::Q2_0_G128, TensorType::PQ2_0, TensorType::PTQ1_0}) {
        const std::uint64_t rows = 4,
                            cols = 1024;  // large enough that the two Q2_0 layouts differ by >= 64 bytes
        std::vector<std::uint8_t> bytes(tensor_bytes(t, rows * cols, "t"));
        for (auto& b : bytes) b = static_cast<std::uint8_t>(rng());
        const std::string name = "t." + std::string(type_info(t).name);
        sent[name] = bytes;
        w.add_tensor(name, t, {rows, cols}, bytes);
    }
    const auto path = fixtures::temp_path("roundtrip.gguf");
    w.write(path);
    GgufFile f(path);
    EXPECT_EQ(f.alignment(), 64u);
    EXPECT_EQ(f.get("k.u8").as_int("k"), 200);
    EXPECT_EQ(f.get("k.i8").as_int("k"), -100);
    EXPECT_EQ(f.get("k.u16").as_int("k"), 60000);
    EXPECT_EQ(f.get("k.i16").as_int("k"), -30000);
    EXPECT_EQ(f.get("k.u32").as_int("k"), 4000000000ll);
    EXPECT_EQ(f.get("k.i32").as_int("k"), -2000000000);
    EXPECT_EQ(f.get("k.u64").as_int("k"), 1ll << 40);
    EXPECT_EQ(f.get("k.i64").as_int("k"), -(1ll << 40));
    EXPECT_EQ(f.get("k.f32").as_float("k"), 1.5);
    EXPECT_EQ(f.get("k.f64").as_float("k"), 2.25);
    EXPECT_TRUE(f.get("k.bool").as_bool("k"));
    EXPECT_EQ(f.get("k.str").as_string("k"), "héllo");
    EXPECT_EQ(f.get("k.arr").as_array("k")[1].as_int("k"), -2);
    EXPECT_EQ(f.get("k.nested").as_array("k")[0].as_array("k")[0].as_string("k"), "a");
    for (const auto& [name, bytes] : sent) {
        const auto* t = f.find_tensor(name);
        ASSERT_NE(t, nullptr) << name;
        EXPECT_EQ(std::string(type_info(t->type).name), name.substr(2)) << "type id 42 must resolve by size";
        EXPECT_EQ(t->shape, (std::vector<std::uint64_t>{4, 1024}));
        ASSERT_EQ(t->n_bytes, bytes.size());
        EXPECT_EQ(0, std::memcmp(f.tensor_data(*t), bytes.data(), bytes.size())) << name;
        EXPECT_EQ(reinterpret_cast<std::uintptr_t>(f.tensor_data(*t)) % 64, 0u);
    }
}

TEST(Safetensors, RoundTripsAndShards) {
    std::vector<SafetensorsWriterTensor> ts;
    for (auto t : {TensorType::F32, TensorType::F16, TensorType::BF16}) {
        std::vector<float> v = {1.0f, -2.0f, 0.5f, 0.0f, 3.0f, -0.25f};
        SafetensorsWriterTensor w{
            std::string(type_info(t).name), t, {2, 3}, std::vector<std::uint8_t>(tensor_bytes(t, 6, "x"))};
        quantize(t, v.data(), w.data.data(), 6);
        ts.push_back(w);
    }
    const auto dir = fixtures::temp_path("st_sharded");
    std::filesystem::create_directories(dir);
    write_safetensors(dir + "/a.safetensors", {ts[0], ts[1]});
    write_safetensors(dir + "/b.safetensors", {ts[2]}, {{"format", "pt"}});
    std::ofstream(dir + "/model.safetensors.index.json")
        << R"({"metadata": {}, "weight_map": {"F32": "a.safetensors", "F16": "a.safetensors", "BF16": "b.safetensors"}})";
    SafetensorsSet set(dir);
    ASSERT_EQ(set.tensors().size(), 3u);
    for (const auto& [name, t] : set.tensors()) {
        std::vector<float> y(6);
        dequantize(t.type, t.data, y.data(), 6);
        EXPECT_EQ(y[1], -2.0f) << name;
        EXPECT_EQ(y[5], -0.25f) << name;
        EXPECT_EQ(t.shape(), (std::vector<std::uint64_t>{2, 3}));
    }
}

TEST(Gguf, TellsTheTwoQ2_0LayoutsApartBySize) {
    for (auto t : {TensorType::Q2_0, TensorType::Q2_0_G128}) {
        GgufWriter w;
        // One tensor large enough to decide (sizes differ by 4096/64 = 64 bytes >= alignment) and one too
        // small to tell on its own, which must follow the file's layout.
        w.add_tensor("big", t, {4, 1024}, std::vector<std::uint8_t>(tensor_bytes(t, 4096, "big"), 0x55));
        w.add_tensor("small", t, {1, 128}, std::vector<std::uint8_t>(tensor_bytes(t, 128, "small"), 0x55));
        const auto path =
            fixtures::temp_path(std::string("layout_") + std::string(type_info(t).name) + ".gguf");
        w.write(path);
        GgufFile f(path);
        EXPECT_EQ(f.find_tensor("big")->type, t);
        EXPECT_EQ(f.find_tensor("small")->type, t);
    }
}
