#include "target/model/model_config.hpp"

#include <cmath>

#include "ternspec/error.hpp"

namespace ternspec {

int ModelConfig::kv_layers() const {
    return n_layers - recurrent_count();
}

int ModelConfig::kv_index(int layer) const {
    if (is_recurrent(layer)) return -1;
    int k = 0;
    for (int l = 0; l < layer; ++l) k += is_recurrent(l) ? 0 : 1;
    return k;
}

int ModelConfig::recurrent_index(int layer) const {
    if (!is_recurrent(layer)) return -1;
    int k = 0;
    for (int l = 0; l < layer; ++l) k += is_recurrent(l) ? 1 : 0;
    return k;
}

int ModelConfig::recurrent_count() const {
    int k = 0;
    for (const auto r : recurrent_layers) k += r ? 1 : 0;
    return k;
}

void ModelConfig::validate(const std::string& what) const {
    auto positive = [&](std::int64_t v, const char* name, std::int64_t limit) {
        if (v <= 0 || v > limit)
            throw FormatError(what + ": " + name + " = " + std::to_string(v) + " is out of range (1.." +
                              std::to_string(limit) + ")");
    };
    positive(vocab_size, "vocab_size", 1 << 22);
    positive(hidden_size, "hidden_size", 1 << 16);
    positive(intermediate_size, "intermediate_size", 1 << 18);
    positive(n_layers, "num_hidden_layers", 1024);
    positive(n_heads, "num_attention_heads", 1024);
    positive(n_kv_heads, "num_key_value_heads", 1024);
    positive(head_dim, "head_dim", 1024);
    positive(context_length, "context_length", 1 << 22);
    if (n_heads % n_kv_heads != 0)
        throw FormatError(what + ": num_attention_heads " + std::to_string(n_heads) +
                          " is not a multiple of num_key_value_heads " + std::to_string(n_kv_heads));
    if (head_dim % 2 != 0) throw FormatError(what + ": head_dim must be even for RoPE");
    // inf or 1e300 (inf as a float) would turn every rotation or norm into NaN or zero, silently.
    if (!std::isfinite(rope_theta) || !(rope_theta > 1) || rope_theta > 1e12f)
        throw FormatError(what + ": rope_theta " + std::to_string(rope_theta) +
                          " is not a finite value in (1, 1e12]");
    if (!std::isfinite(rms_eps) || !(rms_eps > 0) || rms_eps > 1e-1f)
        throw FormatError(what + ": rms_norm_eps " + std::to_string(rms_eps) +
                          " is not a finite value in (0, 0.1]");
    if (rope_dims < 0 || rope_dims > head_dim || rope_dims % 2 != 0)
        throw FormatError(what + ": rope.dimension_count " + std::to_string(rope_dims) +
                          " must be even and at most head_dim " + std::to_string(head_dim));
    if (!hybrid()) return;
    if (static_cast<int>(recurrent_layers.size()) != n_layers)
        throw FormatError(what + ": the layer pattern has " + std::to_string(recurrent_layers.size()) +
                          " entries for " + std::to_string(n_layers) + " layers");
    positive(ssm_conv_kernel, "ssm.conv_kernel", 64);
    positive(ssm_head_dim, "ssm.state_size", 1024);
    positive(ssm_key_heads, "ssm.group_count", 1024);
    positive(ssm_value_heads, "ssm.time_step_rank", 1024);
    if (ssm_value_heads % ssm_key_heads != 0)
        throw FormatError(what + ": ssm.time_step_rank (value heads) " + std::to_string(ssm_value_heads) +
                          " is not a multiple of ssm.group_count (key heads) " +
                          std::to_string(ssm_key_heads));
}

}  // namespace ternspec
