// The bad-input catalogue: malformed model, safetensors and tokenizer files, each written to
// tmp/bad_inputs/ (the fuzzers' seed corpus) and each rejected with a FormatError that names the file
// and what is wrong; requests past the model's limits are InputErrors. Under ASan+UBSan this also shows
// that no rejection reads out of bounds.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <tuple>

#include "runtime/speculative_decoder.hpp"
#include "target/formats/gguf.hpp"
#include "target/formats/safetensors.hpp"
#include "target/model/model_files.hpp"
#include "target/model/qwen3_model.hpp"
#include "target/tokenizer/tokenizer.hpp"
#include "ternspec/error.hpp"
#include "tests/support/test_models.hpp"

using namespace ternspec;
namespace fs = std::filesystem;

namespace {

std::string catalogue(const std::string& name, const std::string& bytes) {
    const auto dir = fixtures::temp_path("bad_inputs");
    fs::create_directories(dir);
    const auto path = dir + "/" + name;
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
}

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

// Little-endian GGUF pieces for hand-built headers.
struct Bytes {
    std::string s;
    template <typename T>
    Bytes& put(T v) {
        s.append(reinterpret_cast<const char*>(&v), sizeof v);
        return *this;
    }
    Bytes& str(const std::string& v) {
        put<std::uint64_t>(v.size());
        s += v;
        return *this;
    }
};

Bytes header(std::uint64_t tensors, std::uint64_t kvs) {
    Bytes b;
    b.put<std::uint32_t>(0x46554747)
        .put<std::uint32_t>(3)
        .put<std::uint64_t>(tensors)
        .put<std::uint64_t>(kvs);
    return b;
}

template <typename Fn>
void expect_format_error(const std::string& path, Fn&& fn, const std::string& must_mention) {
    try {
        fn(path);
        ADD_FAILURE() << path << ": accepted";
    } catch (const FormatError& e) {
        EXPECT_NE(std::string(e.what()).find(must_mention), std::string::npos) << e.what();
        // Every load error names the file (the README's promise), and in words, not a library's code.
        EXPECT_NE(std::string(e.what()).find(fs::path(path).filename().string()), std::string::npos)
            << e.what();
        EXPECT_EQ(std::string(e.what()).find("[json.exception"), std::string::npos) << e.what();
    }
}

const auto open_gguf = [](const std::string& p) { GgufFile f(p); };
const auto open_st = [](const std::string& p) { SafetensorsFile f(p); };
const auto open_tok = [](const std::string& p) { Tokenizer::from_json_file(p); };

}  // namespace

TEST(BadGguf, EveryTruncationIsRejected) {
    const auto good = slurp(fixtures::tiny_gguf("trunc_source"));
    const auto path = fixtures::temp_path("truncated.gguf");
    std::size_t checked = 0;
    for (std::size_t n = 0; n < good.size(); n += (n < 4096 ? 1 : 997)) {
        std::ofstream(path, std::ios::binary | std::ios::trunc) << good.substr(0, n);
        EXPECT_THROW(
            {
                GgufFile f(path);
                ModelFiles::open(path);
            },
            FormatError)
            << "prefix of " << n << " bytes";
        ++checked;
    }
    EXPECT_GT(checked, 4000u);
    catalogue("truncated_half.gguf", good.substr(0, good.size() / 2));
}

