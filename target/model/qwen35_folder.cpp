#include "target/model/qwen35_folder.hpp"

#include <cmath>
#include <cstring>

#include "target/formats/dequantize.hpp"
#include "target/io/json_fields.hpp"
#include "ternspec/error.hpp"

namespace ternspec {
namespace {

const nlohmann::json& text_config(const nlohmann::json& j) {
    return j.contains("text_config") && j["text_config"].is_object() ? j["text_config"] : j;
}

std::int32_t field(const nlohmann::json& j, const char* key, const std::string& file,
                   std::optional<std::int64_t> fallback = std::nullopt) {
    return static_cast<std::int32_t>(json_int_field(j, key, file, 0, INT32_MAX, fallback));
}

}  // namespace

bool is_qwen35_config(const nlohmann::json& j) {
    const auto archs = j.value("architectures", nlohmann::json::array());
    return !archs.empty() &&
           (archs[0] == "Qwen3_5ForCausalLM" || archs[0] == "Qwen3_5ForConditionalGeneration");
}

ModelConfig qwen35_config_from_hf(const nlohmann::json& root, const std::string& file) {
    const auto& j = text_config(root);
    ModelConfig c;
    c.architecture = "qwen35";
    c.vocab_size = field(j, "vocab_size", file);
    c.hidden_size = field(j, "hidden_size", file);
    c.intermediate_size = field(j, "intermediate_size", file);
    c.n_layers = field(j, "num_hidden_layers", file);
    c.n_heads = field(j, "num_attention_heads", file);
    c.n_kv_heads = field(j, "num_key_value_heads", file, c.n_heads);
    c.head_dim = field(j, "head_dim", file, c.n_heads ? c.hidden_size / c.n_heads : 0);
    c.context_length = field(j, "max_position_embeddings", file);
    c.rms_eps = json_float_field(j, "rms_norm_eps", file, 1e-6f, 0, 1);
    c.tied_embeddings = j.value("tie_word_embeddings", root.value("tie_word_embeddings", false));
    const auto rope = j.value("rope_parameters", nlohmann::json::object());
    if (!rope.is_object()) throw FormatError(file + ": rope_parameters is not an object");
    if (rope.contains("rope_type") && rope["rope_type"] != "default")
        throw FormatError(file + ": rope_parameters asks for " + rope["rope_type"].dump() +
                          " RoPE scaling, which ternspec does not apply");
    c.rope_theta =
        json_float_field(rope.contains("rope_theta") ? rope : j, "rope_theta", file, 10000.0f, 1, 1e12);
    const float partial = json_float_field(rope.contains("partial_rotary_factor") ? rope : j,
                                           "partial_rotary_factor", file, 0.25f, 0, 1);
    c.rope_dims = static_cast<std::int32_t>(std::lround(partial * static_cast<float>(c.head_dim)));
    c.ssm_conv_kernel = field(j, "linear_conv_kernel_dim", file);
    c.ssm_head_dim = field(j, "linear_key_head_dim", file);
    if (field(j, "linear_value_head_dim", file) != c.ssm_head_dim)
        throw FormatError(file + ": linear_value_head_dim differs from linear_key_head_dim");
    c.ssm_key_heads = field(j, "linear_num_key_heads", file);
    c.ssm_value_heads = field(j, "linear_num_value_heads", file);
    if (j.contains("layer_types")) {
        const auto& types = j["layer_types"];
        if (!types.is_array() || static_cast<std::int64_t>(types.size()) != c.n_layers)
            throw FormatError(file + ": layer_types must list one type per layer");
        for (const auto& t : types) {
            if (t != "linear_attention" && t != "full_attention")
                throw FormatError(file + ": layer_types holds " + t.dump() +
                                  " (linear_attention or full_attention)");
            c.recurrent_layers.push_back(t == "linear_attention");
        }
    } else {
        const auto interval = field(j, "full_attention_interval", file, 4);
        if (interval < 1) throw FormatError(file + ": full_attention_interval must be at least 1");
        for (int l = 0; l < c.n_layers; ++l) c.recurrent_layers.push_back((l + 1) % interval != 0);
    }
    return c;
}

namespace {

struct Builder {
    const SafetensorsSet& st;
    const ModelConfig& c;
    std::string folder, prefix;
    std::map<std::string, TensorRef>& out;
    std::vector<std::shared_ptr<std::vector<std::uint8_t>>>& owned;

