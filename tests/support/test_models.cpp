#include "tests/support/test_models.hpp"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "target/formats/dequantize.hpp"
#include "target/formats/gguf.hpp"
#include "target/formats/safetensors.hpp"
#include "target/model/gguf_export.hpp"
#include "target/model/model_files.hpp"
#include "target/tokenizer/regex_splitter.hpp"

namespace ternspec::fixtures {
namespace fs = std::filesystem;

std::string temp_dir() {
    const char* env = std::getenv("TERNSPEC_TEST_TMP");
    fs::path p = env ? env : TERNSPEC_TEST_TMP;
    fs::create_directories(p);
    return p.string();
}

std::string temp_path(const std::string& name) { return (fs::path(temp_dir()) / name).string(); }

std::string tiny_gguf(const std::string& name, TensorType type, std::uint64_t seed) {
    const auto path = temp_path(name + ".gguf");
    synth_model(path, synth_shape("tiny"), type, seed);
    return path;
}

std::string hf_folder_from_gguf(const std::string& gguf, const std::string& name) {
    const auto dir = temp_path(name);
    fs::create_directories(dir);
    const auto mf = ModelFiles::open(gguf);
    const auto& c = mf.config();
    static const std::map<std::string, std::string> to_hf = {
        {"token_embd.weight", "model.embed_tokens.weight"}, {"output_norm.weight", "model.norm.weight"}};
    static const std::map<std::string, std::string> sub = {
        {"attn_norm", "input_layernorm"},    {"ffn_norm", "post_attention_layernorm"}, {"attn_q", "self_attn.q_proj"},
        {"attn_k", "self_attn.k_proj"},      {"attn_v", "self_attn.v_proj"},          {"attn_output", "self_attn.o_proj"},
        {"attn_q_norm", "self_attn.q_norm"}, {"attn_k_norm", "self_attn.k_norm"},     {"ffn_gate", "mlp.gate_proj"},
        {"ffn_up", "mlp.up_proj"},           {"ffn_down", "mlp.down_proj"}};
    std::vector<SafetensorsWriterTensor> tensors;
    for (const auto& [name_g, t] : mf.tensors()) {
        std::string hf;
        if (auto it = to_hf.find(name_g); it != to_hf.end()) {
            hf = it->second;
        } else {
            const auto l = name_g.substr(4, name_g.find('.', 4) - 4);
            const auto part = name_g.substr(5 + l.size(), name_g.size() - 5 - l.size() - 7);
            hf = "model.layers." + l + "." + sub.at(part) + ".weight";
        }
        std::vector<float> v(t.n_elems());
        dequantize(t.type, t.data, v.data(), v.size());
        SafetensorsWriterTensor w{hf, TensorType::F16, t.shape, std::vector<std::uint8_t>(v.size() * 2)};
        quantize(TensorType::F16, v.data(), w.data.data(), v.size());
        tensors.push_back(std::move(w));
    }
    write_safetensors(dir + "/model.safetensors", tensors, {{"format", "pt"}});
    nlohmann::json cfg = {{"architectures", {"Qwen3ForCausalLM"}}, {"model_type", "qwen3"}, {"vocab_size", c.vocab_size},
                          {"hidden_size", c.hidden_size}, {"intermediate_size", c.intermediate_size},
                          {"num_hidden_layers", c.n_layers}, {"num_attention_heads", c.n_heads},
                          {"num_key_value_heads", c.n_kv_heads}, {"head_dim", c.head_dim}, {"rope_theta", c.rope_theta},
                          {"rms_norm_eps", c.rms_eps}, {"max_position_embeddings", c.context_length},
                          {"tie_word_embeddings", true}};
    std::ofstream(dir + "/config.json") << cfg.dump(1);
    // tokenizer.json: the GGUF's vocabulary written back in Hugging Face's layout.
    GgufFile g(gguf);
    nlohmann::json vocab = nlohmann::json::object();
    const auto& toks = g.get("tokenizer.ggml.tokens").as_array("t");
    const auto& types = g.get("tokenizer.ggml.token_type").as_array("t");
    nlohmann::json added = nlohmann::json::array();
    for (std::size_t i = 0; i < toks.size(); ++i) {
        if (types[i].as_int("t") == 3)
            added.push_back({{"id", i}, {"content", toks[i].as_string("t")}, {"special", true}});
        else
            vocab[toks[i].as_string("t")] = i;
    }
    nlohmann::json merges = nlohmann::json::array();
    for (const auto& m : g.get("tokenizer.ggml.merges").as_array("t")) merges.push_back(m.as_string("t"));
    nlohmann::json tok = {
        {"added_tokens", added},
        {"normalizer", {{"type", "NFC"}}},
        {"pre_tokenizer",
         {{"type", "Sequence"},
          {"pretokenizers",
           {{{"type", "Split"}, {"pattern", {{"Regex", ternspec::kQwen2Pattern}}}, {"behavior", "Isolated"}},
            {{"type", "ByteLevel"}, {"use_regex", false}}}}}},
        {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", merges}}}};
    std::ofstream(dir + "/tokenizer.json") << tok.dump();
    return dir;
}

std::string shipped_model() {
    const fs::path models = fs::path(TERNSPEC_SOURCE_DIR) / "models";
    if (!fs::exists(models)) return "";
    for (const auto& e : fs::directory_iterator(models))
        if (e.is_directory() && fs::exists(e.path() / "config.json") && fs::exists(e.path() / "model.safetensors"))
            return e.path().string();
    return "";
}

}  // namespace ternspec::fixtures
