// EAGLE-3 heads as GGUF: llama.cpp's `eagle3` layout (written, and read), and ternspec's earlier form that
// kept the checkpoint's tensor names (read). docs/eagle.md lists both.
#include <cstring>

#include "drafters/eagle_config.hpp"
#include "drafters/eagle_head.hpp"
#include "target/formats/dequantize.hpp"
#include "target/formats/gguf.hpp"
#include "target/io/json_fields.hpp"
#include "target/model/gguf_export.hpp"
#include "target/model/ternary_import.hpp"
#include "ternspec/error.hpp"

namespace ternspec {
namespace {

// Checkpoint name -> llama.cpp's (src/models/eagle3.cpp). t2d is not written: llama.cpp does not read it,
// and it follows from d2t.
const std::map<std::string, std::string>& llama_names() {
    static const std::map<std::string, std::string> m = {
        {"fc.weight", "fc.weight"},
        {"d2t", "d2t"},
        {"norm.weight", "output_norm.weight"},
        {"lm_head.weight", "output.weight"},
        {"embed_tokens.weight", "token_embd.weight"},
        {"midlayer.input_layernorm.weight", "blk.0.attn_norm.weight"},
        {"midlayer.hidden_norm.weight", "blk.0.attn_norm_2.weight"},
        {"midlayer.self_attn.q_proj.weight", "blk.0.attn_q.weight"},
        {"midlayer.self_attn.k_proj.weight", "blk.0.attn_k.weight"},
        {"midlayer.self_attn.v_proj.weight", "blk.0.attn_v.weight"},
        {"midlayer.self_attn.o_proj.weight", "blk.0.attn_output.weight"},
        {"midlayer.post_attention_layernorm.weight", "blk.0.ffn_norm.weight"},
        {"midlayer.mlp.gate_proj.weight", "blk.0.ffn_gate.weight"},
        {"midlayer.mlp.up_proj.weight", "blk.0.ffn_up.weight"},
        {"midlayer.mlp.down_proj.weight", "blk.0.ffn_down.weight"},
    };
    return m;
}

std::string checkpoint_name(const std::string& name) {
    // Some exporters name the layer layers.0 instead of midlayer.
    return name.rfind("layers.0.", 0) == 0 ? "midlayer." + name.substr(9) : name;
}

std::vector<std::uint8_t> encoded(const TensorRef& t, TensorType type) {
    if (t.shape.size() == 2 && type_info(type).ternary) return encode_ternary_exact(t, type, false);
    std::vector<float> v(t.n_elems());
    dequantize(t.type, t.data, v.data(), v.size());
    const TensorType to = t.shape.size() == 1 ? TensorType::F32 : type;
    std::vector<std::uint8_t> bytes(tensor_bytes(to, v.size(), t.name));
    quantize(to, v.data(), bytes.data(), v.size());
    return bytes;
}

struct GgufHeadFiles {  // what the tensors of a GGUF head point into
    std::shared_ptr<GgufFile> gguf;
    std::vector<std::int64_t> d2t_offsets;  // llama.cpp's absolute ids turned back into offsets
};

}  // namespace

EagleSource EagleSource::open_gguf(const std::string& path) {
    auto keep = std::make_shared<GgufHeadFiles>();
    keep->gguf = std::make_shared<GgufFile>(path);
    const GgufFile& g = *keep->gguf;
    const auto arch = g.get("general.architecture").as_string("general.architecture");
    if (arch != "eagle3")
        throw FormatError(path + ": general.architecture is " + arch + ", not eagle3 (an EAGLE-3 head)");
    auto u = [&](const std::string& k) { return g.get("eagle3." + k).as_int("eagle3." + k); };
    EagleSource src;
    src.path = path;
    src.config_origin = path;
    const bool llama = g.find("eagle3.target_layers") != nullptr;
    nlohmann::json& j = src.config;
    j = {{"architectures", {"LlamaForCausalLMEagle3"}},
         {"hidden_size", u("embedding_length")},
         {"intermediate_size", u("feed_forward_length")},
         {"num_attention_heads", u("attention.head_count")},
         {"num_key_value_heads", u("attention.head_count_kv")},
         {"head_dim", u("attention.key_length")},
         {"target_hidden_size", u("target_hidden_size")},
         {"rope_theta", g.get("eagle3.rope.freq_base").as_float("eagle3.rope.freq_base")},
         {"rms_norm_eps", g.get("eagle3.attention.layer_norm_rms_epsilon")
                              .as_float("eagle3.attention.layer_norm_rms_epsilon")}};
    for (const char* variant : {"norm_before_residual", "norm_before_fc"})
        if (const auto* v = g.find("eagle3." + std::string(variant)))
            j[variant] = v->as_bool("eagle3." + std::string(variant));
    const std::string ids_key = llama ? "eagle3.target_layers" : "eagle3.aux_hidden_state_layer_ids";
    // Absent (ternspec's form, for a checkpoint that listed none): the loader takes the published defaults.
    if (const auto* layers = g.find(ids_key)) {
        nlohmann::json ids = nlohmann::json::array();
        for (const auto& v : layers->as_array(ids_key)) ids.push_back(v.as_int(ids_key));
        j["eagle_config"] = {{"eagle_aux_hidden_state_layer_ids", ids}};
        // llama.cpp captures the stream entering each target layer (llama_context::extract_layer_inputs).
        if (llama)
            j["eagle_config"]["eagle_aux_hidden_state_layer_convention"] = "vllm";
        else if (const auto* conv = g.find("eagle3.aux_hidden_state_layer_convention"))
            j["eagle_config"]["eagle_aux_hidden_state_layer_convention"] =
                conv->as_string("eagle3.aux_hidden_state_layer_convention");
    }
    std::map<std::string, std::string> back;
    for (const auto& [ckpt, gguf_name] : llama_names()) back[gguf_name] = ckpt;
    for (const auto& t : g.tensors()) {
        std::string name = t.name;
        if (llama) {
            auto it = back.find(t.name);
            if (it == back.end())
                throw FormatError(path + ": tensor " + t.name + " is not part of llama.cpp's eagle3 layout");
            name = it->second;
        }
        src.tensors[name] = {name, t.name, t.type, t.shape, g.tensor_data(t), t.n_bytes, path};
    }
    if (llama) {
        // Vocabulary sizes: the tokenizer's (llama.cpp sizes the target vocabulary so) and d2t's length.
        const auto* tokens = g.find("tokenizer.ggml.tokens");
        j["vocab_size"] =
            g.find("eagle3.vocab_size")
                ? u("vocab_size")
                : (tokens ? static_cast<std::int64_t>(tokens->array_size("tokenizer.ggml.tokens"))
                          : std::int64_t{0});
        auto it = src.tensors.find("d2t");
        if (it != src.tensors.end()) {
            const auto ids = import_ints(it->second);
            keep->d2t_offsets.resize(ids.size());
            for (std::size_t i = 0; i < ids.size(); ++i)
                keep->d2t_offsets[i] = ids[i] - static_cast<std::int64_t>(i);
            it->second.type = TensorType::I64;
            it->second.data = reinterpret_cast<const std::uint8_t*>(keep->d2t_offsets.data());
            it->second.n_bytes = keep->d2t_offsets.size() * 8;
            j["draft_vocab_size"] = ids.size();
        } else {
            j["draft_vocab_size"] = j["vocab_size"];
        }
    } else {
        j["vocab_size"] = u("vocab_size");
        j["draft_vocab_size"] = u("draft_vocab_size");
    }
    src.keep = keep;
    return src;
}

void write_eagle_gguf(const EagleSource& in, const std::string& out, TensorType type,
                      const EagleGgufTarget& target) {
    if (type != TensorType::F32 && type != TensorType::F16 && type != TensorType::BF16 &&
        !type_info(type).ternary)
        throw InputError(
            "an EAGLE-3 head is written as f32, f16, bf16 or (exactly ternary heads) a ternary type");
    const auto& j = in.config;
    auto num = [&](const char* key, long long fallback) -> long long {
        if (j.contains(key) && j[key].is_number_integer()) return j[key].get<long long>();
        if (fallback < 0) throw FormatError(in.config_origin + ": lacks " + key);
        return fallback;
    };
    for (const char* variant : {"fc_norm", "norm_before_residual", "norm_before_fc"})
        if (json_bool_field(j, variant, in.config_origin, false))
            throw FormatError(in.config_origin + ": " + variant +
                              " is true; ternspec's EAGLE-3 head implements the variant without it");
    GgufWriter w;
    w.set("general.architecture", GgufValue::str("eagle3"));
    w.set("general.alignment", GgufValue::u32(32));
    const auto hidden = num("hidden_size", -1), heads = num("num_attention_heads", -1);
    const auto head_dim = num("head_dim", hidden / heads), vocab = num("vocab_size", -1);
    auto u32 = [&](const std::string& k, long long v) {
        w.set("eagle3." + k, GgufValue::u32(static_cast<std::uint32_t>(v)));
    };
    u32("context_length", target.context_length);
    u32("embedding_length", hidden);
    u32("feed_forward_length", num("intermediate_size", -1));
    u32("block_count", 1);
    u32("attention.head_count", heads);
    u32("attention.head_count_kv", num("num_key_value_heads", heads));
    u32("attention.key_length", head_dim);
    u32("attention.value_length", head_dim);
    u32("vocab_size", vocab);
    u32("target_hidden_size", num("target_hidden_size", hidden));
    w.set("eagle3.rope.freq_base", GgufValue::f32(j.value("rope_theta", 10000.0f)));
    w.set("eagle3.attention.layer_norm_rms_epsilon", GgufValue::f32(j.value("rms_norm_eps", 1e-6f)));
    // Absolute target layers in the stream-entering convention llama.cpp reads, whatever the checkpoint's.
    std::vector<GgufValue> layers;
    for (int l : aux_layers_for(j, in.config_origin, target.n_layers, ""))
        layers.push_back(GgufValue::i32(l));
    w.set("eagle3.target_layers", GgufValue::array(GgufType::I32, std::move(layers)));
    if (target.tokenizer) target.tokenizer->write_gguf_metadata(w, static_cast<std::size_t>(vocab));
    for (const auto& [source, t] : in.tensors) {
        const std::string name = checkpoint_name(source);
        if (name == "t2d") continue;
        auto it = llama_names().find(name);
        if (it == llama_names().end())
            throw FormatError(in.config_origin + ": tensor " + source + " is not part of an EAGLE-3 head");
        if (name == "d2t") {  // llama.cpp reads absolute target ids
            auto ids = import_ints(t);
            for (std::size_t i = 0; i < ids.size(); ++i) {
                ids[i] += static_cast<std::int64_t>(i);
                if (ids[i] < 0 || ids[i] >= vocab)
                    throw FormatError(in.config_origin + ": d2t maps draft id " + std::to_string(i) +
                                      " outside the target vocabulary");
            }
            std::vector<std::uint8_t> bytes(ids.size() * 8);
            std::memcpy(bytes.data(), ids.data(), bytes.size());
            w.add_tensor("d2t", TensorType::I64, t.shape, std::move(bytes));
            continue;
        }
        const TensorType to = t.shape.size() == 1 ? TensorType::F32 : type;
        w.add_tensor(it->second, to, t.shape, encoded(t, type));
    }
    w.write(out);
}

}  // namespace ternspec