    const SafetensorsTensor& get(const std::string& hf) const {
        const auto* t = st.find(prefix + hf);
        if (!t) throw FormatError(folder + ": missing tensor " + prefix + hf);
        return *t;
    }
    void as_is(const std::string& hf, const std::string& gguf) {
        const auto& t = get(hf);
        out[gguf] = {gguf, prefix + hf, t.type, t.shape(), t.data, t.n_bytes, *t.path};
    }
    std::vector<float> floats(const SafetensorsTensor& t) const {
        std::uint64_t n = 1;
        for (const auto d : t.shape()) n *= d;
        std::vector<float> v(n);
        dequantize(t.type, t.data, v.data(), n);
        return v;
    }
    void put(const std::string& hf, const std::string& gguf, TensorType type,
             std::vector<std::uint64_t> shape, std::vector<std::uint8_t> bytes) {
        auto buf = std::make_shared<std::vector<std::uint8_t>>(std::move(bytes));
        owned.push_back(buf);
        out[gguf] = {gguf, prefix + hf, type, std::move(shape), buf->data(), buf->size(), folder};
    }
    void put_floats(const std::string& hf, const std::string& gguf, std::vector<std::uint64_t> shape,
                    const std::vector<float>& v) {
        std::vector<std::uint8_t> bytes(v.size() * 4);
        std::memcpy(bytes.data(), v.data(), bytes.size());
        put(hf, gguf, TensorType::F32, std::move(shape), std::move(bytes));
    }
    // Stored as w - 1: back to the multiplier.
    void norm_plus_one(const std::string& hf, const std::string& gguf) {
        const auto& t = get(hf);
        auto v = floats(t);
        for (auto& x : v) x += 1.0f;
        put_floats(hf, gguf, t.shape(), v);
    }
    // Units of `unit` rows (or columns) along `axis` in grouped value-head order [Hk][rep][unit] to tiled
    // [rep][Hk][unit], starting at row (or column) `first`; element bytes copied as they are.
    void tiled(const std::string& hf, const std::string& gguf, int axis, std::uint64_t first,
               std::uint64_t unit) {
        const auto& t = get(hf);
        const auto shape = t.shape();
        if (shape.size() != 2 && !(shape.size() == 1 && axis == 0))
            throw FormatError(folder + ": tensor " + prefix + hf + " has an unexpected rank");
        const std::uint64_t rows = shape[0], cols = shape.size() == 2 ? shape[1] : 1;
        const std::uint64_t elem = t.n_bytes / (rows * cols);
        const std::uint64_t hk = static_cast<std::uint64_t>(c.ssm_key_heads),
                            hv = static_cast<std::uint64_t>(c.ssm_value_heads);
        const std::uint64_t rep = hv / hk, span = hv * unit, along = axis == 0 ? rows : cols;
        if (first + span != along)
            throw FormatError(folder + ": tensor " + prefix + hf + " has " + std::to_string(along) +
                              " rows or columns where the value heads need " + std::to_string(first + span));
        std::vector<std::uint8_t> bytes(t.data, t.data + t.n_bytes);
        auto src_index = [&](std::uint64_t i) {  // tiled position i -> grouped position
            if (i < first) return i;
            const std::uint64_t k = i - first, u = k % unit, head = k / unit;  // tiled head = r * hk + g
            const std::uint64_t r = head / hk, g = head % hk;
            return first + (g * rep + r) * unit + u;
        };
        for (std::uint64_t row = 0; row < rows; ++row)
            for (std::uint64_t col = 0; col < cols; ++col) {
                const std::uint64_t sr = axis == 0 ? src_index(row) : row,
                                    sc = axis == 1 ? src_index(col) : col;
                std::memcpy(bytes.data() + (row * cols + col) * elem, t.data + (sr * cols + sc) * elem, elem);
            }
        put(hf, gguf, t.type, shape, std::move(bytes));
    }
};

}  // namespace

void qwen35_tensors_from_hf(const SafetensorsSet& st, const ModelConfig& c, const std::string& folder,
                            std::map<std::string, TensorRef>& out,
                            std::vector<std::shared_ptr<std::vector<std::uint8_t>>>& owned) {
    Builder b{
        st,     c,
        folder, st.find("model.language_model.embed_tokens.weight") ? "model.language_model." : "model.",
        out,    owned};
    b.as_is("embed_tokens.weight", "token_embd.weight");
    b.norm_plus_one("norm.weight", "output_norm.weight");
    if (!c.tied_embeddings) {
        const auto* head = st.find("lm_head.weight");
        if (!head)
            throw FormatError(folder + ": tie_word_embeddings is false but there is no lm_head.weight");
        out["output.weight"] = {"output.weight", "lm_head.weight", head->type, head->shape(),
                                head->data,      head->n_bytes,    *head->path};
    }
    const std::uint64_t d = static_cast<std::uint64_t>(c.ssm_head_dim),
                        kd = static_cast<std::uint64_t>(c.ssm_key_heads) * d;
    for (int l = 0; l < c.n_layers; ++l) {
        const std::string h = "layers." + std::to_string(l) + ".", g = "blk." + std::to_string(l) + ".";
        b.norm_plus_one(h + "input_layernorm.weight", g + "attn_norm.weight");
        b.norm_plus_one(h + "post_attention_layernorm.weight", g + "post_attention_norm.weight");
        for (const auto& [hf, gg] : {std::pair{"mlp.gate_proj", "ffn_gate"},
                                     {"mlp.up_proj", "ffn_up"},
                                     {"mlp.down_proj", "ffn_down"}})
            b.as_is(h + hf + ".weight", g + gg + ".weight");
        if (!c.is_recurrent(l)) {
            for (const auto& [hf, gg] : {std::pair{"self_attn.q_proj", "attn_q"},
                                         {"self_attn.k_proj", "attn_k"},
                                         {"self_attn.v_proj", "attn_v"},
                                         {"self_attn.o_proj", "attn_output"}})
                b.as_is(h + hf + ".weight", g + gg + ".weight");
            b.norm_plus_one(h + "self_attn.q_norm.weight", g + "attn_q_norm.weight");
            b.norm_plus_one(h + "self_attn.k_norm.weight", g + "attn_k_norm.weight");
            continue;
        }
        const std::string a = h + "linear_attn.";
        b.tiled(a + "in_proj_qkv.weight", g + "attn_qkv.weight", 0, 2 * kd, d);
        b.tiled(a + "in_proj_z.weight", g + "attn_gate.weight", 0, 0, d);
        b.tiled(a + "in_proj_a.weight", g + "ssm_alpha.weight", 0, 0, 1);
        b.tiled(a + "in_proj_b.weight", g + "ssm_beta.weight", 0, 0, 1);
        b.tiled(a + "out_proj.weight", g + "ssm_out.weight", 1, 0, d);
        b.tiled(a + "dt_bias", g + "ssm_dt.bias", 0, 0, 1);
        b.as_is(a + "norm.weight", g + "ssm_norm.weight");
        {  // A_log -> -exp(A_log), value heads tiled
            const auto& t = b.get(a + "A_log");
            const auto v = b.floats(t);
            const std::size_t hv = v.size(), hk = static_cast<std::size_t>(c.ssm_key_heads), rep = hv / hk;
            std::vector<float> o(hv);
            for (std::size_t i = 0; i < hv; ++i) o[i] = -std::exp(v[(i % hk) * rep + i / hk]);
            b.put_floats(a + "A_log", g + "ssm_a", {hv}, o);
        }
        {  // conv1d [C, 1, K] -> [C, K], the value channels tiled
            const auto& t = b.get(a + "conv1d.weight");
            const auto shape = t.shape();
            if (shape.size() != 3 || shape[1] != 1)
                throw FormatError(folder + ": tensor " + b.prefix + a +
                                  "conv1d.weight is not [channels, 1, kernel]");
            const auto v = b.floats(t);
            const std::uint64_t C = shape[0], K = shape[2], hk = static_cast<std::uint64_t>(c.ssm_key_heads);
            const std::uint64_t rep = static_cast<std::uint64_t>(c.ssm_value_heads) / hk;
            std::vector<float> o(v.size());
            for (std::uint64_t ch = 0; ch < C; ++ch) {
                std::uint64_t src = ch;
                if (ch >= 2 * kd) {
                    const std::uint64_t k = ch - 2 * kd, u = k % d, head = k / d;
                    src = 2 * kd + ((head % hk) * rep + head / hk) * d + u;
                }
                std::memcpy(o.data() + ch * K, v.data() + src * K, K * sizeof(float));
            }
            b.put_floats(a + "conv1d.weight", g + "ssm_conv1d.weight", {C, K}, o);
        }
    }
}

}  // namespace ternspec