TEST(BadGguf, Catalogue) {
    expect_format_error(catalogue("wrong_magic.gguf", "GGUX" + std::string(20, '\0')), open_gguf,
                        "wrong magic");
    expect_format_error(catalogue("empty.gguf", ""), open_gguf, "magic");
    Bytes v = header(0, 0);
    std::memcpy(v.s.data() + 4, "\x63\0\0\0", 4);
    expect_format_error(catalogue("version99.gguf", v.s), open_gguf, "unsupported GGUF version 99");
    expect_format_error(catalogue("absurd_tensor_count.gguf", header(1ull << 40, 0).s), open_gguf,
                        "absurd tensor count");
    expect_format_error(catalogue("absurd_kv_count.gguf", header(0, 1ull << 40).s), open_gguf,
                        "absurd metadata count");
    expect_format_error(catalogue("huge_key.gguf", header(0, 1).put<std::uint64_t>(1ull << 62).s), open_gguf,
                        "truncated");
    expect_format_error(catalogue("unknown_value_type.gguf", header(0, 1).str("k").put<std::uint32_t>(99).s),
                        open_gguf, "unknown value type 99");
    expect_format_error(catalogue("huge_array.gguf", header(0, 1)
                                                         .str("k")
                                                         .put<std::uint32_t>(9)
                                                         .put<std::uint32_t>(4)
                                                         .put<std::uint64_t>(1ull << 60)
                                                         .s),
                        open_gguf, "does not fit");
    expect_format_error(
        catalogue("bad_bool.gguf", header(0, 1).str("k").put<std::uint32_t>(7).put<std::uint8_t>(5).s),
        open_gguf, "bool value 5");
    expect_format_error(catalogue("duplicate_key.gguf", header(0, 2)
                                                            .str("k")
                                                            .put<std::uint32_t>(4)
                                                            .put<std::uint32_t>(1)
                                                            .str("k")
                                                            .put<std::uint32_t>(4)
                                                            .put<std::uint32_t>(2)
                                                            .s),
                        open_gguf, "duplicate metadata key k");
    expect_format_error(
        catalogue("bad_alignment.gguf",
                  header(0, 1).str("general.alignment").put<std::uint32_t>(4).put<std::uint32_t>(3).s),
        open_gguf, "not a power of two");
    auto tensor = [](std::uint32_t ndims, std::vector<std::uint64_t> dims, std::uint32_t type,
                     std::uint64_t offset) {
        Bytes b = header(1, 0);
        b.str("w").put<std::uint32_t>(ndims);
        for (auto d : dims) b.put<std::uint64_t>(d);
        b.put<std::uint32_t>(type).put<std::uint64_t>(offset);
        b.s.append((32 - b.s.size() % 32) % 32, '\0');
        b.s.append(256, '\0');
        return b.s;
    };
    expect_format_error(catalogue("zero_dims.gguf", tensor(0, {}, 0, 0)), open_gguf, "0 dimensions");
    expect_format_error(catalogue("five_dims.gguf", tensor(5, {1, 1, 1, 1, 1}, 0, 0)), open_gguf,
                        "5 dimensions");
    expect_format_error(catalogue("zero_dim.gguf", tensor(2, {0, 4}, 0, 0)), open_gguf,
                        "invalid or overflowing");
    expect_format_error(
        catalogue("overflow_dims.gguf", tensor(3, {1ull << 30, 1ull << 30, 1ull << 30}, 0, 0)), open_gguf,
        "overflowing");
    expect_format_error(catalogue("unknown_type.gguf", tensor(1, {64}, 77, 0)), open_gguf,
                        "unknown or unsupported type id 77");
    expect_format_error(catalogue("offset_past_end.gguf", tensor(1, {64}, 0, 1ull << 20)), open_gguf,
                        "past the end");
    expect_format_error(catalogue("misaligned_offset.gguf", tensor(1, {4}, 0, 3)), open_gguf, "not aligned");
    expect_format_error(catalogue("too_big_for_file.gguf", tensor(1, {1024}, 0, 0)), open_gguf,
                        "past the end");
    expect_format_error(catalogue("partial_block.gguf", tensor(1, {100}, 8, 0)), open_gguf, "not a multiple");
}

TEST(BadGguf, ModelLevelErrorsNameTheTensor) {
    // A real model file missing a tensor, and one whose architecture is not qwen3.
    const auto mf = ModelFiles::open(fixtures::tiny_gguf("model_level"));
    GgufWriter w;
    for (const auto& [k, v] : mf.gguf()->metadata()) w.set(k, v);
    w.set("general.architecture", GgufValue::str("llama"));
    const auto p = fixtures::temp_path("bad_inputs/llama_arch.gguf");
    w.write(p);
    expect_format_error(
        p, [](const std::string& x) { ModelFiles::open(x); }, "architecture llama is not supported");
    GgufWriter w2;
    for (const auto& [k, v] : mf.gguf()->metadata()) w2.set(k, v);
    for (const auto& t : mf.gguf()->tensors())
        if (t.name != "blk.1.ffn_down.weight")
            w2.add_tensor(
                t.name, t.type, t.shape,
                std::vector<std::uint8_t>(mf.gguf()->tensor_data(t), mf.gguf()->tensor_data(t) + t.n_bytes));
    const auto p2 = fixtures::temp_path("bad_inputs/missing_tensor.gguf");
    w2.write(p2);
    expect_format_error(
        p2, [](const std::string& x) { Qwen3Model::load(ModelFiles::open(x)); },
        "missing tensor blk.1.ffn_down.weight");
}

