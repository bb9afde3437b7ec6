#pragma once
// Qwen3 hyper-parameters, read from GGUF `qwen3.*` keys or an HF config.json.
#include <cstdint>
#include <string>
#include <vector>

namespace ternspec {

struct ModelConfig {
    std::string architecture = "qwen3";
    std::int32_t vocab_size = 0;
    std::int32_t hidden_size = 0;
    std::int32_t intermediate_size = 0;
    std::int32_t n_layers = 0;
    std::int32_t n_heads = 0;
    std::int32_t n_kv_heads = 0;
    std::int32_t head_dim = 0;
    std::int32_t context_length = 0;
    float rope_theta = 1e6f;
    float rms_eps = 1e-6f;
    bool tied_embeddings = true;

    // Qwen3.5's hybrid ("qwen35"): Gated DeltaNet (GDN) layers, with a recurrent state, between gated
    // full-attention layers (attn_q emits [query | gate] per head; RoPE on the first rope_dims dims).
    std::int32_t rope_dims = 0;                  // 0: head_dim
    std::vector<std::uint8_t> recurrent_layers;  // per layer: 1 for GDN; empty for qwen3
    std::int32_t ssm_conv_kernel = 0;            // depthwise causal conv width over q, k, v
    std::int32_t ssm_head_dim = 0;               // key and value head size (state_size)
    std::int32_t ssm_key_heads = 0;              // group_count
    std::int32_t ssm_value_heads = 0;  // time_step_rank; value head h reads key head h % ssm_key_heads

    bool hybrid() const { return architecture == "qwen35"; }
    bool is_recurrent(int layer) const {
        return !recurrent_layers.empty() && recurrent_layers[static_cast<std::size_t>(layer)] != 0;
    }
    int rotary_dims() const { return rope_dims > 0 ? rope_dims : head_dim; }
    // Layers that keep keys and values (all of a qwen3 model, the full-attention ones of a hybrid), and a
    // layer's index among them (-1 for a GDN layer).
    int kv_layers() const;
    int kv_index(int layer) const;
    int recurrent_index(int layer) const;  // index among the GDN layers, -1 otherwise
    int recurrent_count() const;
    std::int32_t ssm_conv_channels() const { return (2 * ssm_key_heads + ssm_value_heads) * ssm_head_dim; }

    // Throws FormatError naming `what` when a value is missing, non-positive or inconsistent.
    void validate(const std::string& what) const;
};

}  // namespace ternspec
