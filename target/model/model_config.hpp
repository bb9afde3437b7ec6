#pragma once
// Qwen3 hyper-parameters, read from GGUF `qwen3.*` keys or an HF config.json.
#include <cstdint>
#include <string>

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

    // Throws FormatError naming `what` when a value is missing, non-positive or inconsistent.
    void validate(const std::string& what) const;
};

}  // namespace ternspec