// Values a file may hold but a model cannot run on, and files that contradict themselves (issue 18, 9).
namespace {

// A copy of the tiny model with metadata edits and optionally one tensor's bytes changed.
std::string edited_gguf(const std::string& name, const std::function<void(GgufWriter&)>& edit_kv,
                        const std::string& tensor = "",
                        const std::function<void(std::vector<std::uint8_t>&)>& edit_data = {}) {
    const auto mf = ModelFiles::open(fixtures::tiny_gguf("edited_source", TensorType::F16));
    GgufWriter w;
    for (const auto& [k, v] : mf.gguf()->metadata()) w.set(k, v);
    edit_kv(w);
    for (const auto& t : mf.gguf()->tensors()) {
        std::vector<std::uint8_t> d(mf.gguf()->tensor_data(t), mf.gguf()->tensor_data(t) + t.n_bytes);
        if (t.name == tensor) edit_data(d);
        w.add_tensor(t.name, t.type, t.shape, std::move(d));
    }
    fs::create_directories(fixtures::temp_path("bad_inputs"));
    const auto path = fixtures::temp_path("bad_inputs/" + name);
    w.write(path);
    return path;
}

const auto load_model = [](const std::string& p) { Qwen3Model::load(ModelFiles::open(p)); };

}  // namespace

TEST(BadGguf, NonFiniteAndInconsistentValuesAreRefused) {
    const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
    expect_format_error(edited_gguf(
                            "nan_norm.gguf", [](GgufWriter&) {}, "output_norm.weight",
                            [&](std::vector<std::uint8_t>& d) { std::memcpy(d.data() + 12, &nan, 4); }),
                        load_model, "output_norm.weight holds a non-finite value at element 3");
    expect_format_error(
        edited_gguf("inf_rope.gguf",
                    [&](GgufWriter& w) { w.set("qwen3.rope.freq_base", GgufValue::f32(inf)); }),
        load_model, "rope_theta");
    expect_format_error(
        edited_gguf("huge_rope.gguf",
                    [](GgufWriter& w) {
                        w.set("qwen3.rope.freq_base", GgufValue{GgufType::F64, GgufType::U32, double{1e300}});
                    }),
        load_model, "rope_theta");
    expect_format_error(edited_gguf("inf_eps.gguf",
                                    [&](GgufWriter& w) {
                                        w.set("qwen3.attention.layer_norm_rms_epsilon", GgufValue::f32(inf));
                                    }),
                        load_model, "rms_norm_eps");
    expect_format_error(edited_gguf("short_block_count.gguf",
                                    [](GgufWriter& w) { w.set("qwen3.block_count", GgufValue::u32(1)); }),
                        load_model, "blk.1.attn_k.weight is past the 1 layers the file declares");
}

namespace {

// Peak resident memory in bytes since the last reset_peak_rss() (Linux's VmHWM).
std::uint64_t peak_rss() {
    std::ifstream in("/proc/self/status");
    for (std::string line; std::getline(in, line);)
        if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
    return 0;
}
bool reset_peak_rss() {
    std::ofstream f("/proc/self/clear_refs");
    f << "5";
    f.close();
    return f.good();
}

}  // namespace

// A 32 MiB u8 array under a key nobody reads cost 1.6 GB (48 x) when every element became a value.
TEST(BadGguf, MetadataArraysCostNoMoreThanTheirBytes) {
    const std::uint64_t n = 32u << 20;
    Bytes b = header(0, 1);
    b.str("junk.array").put<std::uint32_t>(static_cast<std::uint32_t>(GgufType::ARRAY));
    b.put<std::uint32_t>(static_cast<std::uint32_t>(GgufType::U8)).put<std::uint64_t>(n);
    b.s.append(n, '\x07');
    const auto path = catalogue("big_u8_array.gguf", b.s);
    b.s.clear();
    b.s.shrink_to_fit();
    if (!reset_peak_rss()) GTEST_SKIP() << "cannot reset the peak RSS here (/proc/self/clear_refs)";
    const auto before = peak_rss();
    {
        const GgufFile g(path);
        EXPECT_EQ(g.get("junk.array").array_size("junk.array"), n);
    }
    const auto grew = peak_rss() - before;
    EXPECT_LT(grew, 4 * n) << "opening a " << n << "-byte array raised peak RSS by " << grew;
}

