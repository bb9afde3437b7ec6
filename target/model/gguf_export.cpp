#include "target/model/gguf_export.hpp"

#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <set>

#include "target/formats/dequantize.hpp"
#include "target/io/half.hpp"
#include "target/model/hadamard_rotation.hpp"
#include "target/model/ternary_import.hpp"
#include "target/tokenizer/regex_splitter.hpp"
#include "ternspec/error.hpp"

namespace ternspec {

void set_qwen3_metadata(GgufWriter& w, const ModelConfig& c, const std::string& name) {
    w.set("general.architecture", GgufValue::str("qwen3"));
    w.set("general.name", GgufValue::str(name));
    w.set("general.alignment", GgufValue::u32(32));
    w.set("qwen3.context_length", GgufValue::u32(static_cast<std::uint32_t>(c.context_length)));
    w.set("qwen3.embedding_length", GgufValue::u32(static_cast<std::uint32_t>(c.hidden_size)));
    w.set("qwen3.feed_forward_length", GgufValue::u32(static_cast<std::uint32_t>(c.intermediate_size)));
    w.set("qwen3.block_count", GgufValue::u32(static_cast<std::uint32_t>(c.n_layers)));
    w.set("qwen3.attention.head_count", GgufValue::u32(static_cast<std::uint32_t>(c.n_heads)));
    w.set("qwen3.attention.head_count_kv", GgufValue::u32(static_cast<std::uint32_t>(c.n_kv_heads)));
    w.set("qwen3.attention.key_length", GgufValue::u32(static_cast<std::uint32_t>(c.head_dim)));
    w.set("qwen3.attention.value_length", GgufValue::u32(static_cast<std::uint32_t>(c.head_dim)));
    w.set("qwen3.rope.freq_base", GgufValue::f32(c.rope_theta));
    w.set("qwen3.attention.layer_norm_rms_epsilon", GgufValue::f32(c.rms_eps));
}

namespace {
void set_mtp_layers(GgufWriter& w, const ModelConfig& c, int depth);
ModelConfig modules_config(const ModelConfig& target, bool qwen35_nextn);
}  // namespace

ModelConfig synth_shape(const std::string& name) {
    struct Shape {
        const char* name;
        int vocab, hidden, intermediate, layers, heads, kv_heads, head_dim, context;
        bool tied;
    };
    // Qwen3's published configs; Qwen3-8B has its own output matrix.
    static const Shape shapes[] = {
        {"tiny", 512, 256, 512, 2, 4, 2, 64, 1024, true},
        {"qwen3-0.6b", 151936, 1024, 3072, 28, 16, 8, 128, 40960, true},
        {"qwen3-1.7b", 151936, 2048, 6144, 28, 16, 8, 128, 40960, true},
        {"qwen3-4b", 151936, 2560, 9728, 36, 32, 8, 128, 40960, true},
        {"qwen3-8b", 151936, 4096, 12288, 36, 32, 8, 128, 40960, false},
    };
    for (const auto& s : shapes) {
        if (name != s.name) continue;
        ModelConfig c;
        c.rope_theta = 1e6f;
        c.rms_eps = 1e-6f;
        c.vocab_size = s.vocab, c.hidden_size = s.hidden, c.intermediate_size = s.intermediate,
        c.n_layers = s.layers, c.n_heads = s.heads, c.n_kv_heads = s.kv_heads, c.head_dim = s.head_dim,
        c.context_length = s.context, c.tied_embeddings = s.tied;
        return c;
    }
    // Qwen3.5's hybrids at Bonsai 2's reported shapes (issue #34; attention heads, vocabulary and RoPE as
    // Qwen3.5's configs: query and key-value heads of 256, 64 rotary dims, a 248,320-token vocabulary).
    struct Hybrid {
        const char* name;
        int hidden, intermediate, layers, heads, kv_heads, key_heads, value_heads;
    };
    static const Hybrid hybrids[] = {
        {"qwen3.5-2b", 2048, 6144, 24, 8, 2, 16, 16},
        {"qwen3.5-4b", 2560, 9216, 32, 16, 4, 16, 32},
        {"qwen3.5-9b", 4096, 12288, 32, 16, 4, 16, 32},
        {"qwen3.5-27b", 5120, 17408, 64, 24, 4, 16, 48},
    };
    for (const auto& h : hybrids) {
        if (name != h.name) continue;
        ModelConfig c;
        c.architecture = "qwen35";
        c.vocab_size = 248320, c.hidden_size = h.hidden, c.intermediate_size = h.intermediate,
        c.n_layers = h.layers, c.n_heads = h.heads, c.n_kv_heads = h.kv_heads, c.head_dim = 256;
        c.context_length = 32768, c.tied_embeddings = h.hidden < 4096;
        c.rope_theta = 1e7f, c.rms_eps = 1e-6f, c.rope_dims = 64;
        c.ssm_conv_kernel = 4, c.ssm_head_dim = 128, c.ssm_key_heads = h.key_heads,
        c.ssm_value_heads = h.value_heads;
        for (int l = 0; l < h.layers; ++l) c.recurrent_layers.push_back((l + 1) % 4 != 0);
        return c;
    }
    if (name == "qwen3.5-tiny") {  // a small hybrid for tests: 3 GDN layers, then gated attention
        ModelConfig c;
        c.architecture = "qwen35";
        c.vocab_size = 512, c.hidden_size = 256, c.intermediate_size = 512, c.n_layers = 4, c.n_heads = 4,
        c.n_kv_heads = 2, c.head_dim = 64, c.context_length = 1024, c.tied_embeddings = true;
        c.rope_theta = 1e7f, c.rms_eps = 1e-6f, c.rope_dims = 16;  // Qwen3.5's partial rotary factor 0.25
        c.ssm_conv_kernel = 4, c.ssm_head_dim = 64, c.ssm_key_heads = 2, c.ssm_value_heads = 4;
        c.recurrent_layers = {1, 1, 1, 0};
        return c;
    }
    throw InputError(
        "unknown shape " + name +
        " (tiny, qwen3-0.6b, qwen3-1.7b, qwen3-4b, qwen3-8b, qwen3.5-tiny, qwen3.5-2b, qwen3.5-4b, "
        "qwen3.5-9b, qwen3.5-27b)");
}

std::string qwen2_tokenizer_json(const nlohmann::json& vocab, const nlohmann::json& added,
                                 const nlohmann::json& merges) {
    const nlohmann::json split = {{"type", "Split"},
                                  {"pattern", {{"Regex", kQwen2Pattern}}},
                                  {"behavior", "Isolated"},
                                  {"invert", false}};
    const nlohmann::json byte_level = {
        {"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}};
    return nlohmann::json{{"added_tokens", added},
                          {"normalizer", {{"type", "NFC"}}},
                          {"pre_tokenizer", {{"type", "Sequence"}, {"pretokenizers", {split, byte_level}}}},
                          {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", merges}}}}
        .dump();
}

Tokenizer synth_tokenizer() {
    nlohmann::json vocab = nlohmann::json::object();
    // GPT-2's byte map, written out so the tokenizer.json is self-contained.
    int extra = 0;
    for (int b = 0; b < 256; ++b) {
        const bool keep = (b >= '!' && b <= '~') || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
        const char32_t cp = keep ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + extra++);
        std::string s;
        if (cp < 0x80)
            s += static_cast<char>(cp);
        else
            s += static_cast<char>(0xc0 | (cp >> 6)), s += static_cast<char>(0x80 | (cp & 0x3f));
        vocab[s] = b;
    }
    nlohmann::json added = nlohmann::json::array();
    const char* specials[] = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"};
    for (int i = 0; i < 3; ++i)
        added.push_back({{"id", 256 + i}, {"content", specials[i]}, {"special", true}});
    return Tokenizer::from_json_text(qwen2_tokenizer_json(vocab, added, nlohmann::json::array()),
                                     "synthetic byte tokenizer");
}

namespace {

std::vector<std::uint8_t> encode_rows(TensorType type, const std::vector<float>& values) {
    std::vector<std::uint8_t> bytes(tensor_bytes(type, values.size(), "tensor"));
    quantize(type, values.data(), bytes.data(), values.size());
    return bytes;
}

}  // namespace

std::vector<std::uint8_t> random_matrix(TensorType type, int rows, int cols, std::mt19937_64& rng) {
    std::vector<float> v(static_cast<std::size_t>(rows) * cols);
    if (!type_info(type).ternary && type != TensorType::F16 && type != TensorType::BF16 &&
        type != TensorType::F32)
        throw InputError("synthetic weights cannot be written as " + std::string(type_info(type).name));
    const int group = type_info(type).ternary ? static_cast<int>(type_info(type).block_elems) : 128;
    const float base = 1.0f / std::sqrt(2.0f / 3.0f * static_cast<float>(cols));
    std::uniform_real_distribution<float> jitter(0.8f, 1.2f);
    for (std::size_t g = 0; g < v.size() / group; ++g) {
        float s = base * jitter(rng);
        // The stored scale must be exact in the file's precision so the values stay exactly ternary.
        if (type == TensorType::BF16)
            s = bf16_to_float(float_to_bf16(s));
        else if (type != TensorType::F32)
            s = half_to_float(float_to_half(s));
        std::uint64_t bits = rng();
        for (int j = 0; j < group; ++j) {
            if (j % 32 == 0) bits = rng();
            const int t = static_cast<int>(bits % 3) - 1;
            bits /= 3;
            v[g * group + j] = static_cast<float>(t) * s;
        }
    }
    return encode_rows(type, v);
}

namespace {

void add_norm(GgufWriter& w, const std::string& name, int n) {
    std::vector<float> v(static_cast<std::size_t>(n), 1.0f);
    w.add_tensor(name, TensorType::F32, {static_cast<std::uint64_t>(n)}, encode_rows(TensorType::F32, v));
}

// One Qwen3 decoder layer's tensors under GGUF names, prefix "blk.<l>.".
void add_random_block(GgufWriter& w, const ModelConfig& c, const std::string& p, TensorType type,
                      std::mt19937_64& rng) {
    auto matrix = [&](const std::string& name, int rows, int cols) {
        w.add_tensor(p + name, type, {static_cast<std::uint64_t>(rows), static_cast<std::uint64_t>(cols)},
                     random_matrix(type, rows, cols, rng));
    };
    add_norm(w, p + "attn_norm.weight", c.hidden_size);
    add_norm(w, p + "ffn_norm.weight", c.hidden_size);
    add_norm(w, p + "attn_q_norm.weight", c.head_dim);
    add_norm(w, p + "attn_k_norm.weight", c.head_dim);
    const int QD = c.n_heads * c.head_dim, KD = c.n_kv_heads * c.head_dim;
    matrix("attn_q.weight", QD, c.hidden_size);
    matrix("attn_k.weight", KD, c.hidden_size);
    matrix("attn_v.weight", KD, c.hidden_size);
    matrix("attn_output.weight", c.hidden_size, QD);
    matrix("ffn_gate.weight", c.intermediate_size, c.hidden_size);
    matrix("ffn_up.weight", c.intermediate_size, c.hidden_size);
    matrix("ffn_down.weight", c.hidden_size, c.intermediate_size);
}

// Floats drawn uniformly from [lo, hi), as F32 (the small float tensors of a GDN layer).
void add_uniform(GgufWriter& w, const std::string& name, std::vector<std::uint64_t> shape, float lo, float hi,
                 std::mt19937_64& rng) {
    std::uint64_t n = 1;
    for (const auto d : shape) n *= d;
    std::uniform_real_distribution<float> u(lo, hi);
    std::vector<float> v(n);
    for (auto& x : v) x = u(rng);
    w.add_tensor(name, TensorType::F32, std::move(shape), encode_rows(TensorType::F32, v));
}

// One Qwen3.5 layer under GGUF names: Gated DeltaNet or gated attention, then the FFN.
void add_random_hybrid_block(GgufWriter& w, const ModelConfig& c, int layer, TensorType type,
                             std::mt19937_64& rng) {
    const std::string p = "blk." + std::to_string(layer) + ".";
    auto matrix = [&](const std::string& name, int rows, int cols) {
        w.add_tensor(p + name, type, {static_cast<std::uint64_t>(rows), static_cast<std::uint64_t>(cols)},
                     random_matrix(type, rows, cols, rng));
    };
    const auto H = static_cast<std::uint64_t>(c.hidden_size);
    add_uniform(w, p + "attn_norm.weight", {H}, 0.8f, 1.2f, rng);
    add_uniform(w, p + "post_attention_norm.weight", {H}, 0.8f, 1.2f, rng);
    if (c.is_recurrent(layer)) {
        const int C = c.ssm_conv_channels(), VD = c.ssm_value_heads * c.ssm_head_dim;
        const auto Hv = static_cast<std::uint64_t>(c.ssm_value_heads);
        matrix("attn_qkv.weight", C, c.hidden_size);
        matrix("attn_gate.weight", VD, c.hidden_size);
        add_uniform(w, p + "ssm_conv1d.weight",
                    {static_cast<std::uint64_t>(C), static_cast<std::uint64_t>(c.ssm_conv_kernel)}, -0.6f,
                    0.6f, rng);
        add_uniform(w, p + "ssm_dt.bias", {Hv}, -1.0f, 1.0f, rng);
        add_uniform(w, p + "ssm_a", {Hv}, -2.0f, -0.1f, rng);
        const float r = 2.0f / std::sqrt(static_cast<float>(c.hidden_size));
        add_uniform(w, p + "ssm_beta.weight", {Hv, H}, -r, r, rng);
        add_uniform(w, p + "ssm_alpha.weight", {Hv, H}, -r, r, rng);
        add_uniform(w, p + "ssm_norm.weight", {static_cast<std::uint64_t>(c.ssm_head_dim)}, 0.8f, 1.2f, rng);
        matrix("ssm_out.weight", c.hidden_size, VD);
    } else {
        const int QD = c.n_heads * c.head_dim, KD = c.n_kv_heads * c.head_dim;
        add_uniform(w, p + "attn_q_norm.weight", {static_cast<std::uint64_t>(c.head_dim)}, 0.8f, 1.2f, rng);
        add_uniform(w, p + "attn_k_norm.weight", {static_cast<std::uint64_t>(c.head_dim)}, 0.8f, 1.2f, rng);
        matrix("attn_q.weight", 2 * QD, c.hidden_size);
        matrix("attn_k.weight", KD, c.hidden_size);
        matrix("attn_v.weight", KD, c.hidden_size);
        matrix("attn_output.weight", c.hidden_size, QD);
    }
    matrix("ffn_gate.weight", c.intermediate_size, c.hidden_size);
    matrix("ffn_up.weight", c.intermediate_size, c.hidden_size);
    matrix("ffn_down.weight", c.hidden_size, c.intermediate_size);
}

void check_synth_type(TensorType type) {
    if (!type_info(type).ternary && type != TensorType::F16 && type != TensorType::BF16 &&
        type != TensorType::F32)
        throw InputError("synth writes ternary models: choose a ternary type or f16/bf16/f32");
}

// qwen35.* keys as llama.cpp's loader reads them (src/models/qwen35.cpp); the layer pattern as an interval.
void set_qwen35_metadata(GgufWriter& w, const ModelConfig& c, const std::string& name) {
    auto u32 = [](int v) { return GgufValue::u32(static_cast<std::uint32_t>(v)); };
    int interval = 0;
    for (int l = 0; l < c.n_layers && !interval; ++l)
        if (!c.is_recurrent(l)) interval = l + 1;
    for (int l = 0; l < c.n_layers; ++l)
        if (c.is_recurrent(l) != (interval == 0 || (l + 1) % interval != 0))
            throw InputError("this layer pattern is not every n-th layer full attention");
    w.set("general.architecture", GgufValue::str("qwen35"));
    w.set("general.name", GgufValue::str(name));
    w.set("general.alignment", u32(32));
    w.set("qwen35.context_length", u32(c.context_length));
    w.set("qwen35.embedding_length", u32(c.hidden_size));
    w.set("qwen35.feed_forward_length", u32(c.intermediate_size));
    w.set("qwen35.block_count", u32(c.n_layers));
    w.set("qwen35.attention.head_count", u32(c.n_heads));
    w.set("qwen35.attention.head_count_kv", u32(c.n_kv_heads));
    w.set("qwen35.attention.key_length", u32(c.head_dim));
    w.set("qwen35.attention.value_length", u32(c.head_dim));
    w.set("qwen35.attention.layer_norm_rms_epsilon", GgufValue::f32(c.rms_eps));
    w.set("qwen35.rope.freq_base", GgufValue::f32(c.rope_theta));
    w.set("qwen35.rope.dimension_count", u32(c.rotary_dims()));
    const int pairs = c.rotary_dims() / 2;  // Qwen3.5's [11, 11, 10] scaled to the rotary pairs
    const int t = pairs * 11 / 32, h = pairs * 11 / 32;
    w.set("qwen35.rope.dimension_sections",
          GgufValue::array(GgufType::I32, {GgufValue::i32(t), GgufValue::i32(h),
                                           GgufValue::i32(pairs - t - h), GgufValue::i32(0)}));
    w.set("qwen35.ssm.conv_kernel", u32(c.ssm_conv_kernel));
    w.set("qwen35.ssm.state_size", u32(c.ssm_head_dim));
    w.set("qwen35.ssm.group_count", u32(c.ssm_key_heads));
    w.set("qwen35.ssm.time_step_rank", u32(c.ssm_value_heads));
    w.set("qwen35.ssm.inner_size", u32(c.ssm_value_heads * c.ssm_head_dim));
    w.set("qwen35.full_attention_interval", u32(interval ? interval : c.n_layers + 1));
}

void set_synth_metadata(GgufWriter& w, const ModelConfig& c) {
    const std::string name =
        "ternspec synthetic " + std::to_string(c.hidden_size) + "x" + std::to_string(c.n_layers);
    if (c.hybrid())
        set_qwen35_metadata(w, c, name);
    else
        set_qwen3_metadata(w, c, name);
    synth_tokenizer().write_gguf_metadata(w, static_cast<std::size_t>(c.vocab_size));
    w.set("tokenizer.chat_template", GgufValue::str(""));
}

}  // namespace

// PrismML's rotated basis over a synthetic model: random signs for every input width, every ternary matrix
// folded, token_embd latent, value heads grouped before ssm_out (hadamard_rotation.hpp).
void set_synth_rotation(GgufWriter& w, const ModelConfig& c, int block, std::mt19937_64& rng) {
    std::set<int> widths = {c.hidden_size, c.n_heads * c.head_dim, c.intermediate_size};
    if (c.hybrid()) widths.insert(c.ssm_value_heads * c.ssm_head_dim);
    std::vector<GgufValue> ws, values;
    for (const int width : widths) {
        if (width % block != 0)
            throw InputError("--hadamard " + std::to_string(block) + " does not divide the input width " +
                             std::to_string(width));
        ws.push_back(GgufValue::i32(width));
        for (int i = 0; i < width; ++i) values.push_back(GgufValue::i32(rng() % 2 ? 1 : -1));
    }
    std::vector<GgufValue> names;
    for (const auto& n : ternary_matrix_names(c)) names.push_back(GgufValue::str(n));
    const std::string p = "prism.hadamard.";
    w.set(p + "version", GgufValue::u32(1));
    w.set(p + "block_size", GgufValue::u32(static_cast<std::uint32_t>(block)));
    w.set(p + "transform", GgufValue::str("normalized-sylvester-walsh-hadamard"));
    w.set(p + "axis", GgufValue::str("input-last-dimension"));
    w.set(p + "sign_mode", GgufValue::str("explicit"));
    w.set(p + "sign_widths", GgufValue::array(GgufType::I32, std::move(ws)));
    w.set(p + "sign_values", GgufValue::array(GgufType::I32, std::move(values)));
    w.set(p + "weight_names", GgufValue::array(GgufType::STRING, std::move(names)));
    w.set(p + "inverse_weight_names",
          GgufValue::array(GgufType::STRING, {GgufValue::str("token_embd.weight")}));
    w.set(p + "gdn_v_grouped", GgufValue::boolean(c.hybrid()));
}

void synth_model(const std::string& out, const ModelConfig& c, TensorType type, std::uint64_t seed,
                 const Progress& progress, int hadamard_block) {
    check_synth_type(type);
    std::mt19937_64 rng(seed);
    GgufWriter w;
    set_synth_metadata(w, c);
    if (hadamard_block > 0) {
        if (hadamard_block < 2 || (hadamard_block & (hadamard_block - 1)) != 0)
            throw InputError("--hadamard: the block size must be a power of two");
        std::mt19937_64 sign_rng(seed ^ 0x5157ULL);
        set_synth_rotation(w, c, hadamard_block, sign_rng);
    }
    const int total = 1 + c.n_layers + (c.tied_embeddings ? 0 : 1);
    int done = 0;
    const auto V = static_cast<std::uint64_t>(c.vocab_size), H = static_cast<std::uint64_t>(c.hidden_size);
    w.add_tensor("token_embd.weight", type, {V, H}, random_matrix(type, c.vocab_size, c.hidden_size, rng));
    if (progress) progress(++done, total, "token_embd.weight");
    add_norm(w, "output_norm.weight", c.hidden_size);
    if (!c.tied_embeddings) {
        w.add_tensor("output.weight", type, {V, H}, random_matrix(type, c.vocab_size, c.hidden_size, rng));
        if (progress) progress(++done, total, "output.weight");
    }
    for (int l = 0; l < c.n_layers; ++l) {
        if (c.hybrid())
            add_random_hybrid_block(w, c, l, type, rng);
        else
            add_random_block(w, c, "blk." + std::to_string(l) + ".", type, rng);
        if (progress) progress(++done, total, "blk." + std::to_string(l));
    }
    w.write(out);
}

void synth_mtp(const std::string& out, const ModelConfig& target, int depth, int draft_vocab, TensorType type,
               std::uint64_t seed, MtpForm form) {
    check_synth_type(type);
    if (depth < 1 || depth > 64) throw InputError("--mtp: depth must be between 1 and 64");
    if (draft_vocab < 0 || draft_vocab > target.vocab_size)
        throw InputError("--draft-vocab must be between 0 and the vocabulary (" +
                         std::to_string(target.vocab_size) + ")");
    if (form == MtpForm::Qwen35Nextn && !target.hybrid())
        throw InputError("--nextn: Qwen3.5's MTP layers belong to a Qwen3.5 hybrid shape (qwen3.5-*)");
    ModelConfig c = modules_config(target, form == MtpForm::Qwen35Nextn);
    std::mt19937_64 rng(seed ^ 0x6d7470ULL);
    GgufWriter w;
    set_synth_metadata(w, c);
    set_mtp_layers(w, c, depth);
    // The modules are full-attention layers after the target's stack (its pattern stays in the metadata).
    if (c.hybrid()) c.recurrent_layers.resize(static_cast<std::size_t>(c.n_layers + depth), 0);
    const auto H = static_cast<std::uint64_t>(c.hidden_size);
    for (int d = 0; d < depth; ++d) {
        const std::string p = "blk." + std::to_string(c.n_layers + d) + ".";
        for (const char* norm : {"nextn.enorm.weight", "nextn.hnorm.weight", "nextn.shared_head_norm.weight"})
            if (c.hybrid())  // random, as the hybrid's other norms: a test then tells each one apart
                add_uniform(w, p + norm, {H}, 0.8f, 1.2f, rng);
            else
                add_norm(w, p + norm, c.hidden_size);
        w.add_tensor(p + "nextn.eh_proj.weight", type, {H, 2 * H},
                     random_matrix(type, c.hidden_size, 2 * c.hidden_size, rng));
        if (c.hybrid())
            add_random_hybrid_block(w, c, c.n_layers + d, type, rng);
        else
            add_random_block(w, c, p, type, rng);
    }
    if (draft_vocab > 0) {
        // The first ids stand in for the most frequent ones: cost does not depend on which rows they are.
        std::vector<std::uint8_t> ids(static_cast<std::size_t>(draft_vocab) * 4);
        for (int i = 0; i < draft_vocab; ++i)
            std::memcpy(ids.data() + 4 * static_cast<std::size_t>(i), &i, 4);
        w.add_tensor(kMtpDraftVocabTensor, TensorType::I32, {static_cast<std::uint64_t>(draft_vocab)},
                     std::move(ids));
    }
    w.write(out);
}

std::vector<std::uint8_t> encode_ternary_exact(const TensorRef& t, TensorType type, bool quantize_floats) {
    const auto d = import_ternary(t, quantize_floats);
    std::vector<float> v(d.trits.size());
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(d.trits[i]) * d.scales[i / d.group];
    auto bytes = encode_rows(type, v);
    std::vector<float> back(v.size());
    dequantize(type, bytes.data(), back.data(), back.size());
    for (std::size_t i = 0; i < v.size(); ++i)
        if (back[i] != v[i])
            throw InputError(t.file + ": tensor " + t.source_name + " cannot be written as " +
                             std::string(type_info(type).name) + " without loss (element " +
                             std::to_string(i) + ": " + std::to_string(v[i]) + " becomes " +
                             std::to_string(back[i]) +
                             "); its scale groups are finer than the type's blocks");
    return bytes;
}

namespace {

// Each tensor re-encoded as `type` (1-D ones as F32), refused by name where `type` cannot hold it exactly.
// The matrices of a Gated DeltaNet layer that are not ternary: the conv kernel, alpha and beta.
bool stays_float(const std::string& name) {
    for (const char* part : {".ssm_conv1d.", ".ssm_alpha.", ".ssm_beta."})
        if (name.find(part) != std::string::npos) return true;
    return false;
}

void add_converted(GgufWriter& w, const std::vector<const TensorRef*>& tensors, TensorType type,
                   bool quantize_floats, const Progress& progress) {
    const int total = static_cast<int>(tensors.size());
    int done = 0;
    for (const TensorRef* t : tensors) {
        if (t->type == TensorType::I32 ||
            t->type == TensorType::I64)  // ids (a draft vocabulary), as they are
            w.add_tensor(t->name, t->type, t->shape,
                         std::vector<std::uint8_t>(t->data, t->data + t->n_bytes));
        else if (t->shape.size() == 1 || stays_float(t->name))
            w.add_tensor(t->name, TensorType::F32, t->shape, encode_rows(TensorType::F32, import_floats(*t)));
        else
            w.add_tensor(t->name, type, t->shape, encode_ternary_exact(*t, type, quantize_floats));
        if (progress) progress(++done, total, t->name);
    }
}

void check_mtp_shape(const MtpFiles& mtp, const ModelFiles& in) {
    const auto& c = in.config();
    const auto& m = mtp.config();
    if (mtp.first_layer() != c.n_layers || m.hidden_size != c.hidden_size ||
        m.intermediate_size != c.intermediate_size || m.n_heads != c.n_heads ||
        m.n_kv_heads != c.n_kv_heads || m.head_dim != c.head_dim || m.vocab_size != c.vocab_size)
        throw InputError(mtp.path() + ": the MTP modules' shape differs from " + in.path() +
                         "'s layers, which one set of qwen3.* sizes needs");
}

// The target's metadata under `c`'s architecture, its tokenizer and template; with its rotation keys unless
// the file holds only ternspec's MTP modules (trained in the unrotated basis of the target's states).
void set_model_metadata(GgufWriter& w, const ModelFiles& in, const ModelConfig& c, const std::string& name,
                        bool rotation = true) {
    if (c.hybrid())
        set_qwen35_metadata(w, c, name);
    else
        set_qwen3_metadata(w, c, name);
    // A rotated basis travels with the weights it describes.
    if (in.gguf() && rotation)
        for (const auto& [k, v] : in.gguf()->metadata())
            if (k.rfind("prism.", 0) == 0) w.set(k, v);
    in.tokenizer().write_gguf_metadata(w, static_cast<std::size_t>(c.vocab_size));
    if (!in.chat_template().empty()) w.set("tokenizer.chat_template", GgufValue::str(in.chat_template()));
}

// The architecture a file of MTP modules declares: ternspec's modules are Qwen3 layers whatever the target
// (a qwen3 file), Qwen3.5's own nextn layers are gated-attention blocks (a qwen35 file).
ModelConfig modules_config(const ModelConfig& target, bool qwen35_nextn) {
    ModelConfig c = target;
    if (!qwen35_nextn && c.hybrid()) {
        c.architecture = "qwen3";
        c.recurrent_layers.clear();
        c.rope_dims = 0;
    }
    return c;
}

void set_mtp_layers(GgufWriter& w, const ModelConfig& c, int depth) {
    const std::string a = c.architecture + ".";  // qwen3, or qwen35 for a hybrid target
    w.set(a + "block_count", GgufValue::u32(static_cast<std::uint32_t>(c.n_layers + depth)));
    w.set(a + "nextn_predict_layers", GgufValue::u32(static_cast<std::uint32_t>(depth)));
    // An MTP-only file has no token_embd to size the vocabulary from.
    w.set(a + "vocab_size", GgufValue::u32(static_cast<std::uint32_t>(c.vocab_size)));
}

}  // namespace

std::string mtp_gguf_path(const std::string& out) {
    const std::string ext = ".gguf";
    if (out.size() > ext.size() && out.compare(out.size() - ext.size(), ext.size(), ext) == 0)
        return out.substr(0, out.size() - ext.size()) + ".mtp.gguf";
    return out + ".mtp.gguf";
}

void convert_model(const ModelFiles& in, const std::string& out, TensorType type, bool quantize_floats,
                   const Progress& progress, const MtpFiles* mtp, MtpPlacement placement) {
    const auto& c = in.config();
    std::optional<MtpFiles> carried;  // nextn layers the input holds travel like --mtp's
    if (!mtp && in.extra_layers() > 0) {
        carried = MtpFiles::open(in.path());
        mtp = &*carried;
    }
    if (mtp) {
        check_mtp_shape(*mtp, in);
        if (mtp->recursive() && !c.hybrid())
            throw InputError(mtp->path() + ": Qwen3.5's nextn layers (gated attention) do not belong to " +
                             in.path() + ", a qwen3 model");
        if (!mtp->recursive() && c.hybrid() && placement == MtpPlacement::SameFile)
            throw InputError(mtp->path() +
                             ": ternspec's MTP modules are Qwen3 layers, and a qwen35 file's "
                             "nextn layers are Qwen3.5's own gated-attention blocks: they go to a file of "
                             "their own");
    }
    GgufWriter w;
    set_model_metadata(w, in, c, in.path());
    std::vector<const TensorRef*> tensors;
    for (const auto& [name, t] : in.tensors())
        if (block_index(name) < c.n_layers) tensors.push_back(&t);
    if (mtp && placement == MtpPlacement::SameFile) {
        set_mtp_layers(w, c, mtp->depth());
        for (const auto& [name, t] : mtp->tensors()) tensors.push_back(&t);
    }
    add_converted(w, tensors, type, quantize_floats, progress);
    w.write(out);
    if (!mtp || placement == MtpPlacement::SameFile) return;
    GgufWriter m;
    const ModelConfig mc = modules_config(c, mtp->recursive());
    set_model_metadata(m, in, mc, mtp->path(), mtp->recursive());
    set_mtp_layers(m, mc, mtp->depth());
    std::vector<const TensorRef*> modules;
    for (const auto& [name, t] : mtp->tensors()) modules.push_back(&t);
    add_converted(m, modules, type, quantize_floats, progress);
    m.write(mtp_gguf_path(out));
}

}  // namespace ternspec
