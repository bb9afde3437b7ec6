#include "target/model/model_config.hpp"

#include "ternspec/error.hpp"

namespace ternspec {

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
    if (!(rope_theta > 0) || !(rms_eps > 0))
        throw FormatError(what + ": rope_theta and rms_norm_eps must be positive");
}

}  // namespace ternspec