// Values of the wrong type, in a GGUF or a config.json: the error names the file and the key (issue 18, 10).
TEST(BadModel, WrongValueTypesNameTheFileAndKey) {
    expect_format_error(
        edited_gguf("string_block_count.gguf",
                    [](GgufWriter& w) { w.set("qwen3.block_count", GgufValue::str("two")); }),
        [](const std::string& p) { ModelFiles::open(p); }, "qwen3.block_count: expected an integer");
    expect_format_error(
        edited_gguf("int_tokens.gguf",
                    [](GgufWriter& w) {
                        w.set("tokenizer.ggml.tokens", GgufValue::array(GgufType::I32, {GgufValue::i32(1)}));
                    }),
        [](const std::string& p) { ModelFiles::open(p); }, "tokenizer.ggml.tokens: expected a string");
    const auto dir = fixtures::hf_folder_from_gguf(fixtures::tiny_gguf("wrong_types_src"), "wrong_types_hf");
    const auto cfg_path = dir + "/config.json";
    const auto original = slurp(cfg_path);
    for (const auto& [key, value, mention] :
         std::vector<std::tuple<std::string, nlohmann::json, std::string>>{
             {"hidden_size", "256", "hidden_size is string, not an integer"},
             {"rope_theta", "1e6", "rope_theta is string, not a number"},
             {"rms_norm_eps", 1e300, "rms_norm_eps is 1e+300"},
             {"tie_word_embeddings", 1, "tie_word_embeddings is number, not a bool"},
             {"num_hidden_layers", 2.5, "num_hidden_layers is a fraction 2.5"}}) {
        auto j = nlohmann::json::parse(original);
        j[key] = value;
        std::ofstream(cfg_path) << j.dump();
        try {
            ModelFiles::open(dir);
            ADD_FAILURE() << key << " = " << value.dump() << ": accepted";
        } catch (const FormatError& e) {
            EXPECT_NE(std::string(e.what()).find("config.json"), std::string::npos) << e.what();
            EXPECT_NE(std::string(e.what()).find(mention), std::string::npos) << e.what();
        }
    }
    std::ofstream(cfg_path) << original;
}

