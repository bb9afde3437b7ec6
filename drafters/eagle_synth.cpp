// `synth --eagle3`: random EAGLE-3 heads at the published shapes, to measure what drafting costs there.
#include <cmath>
#include <cstring>
#include <random>

#include "drafters/eagle_head.hpp"
#include "target/formats/dequantize.hpp"
#include "target/model/gguf_export.hpp"
#include "ternspec/error.hpp"

namespace ternspec {

void synth_eagle3(const std::string& out, const ModelConfig& c, int draft_vocab, TensorType type,
                  std::uint64_t seed) {
    if (draft_vocab < 1 || draft_vocab > c.vocab_size)
        throw InputError("--eagle-draft-vocab must be between 1 and the vocabulary (" +
                         std::to_string(c.vocab_size) + ")");
    const bool ternary = type_info(type).ternary;
    if (!ternary && type != TensorType::F16 && type != TensorType::BF16 && type != TensorType::F32)
        throw InputError("an EAGLE-3 head is written as f32, f16, bf16 or a ternary type");
    std::mt19937_64 rng(seed ^ 0x6561676c65ULL);
    const int H = c.hidden_size, I = c.intermediate_size, QD = c.n_heads * c.head_dim,
              KD = c.n_kv_heads * c.head_dim;
    EagleSource src;
    src.path = out;
    src.config_origin = out;
    src.config = {{"architectures", {"LlamaForCausalLMEagle3"}},
                  {"hidden_size", H},
                  {"intermediate_size", I},
                  {"num_attention_heads", c.n_heads},
                  {"num_key_value_heads", c.n_kv_heads},
                  {"head_dim", c.head_dim},
                  {"vocab_size", c.vocab_size},
                  {"draft_vocab_size", draft_vocab},
                  {"target_hidden_size", H},
                  {"rope_theta", c.rope_theta},
                  {"rms_norm_eps", c.rms_eps}};
    auto store = std::make_shared<std::vector<std::vector<std::uint8_t>>>();
    auto add = [&](const std::string& name, TensorType t, std::vector<std::uint64_t> shape,
                   std::vector<std::uint8_t> bytes) {
        store->push_back(std::move(bytes));
        const auto& b = store->back();
        src.tensors[name] = {name, name, t, std::move(shape), b.data(), b.size(), out};
    };
    auto matrix = [&](const std::string& name, int rows, int cols) {
        const auto shape =
            std::vector<std::uint64_t>{static_cast<std::uint64_t>(rows), static_cast<std::uint64_t>(cols)};
        if (ternary) {
            add(name, type, shape, random_matrix(type, rows, cols, rng));
            return;
        }
        std::normal_distribution<float> normal(0.0f, 1.0f / std::sqrt(static_cast<float>(cols)));
        std::vector<float> v(static_cast<std::size_t>(rows) * cols);
        for (auto& x : v) x = normal(rng);
        std::vector<std::uint8_t> bytes(v.size() * sizeof(float));
        std::memcpy(bytes.data(), v.data(), bytes.size());
        add(name, TensorType::F32, shape, std::move(bytes));
    };
    auto norm = [&](const std::string& name) {
        std::vector<float> v(static_cast<std::size_t>(H), 1.0f);
        std::vector<std::uint8_t> bytes(v.size() * sizeof(float));
        std::memcpy(bytes.data(), v.data(), bytes.size());
        add(name, TensorType::F32, {static_cast<std::uint64_t>(H)}, std::move(bytes));
    };
    matrix("fc.weight", H, 3 * H);
    matrix("midlayer.self_attn.q_proj.weight", QD, 2 * H);
    matrix("midlayer.self_attn.k_proj.weight", KD, 2 * H);
    matrix("midlayer.self_attn.v_proj.weight", KD, 2 * H);
    matrix("midlayer.self_attn.o_proj.weight", H, QD);
    matrix("midlayer.mlp.gate_proj.weight", I, H);
    matrix("midlayer.mlp.up_proj.weight", I, H);
    matrix("midlayer.mlp.down_proj.weight", H, I);
    matrix("lm_head.weight", draft_vocab, H);
    for (const char* n : {"midlayer.input_layernorm.weight", "midlayer.hidden_norm.weight",
                          "midlayer.post_attention_layernorm.weight", "norm.weight"})
        norm(n);
    // d2t = 0: draft id i is target id i (the first ids stand in for the most frequent ones).
    add("d2t", TensorType::I64, {static_cast<std::uint64_t>(draft_vocab)},
        std::vector<std::uint8_t>(static_cast<std::size_t>(draft_vocab) * 8, 0));
    src.keep = store;
    const Tokenizer tok = synth_tokenizer();
    write_eagle_gguf(src, out, type, {&tok, c.n_layers, c.context_length});
}

}  // namespace ternspec