// Hugging Face config settings are applied as transformers applies them, or refused by name, never
// ignored (issue 17, 6): RoPE scaling, nested rope_parameters, tie_word_embeddings' default, every end id
// in generation_config.json, chat_template.jinja.
TEST(HfConfig, SettingsAreAppliedOrRefused) {
    const auto gguf = fixtures::tiny_gguf("hf_fidelity_src");
    const auto dir = fixtures::hf_folder_from_gguf(gguf, "hf_fidelity");
    const auto cfg_path = dir + "/config.json";
    const auto original = nlohmann::json::parse(slurp(cfg_path));
    auto with = [&](const std::function<void(nlohmann::json&)>& edit) {
        auto j = original;
        edit(j);
        std::ofstream(cfg_path) << j.dump();
    };
    auto refused = [&](const std::string& mention) {
        try {
            ModelFiles::open(dir);
            ADD_FAILURE() << "accepted; expected " << mention;
        } catch (const FormatError& e) {
            EXPECT_NE(std::string(e.what()).find(mention), std::string::npos) << e.what();
            EXPECT_NE(std::string(e.what()).find("config.json"), std::string::npos) << e.what();
        }
    };
    with([](auto& j) { j["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}}; });
    refused("rope_scaling asks for \"yarn\" RoPE scaling");
    with([](auto& j) { j["rope_scaling"] = {{"type", "linear"}, {"factor", 2.0}}; });
    refused("\"linear\"");
    with([](auto& j) {
        j.erase("rope_theta");
        j["rope_parameters"] = {{"rope_type", "default"}, {"rope_theta", 123456.0}};
    });
    EXPECT_FLOAT_EQ(ModelFiles::open(dir).config().rope_theta, 123456.0f);
    with([](auto& j) { j.erase("rope_theta"); });
    EXPECT_FLOAT_EQ(ModelFiles::open(dir).config().rope_theta, 10000.0f);  // transformers' Qwen3 default
    with([](auto& j) { j.erase("tie_word_embeddings"); });
    refused(
        "tie_word_embeddings is absent (transformers' default: false) but the folder has no lm_head.weight");
    with([](auto&) {});
    // generation_config.json: every listed id ends generation. The id is one greedy decoding reaches (its
    // third token), so stopping there is observable.
    std::int32_t third = -1;
    {
        auto m = Qwen3Model::load(ModelFiles::open(dir));
        DecodeOptions o;
        o.max_new_tokens = 8;
        o.stop_at_eos = false;
        third = SpeculativeDecoder(m, nullptr).run(m->tokenizer().encode("hello"), o).tokens.at(2);
    }
    std::ofstream(dir + "/generation_config.json")
        << nlohmann::json{{"eos_token_id", {100 == third ? 101 : 100, third}}}.dump();
    {
        const auto mf = ModelFiles::open(dir);
        EXPECT_TRUE(mf.tokenizer().is_end(third));
        auto m = Qwen3Model::load(mf);
        DecodeOptions o;
        o.max_new_tokens = 8;
        const auto r = SpeculativeDecoder(m, nullptr).run(m->tokenizer().encode("hello"), o);
        EXPECT_EQ(r.stop_reason, StopReason::Eos);
        EXPECT_LE(r.tokens.size(), 3u);
        EXPECT_TRUE(mf.tokenizer().is_end(r.tokens.back()));
    }
    std::ofstream(dir + "/generation_config.json") << R"({"eos_token_id": [5, 100000]})";
    refused("eos_token_id is 100000, out of range");
    fs::remove(dir + "/generation_config.json");
    // chat_template.jinja where tokenizer_config.json has none.
    fs::remove(dir + "/tokenizer_config.json");
    std::ofstream(dir + "/chat_template.jinja") << "{{ messages[0]['content'] }}";
    EXPECT_EQ(ModelFiles::open(dir).chat_template(), "{{ messages[0]['content'] }}");
    // GGUF: a rope scaling key is refused, not ignored.
    expect_format_error(
        edited_gguf("yarn.gguf",
                    [](GgufWriter& w) { w.set("qwen3.rope.scaling.type", GgufValue::str("yarn")); }),
        [](const std::string& p) { ModelFiles::open(p); }, "qwen3.rope.scaling.type is yarn");
}

// A safetensors header is read by SAX, each entry filed in the table as it closes: memory follows the table.
// The worst shape the format allows (many empty tensors with short names, about 60 bytes each) is
// measured; the DOM cost 28x the header's bytes, a list of parsed entries before the table 9.1x.
TEST(BadSafetensors, HeaderMemoryFollowsItsEntries) {
    std::string h = "{";
    for (int i = 0; i < 200000; ++i)
        h += (i ? ",\"t" : "\"t") + std::to_string(i) +
             R"(":{"dtype":"F32","shape":[0],"data_offsets":[0,0]})";
    h += "}";
    Bytes b;
    b.put<std::uint64_t>(h.size());
    b.s += h;
    const auto path = catalogue("many_entries.safetensors", b.s);
    const auto header_bytes = h.size();
    b.s.clear();
    b.s.shrink_to_fit();
    h.clear();
    h.shrink_to_fit();
    if (!reset_peak_rss()) GTEST_SKIP() << "cannot reset the peak RSS here (/proc/self/clear_refs)";
    const auto before = peak_rss();
    {
        SafetensorsFile f(path);
        EXPECT_EQ(f.tensors().size(), 200000u);
    }
    const auto ratio = static_cast<double>(peak_rss() - before) / static_cast<double>(header_bytes);
    RecordProperty("peak_rss_over_header_bytes", std::to_string(ratio));
    std::printf("safetensors header of %zu bytes: peak RSS grew %.1fx its size\n", header_bytes, ratio);
#if defined(__SANITIZE_ADDRESS__)
    GTEST_SKIP()
        << "ASan's redzones and quarantine inflate every allocation; the bound holds for plain builds";
#endif
    EXPECT_LT(ratio, 4.0);
}

TEST(BadGguf, OverlappingTensorsAreRefused) {
    // Point the second tensor in file order at the first one's bytes.
    const auto path = fixtures::tiny_gguf("overlap_source", TensorType::F16);
    std::string bytes = slurp(path);
    const GgufFile g(path);
    std::vector<GgufTensorInfo> by_offset = g.tensors();
    std::sort(by_offset.begin(), by_offset.end(), [](auto& a, auto& b) { return a.offset < b.offset; });
    const auto& victim = by_offset[1];
    const std::string name_field = Bytes().str(victim.name).s;
    const auto at = bytes.find(name_field);
    ASSERT_NE(at, std::string::npos);
    const auto offset_at = at + name_field.size() + 4 + 8 * victim.shape.size() + 4;
    std::uint64_t stored = 0;
    std::memcpy(&stored, bytes.data() + offset_at, 8);
    ASSERT_EQ(stored, victim.offset);
    const std::uint64_t first = by_offset[0].offset;
    std::memcpy(bytes.data() + offset_at, &first, 8);
    expect_format_error(catalogue("overlapping.gguf", bytes), open_gguf, "overlap");
}

TEST(BadSafetensors, Catalogue) {
    auto with_header = [](const std::string& h, std::size_t data) {
        Bytes b;
        b.put<std::uint64_t>(h.size());
        b.s += h;
        b.s.append(data, '\0');
        return b.s;
    };
    expect_format_error(catalogue("short.safetensors", "abc"), open_st, "too short");
    expect_format_error(catalogue("huge_header.safetensors", Bytes().put<std::uint64_t>(1ull << 50).s + "{}"),
                        open_st, "runs past");
    expect_format_error(catalogue("bad_json.safetensors", with_header("{\"a\": {\"shape\": [1,", 0)), open_st,
                        "invalid JSON");
    expect_format_error(catalogue("not_object.safetensors", with_header("[1,2]", 0)), open_st,
                        "not a JSON object");
    struct BadHeader {
        const char *file, *header;
        int data_bytes;
        const char* must_mention;
    };
    for (const auto& c : std::initializer_list<BadHeader>{
             {"u16.safetensors", R"({"w":{"dtype":"U16","shape":[4],"data_offsets":[0,8]}})", 8,
              "unsupported dtype U16"},
             {"past_end.safetensors", R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 8,
              "past the end"},
             {"size_mismatch.safetensors", R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}})", 16,
              "do not match"},
             {"reversed.safetensors", R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}})", 16,
              "past the end"},
             {"no_shape.safetensors", R"({"w":{"dtype":"F32","data_offsets":[0,4]}})", 4, "malformed entry"},
             {"unknown_field.safetensors",
              R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"extra":1}})", 4, "field \"extra\""},
             {"nested_shape.safetensors", R"({"w":{"dtype":"F32","shape":[[1]],"data_offsets":[0,4]}})", 4,
              "an array where the format has none"},
             // Fractions and out-of-range numbers where integers belong (UBSan: float-cast-overflow before).
             {"fraction_shape.safetensors",
              R"({"w":{"dtype":"F32","shape":[256.5],"data_offsets":[0,1024]}})", 1024,
              "shape is a fraction 256.5, not an integer"},
             {"huge_shape.safetensors", R"({"w":{"dtype":"F32","shape":[1e300],"data_offsets":[0,4]}})", 4,
              "not an integer"},
         })
        expect_format_error(catalogue(c.file, with_header(c.header, c.data_bytes)), open_st, c.must_mention);
    expect_format_error(catalogue("overlap.safetensors",
                                  with_header(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                              R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                                              12)),
                        open_st, "tensors a and b overlap");
    // Values where the format has none are refused while walking, before a DOM is built (a 99 MB header of
    // `[]` entries cost 2.8 GB).
    expect_format_error(catalogue("array_entries.safetensors", with_header(R"({"a":[],"b":[],"c":[]})", 0)),
                        open_st, "header has an array where the format has none (at \"a\")");
    // A header that is a single number (a fraction or a negative one) has no entry to name: once a crash,
    // found by fuzz_safetensors' 10-minute run.
    for (const auto* h : {"5555.5", "-3", "[1.5]", R"({"w": 2.5})", R"({"w": {"shape": -1}})"})
        expect_format_error(
            catalogue(std::string("number_header_") + std::to_string(std::strlen(h)) + ".safetensors",
                      with_header(h, 0)),
            open_st, "header");
}

TEST(BadTokenizer, Catalogue) {
    expect_format_error(catalogue("bad.tokenizer.json", "{\"model\": "), open_tok, "invalid JSON");
    expect_format_error(catalogue("no_model.tokenizer.json", "{}"), open_tok, "malformed tokenizer");
    expect_format_error(catalogue("unigram.tokenizer.json", R"({"model": {"type": "Unigram", "vocab": []}})"),
                        open_tok, "is not BPE");
    expect_format_error(
        catalogue(
            "bad_merge.tokenizer.json",
            R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a zz"]}, "pre_tokenizer": {"type": "ByteLevel"}})"),
        open_tok, "not in the vocabulary");
    expect_format_error(
        catalogue(
            "no_bytes.tokenizer.json",
            R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}, "pre_tokenizer": {"type": "ByteLevel"}})"),
        open_tok, "lacks the byte-level token");
    expect_format_error(
        catalogue(
            "bad_regex.tokenizer.json",
            R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}, "pre_tokenizer": {"type": "Split", "pattern": {"Regex": "(unclosed"}}})"),
        open_tok, "does not compile");
    expect_format_error(
        catalogue(
            "metaspace.tokenizer.json",
            R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}, "pre_tokenizer": {"type": "Metaspace"}})"),
        open_tok, "unsupported pre-tokenizer Metaspace");
    // 2^32 + 5 was read as 5, and 5.5 converted silently.
    expect_format_error(catalogue("wrapping_id.tokenizer.json",
                                  R"({"model": {"type": "BPE", "vocab": {"a": 4294967301}, "merges": []}})"),
                        open_tok, "model.vocab id is 4294967301, out of range");
    expect_format_error(catalogue("fraction_id.tokenizer.json",
                                  R"({"model": {"type": "BPE", "vocab": {"a": 5.5}, "merges": []}})"),
                        open_tok, "model.vocab id is a fraction 5.5");
}

// A control (3) or user-defined (4) token that is the empty string matched at every byte without moving
// on: a prompt with a NUL byte then looped forever, growing memory. Refused at load, for both types.
TEST(BadTokenizer, EmptyAddedTokenInGgufIsRefused) {
    const auto src = fixtures::tiny_gguf("empty_added_source");
    for (const int type : {3, 4}) {
        GgufWriter w;
        const GgufFile g(src);
        for (const auto& [k, v] : g.metadata()) w.set(k, v);
        auto tokens = g.get("tokenizer.ggml.tokens").as_array("tokens");
        auto types = g.get("tokenizer.ggml.token_type").as_array("types");
        tokens.push_back(GgufValue::str(""));
        types.push_back(GgufValue::i32(type));
        w.set("tokenizer.ggml.tokens", GgufValue::array(GgufType::STRING, std::move(tokens)));
        w.set("tokenizer.ggml.token_type", GgufValue::array(GgufType::I32, std::move(types)));
        fs::create_directories(fixtures::temp_path("bad_inputs"));
        const auto path =
            fixtures::temp_path("bad_inputs") + "/empty_added_" + std::to_string(type) + ".gguf";
        w.write(path);
        expect_format_error(
            path, [](const std::string& p) { Tokenizer::from_gguf(GgufFile(p)); }, "empty string");
    }
}

// BPE merges a pre-token with a heap of candidate pairs. Rescanning every pair after each merge made
// one whitespace-free 512 KB word cost about 9 s here (1 MB 38 s); with the heap it takes about 0.1 s
// (0.5 s under ASan). The bound sits between the two with room for a slow machine.
TEST(BadRequest, TokenizingALongWordIsFast) {
    const auto dir = fixtures::shipped_model();
    if (dir.empty()) GTEST_SKIP() << "no trained model (with merges) shipped in models/";
    const auto tok = Tokenizer::from_json_file(dir + "/tokenizer.json");
    std::uint32_t x = 12345;  // a new word every time: the pre-token cache must not answer
    double best = 1e9;
    for (int rep = 0; rep < 2; ++rep) {
        std::string word(512 << 10, 'a');
        for (auto& c : word) c = static_cast<char>('a' + ((x = x * 1664525u + 1013904223u) >> 24) % 26);
        const auto t0 = std::chrono::steady_clock::now();
        const auto ids = tok.encode(word);
        best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
        EXPECT_EQ(tok.decode(ids), word);
    }
    RecordProperty("seconds_512k_word", std::to_string(best));  // --gtest_output=json shows it
    EXPECT_LT(best, 3.0) << "512 KB without whitespace took " << best << " s";
}

TEST(BadModel, FloatWeightsMustBeTernaryUnlessQuantizeIsAsked) {
    const auto dir =
        fixtures::hf_folder_from_gguf(fixtures::tiny_gguf("float_src"), "bad_inputs/not_ternary_hf");
    // Perturb one weight so that its group is no longer {-s, 0, +s}.
    auto st = slurp(dir + "/model.safetensors");
    std::uint64_t hlen;
    std::memcpy(&hlen, st.data(), 8);
    auto header = nlohmann::json::parse(st.substr(8, hlen));
    const auto off = header["model.layers.0.mlp.up_proj.weight"]["data_offsets"][0].get<std::size_t>();
    st[8 + hlen + off] = static_cast<char>(0x12);
    st[8 + hlen + off + 1] = static_cast<char>(0x34);
    std::ofstream(dir + "/model.safetensors", std::ios::binary | std::ios::trunc) << st;
    expect_format_error(
        dir, [](const std::string& p) { Qwen3Model::load(ModelFiles::open(p)); },
        "model.layers.0.mlp.up_proj.weight (F16) is not ternary");
    ModelLoadOptions lo;
    lo.quantize = true;
    auto m = Qwen3Model::load(ModelFiles::open(dir), lo);
    EXPECT_TRUE(m->quantized_on_load());
}

TEST(BadModel, ShapeMismatchAndBadConfig) {
    const auto dir = fixtures::hf_folder_from_gguf(fixtures::tiny_gguf("shape_src"), "bad_inputs/shape_hf");
    auto cfg = nlohmann::json::parse(slurp(dir + "/config.json"));
    cfg["intermediate_size"] = 640;
    std::ofstream(dir + "/config.json", std::ios::trunc) << cfg.dump();
    expect_format_error(
        dir, [](const std::string& p) { Qwen3Model::load(ModelFiles::open(p)); }, "expected [640, 256]");
    cfg["num_key_value_heads"] = 3;
    std::ofstream(dir + "/config.json", std::ios::trunc) << cfg.dump();
    expect_format_error(
        dir, [](const std::string& p) { ModelFiles::open(p); }, "not a multiple of num_key_value_heads 3");
    cfg["architectures"] = {"LlamaForCausalLM"};
    std::ofstream(dir + "/config.json", std::ios::trunc) << cfg.dump();
    expect_format_error(
        dir, [](const std::string& p) { ModelFiles::open(p); }, "Qwen3ForCausalLM");
}

TEST(BadRequest, PromptsPastTheLimitsAreClearErrors) {
    auto m = Qwen3Model::load(ModelFiles::open(fixtures::tiny_gguf("limits")));
    SpeculativeDecoder dec(m, nullptr);
    DecodeOptions o;
    o.context = 16;
    std::vector<std::int32_t> long_prompt(16, 65);
    try {
        dec.run(long_prompt, o);
        ADD_FAILURE();
    } catch (const InputError& e) {
        EXPECT_NE(std::string(e.what()).find("does not fit the context of 16"), std::string::npos)
            << e.what();
    }
    EXPECT_THROW(dec.run(std::vector<std::int32_t>{}, o), InputError);
    EXPECT_THROW(dec.run(std::vector<std::int32_t>{1, 99999}, o), InputError);
    // Generation stops at the context with a reason instead of running past it.
    o.max_new_tokens = 100;
    o.stop_at_eos = false;
    auto r = dec.run(std::vector<std::int32_t>{65, 66}, o);
    EXPECT_EQ(r.stop_reason, StopReason::Context);
    EXPECT_EQ(r.tokens.size(), 15u);
}
