#include "tests/support/test_models.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>

#include "runtime/speculative_decoder.hpp"
#include "target/formats/dequantize.hpp"
#include "target/formats/gguf.hpp"
#include "target/formats/safetensors.hpp"
#include "target/io/half.hpp"
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

std::string temp_path(const std::string& name) {
    return (fs::path(temp_dir()) / name).string();
}

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
        {"attn_norm", "input_layernorm"},    {"ffn_norm", "post_attention_layernorm"},
        {"attn_q", "self_attn.q_proj"},      {"attn_k", "self_attn.k_proj"},
        {"attn_v", "self_attn.v_proj"},      {"attn_output", "self_attn.o_proj"},
        {"attn_q_norm", "self_attn.q_norm"}, {"attn_k_norm", "self_attn.k_norm"},
        {"ffn_gate", "mlp.gate_proj"},       {"ffn_up", "mlp.up_proj"},
        {"ffn_down", "mlp.down_proj"}};
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
    nlohmann::json cfg = {{"architectures", {"Qwen3ForCausalLM"}},
                          {"model_type", "qwen3"},
                          {"vocab_size", c.vocab_size},
                          {"hidden_size", c.hidden_size},
                          {"intermediate_size", c.intermediate_size},
                          {"num_hidden_layers", c.n_layers},
                          {"num_attention_heads", c.n_heads},
                          {"num_key_value_heads", c.n_kv_heads},
                          {"head_dim", c.head_dim},
                          {"rope_theta", c.rope_theta},
                          {"rms_norm_eps", c.rms_eps},
                          {"max_position_embeddings", c.context_length},
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
    std::ofstream(dir + "/tokenizer.json") << qwen2_tokenizer_json(vocab, added, merges);
    return dir;
}

std::string shipped_model() {
    // The Qwen3 model by name: models/ also holds drafters and the hybrid, and a directory's order is
    // arbitrary.
    const fs::path model = fs::path(TERNSPEC_SOURCE_DIR) / "models" / "tern-pystd-7m";
    return fs::exists(model / "tokenizer.json") && fs::exists(model / "model.safetensors") ? model.string()
                                                                                           : "";
}

std::string random_eagle_head(const std::string& target_gguf, const std::string& name, int draft_vocab,
                              std::uint64_t seed) {
    const auto mf = ModelFiles::open(target_gguf);
    const auto& c = mf.config();
    const int H = c.hidden_size, I = 384, heads = 4, kv = 2, hd = H / heads;
    const auto dir = temp_path(name);
    fs::create_directories(dir);
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> n(0.0f, 1.0f);
    std::vector<SafetensorsWriterTensor> ts;
    auto add = [&](const std::string& t, std::vector<std::uint64_t> shape, float scale, bool ones = false) {
        std::uint64_t count = 1;
        for (auto d : shape) count *= d;
        std::vector<float> v(count);
        for (auto& x : v) x = ones ? 1.0f : n(rng) * scale;
        SafetensorsWriterTensor w{t, TensorType::BF16, shape, std::vector<std::uint8_t>(count * 2)};
        quantize(TensorType::BF16, v.data(), w.data.data(), count);
        ts.push_back(std::move(w));
    };
    const auto h = static_cast<std::uint64_t>(H);
    add("fc.weight", {h, 3 * h}, 1.0f / std::sqrt(3.0f * H));
    add("midlayer.input_layernorm.weight", {h}, 0, true);
    add("midlayer.hidden_norm.weight", {h}, 0, true);
    add("midlayer.post_attention_layernorm.weight", {h}, 0, true);
    add("midlayer.self_attn.q_proj.weight", {static_cast<std::uint64_t>(heads * hd), 2 * h},
        1.0f / std::sqrt(2.0f * H));
    add("midlayer.self_attn.k_proj.weight", {static_cast<std::uint64_t>(kv * hd), 2 * h},
        1.0f / std::sqrt(2.0f * H));
    add("midlayer.self_attn.v_proj.weight", {static_cast<std::uint64_t>(kv * hd), 2 * h},
        1.0f / std::sqrt(2.0f * H));
    add("midlayer.self_attn.o_proj.weight", {h, static_cast<std::uint64_t>(heads * hd)},
        1.0f / std::sqrt(static_cast<float>(H)));
    add("midlayer.mlp.gate_proj.weight", {static_cast<std::uint64_t>(I), h},
        1.0f / std::sqrt(static_cast<float>(H)));
    add("midlayer.mlp.up_proj.weight", {static_cast<std::uint64_t>(I), h},
        1.0f / std::sqrt(static_cast<float>(H)));
    add("midlayer.mlp.down_proj.weight", {h, static_cast<std::uint64_t>(I)},
        1.0f / std::sqrt(static_cast<float>(I)));
    add("norm.weight", {h}, 0, true);
    add("lm_head.weight", {static_cast<std::uint64_t>(draft_vocab), h}, 1.0f);
    // Draft id i stands for target id 2i (+ d2t[i] = i), so the mapping is exercised.
    std::vector<float> d2t(static_cast<std::size_t>(draft_vocab)),
        t2d(static_cast<std::size_t>(c.vocab_size), 0.0f);
    for (int i = 0; i < draft_vocab; ++i) {
        d2t[static_cast<std::size_t>(i)] = static_cast<float>(i);
        t2d[static_cast<std::size_t>(2 * i)] = 1.0f;
    }
    SafetensorsWriterTensor d{"d2t",
                              TensorType::I64,
                              {static_cast<std::uint64_t>(draft_vocab)},
                              std::vector<std::uint8_t>(static_cast<std::size_t>(draft_vocab) * 8)};
    quantize(TensorType::I64, d2t.data(), d.data.data(), d2t.size());
    SafetensorsWriterTensor t{"t2d",
                              TensorType::I8,
                              {static_cast<std::uint64_t>(c.vocab_size)},
                              std::vector<std::uint8_t>(static_cast<std::size_t>(c.vocab_size))};
    quantize(TensorType::I8, t2d.data(), t.data.data(), t2d.size());
    ts.push_back(std::move(d));
    ts.push_back(std::move(t));
    write_safetensors(dir + "/model.safetensors", ts);
    nlohmann::json cfg = {{"architectures", {"LlamaForCausalLMEagle3"}},
                          {"hidden_size", H},
                          {"intermediate_size", I},
                          {"num_attention_heads", heads},
                          {"num_key_value_heads", kv},
                          {"head_dim", hd},
                          {"vocab_size", c.vocab_size},
                          {"draft_vocab_size", draft_vocab},
                          {"target_hidden_size", H},
                          {"rope_theta", 10000.0},
                          {"rms_norm_eps", 1e-6},
                          {"eagle_config", {{"eagle_aux_hidden_state_layer_ids", {0, 1, 2}}}}};
    std::ofstream(dir + "/config.json") << cfg.dump(1);
    return dir;
}

std::string random_mtp_sidecar(const std::string& target_gguf, const std::string& name, int depth,
                               std::uint64_t seed) {
    const auto mf = ModelFiles::open(target_gguf);
    const auto& c = mf.config();
    const auto dir = temp_path(name);
    fs::create_directories(dir);
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> n(0.0f, 1.0f);
    std::vector<SafetensorsWriterTensor> ts;
    auto f16 = [&](const std::string& t, std::vector<std::uint64_t> shape, std::vector<float> v) {
        SafetensorsWriterTensor w{t, TensorType::F16, std::move(shape),
                                  std::vector<std::uint8_t>(v.size() * 2)};
        quantize(TensorType::F16, v.data(), w.data.data(), v.size());
        ts.push_back(std::move(w));
    };
    // Exactly ternary per group of 128 with fp16-exact scales, as the trainer exports.
    auto ternary = [&](const std::string& t, std::uint64_t rows, std::uint64_t cols) {
        std::vector<float> v(rows * cols);
        const float base = 1.0f / std::sqrt(2.0f / 3.0f * static_cast<float>(cols));
        for (std::size_t g = 0; g < v.size() / 128; ++g) {
            const float s = half_to_float(float_to_half(base * (1.0f + 0.2f * n(rng))));
            for (std::size_t j = 0; j < 128; ++j)
                v[g * 128 + j] = static_cast<float>(static_cast<int>(rng() % 3) - 1) * s;
        }
        f16(t, {rows, cols}, std::move(v));
    };
    auto norm = [&](const std::string& t, std::uint64_t len) {
        std::vector<float> v(len);
        for (auto& x : v) x = 1.0f + 0.1f * n(rng);
        f16(t, {len}, std::move(v));
    };
    const auto H = static_cast<std::uint64_t>(c.hidden_size),
               I = static_cast<std::uint64_t>(c.intermediate_size);
    const auto QD = static_cast<std::uint64_t>(c.n_heads * c.head_dim),
               KD = static_cast<std::uint64_t>(c.n_kv_heads * c.head_dim);
    for (int d = 0; d < depth; ++d) {
        const std::string p = "model.layers." + std::to_string(c.n_layers + d) + ".";
        norm(p + "enorm.weight", H);
        norm(p + "hnorm.weight", H);
        ternary(p + "eh_proj.weight", H, 2 * H);
        norm(p + "shared_head.norm.weight", H);
        norm(p + "input_layernorm.weight", H);
        norm(p + "post_attention_layernorm.weight", H);
        norm(p + "self_attn.q_norm.weight", static_cast<std::uint64_t>(c.head_dim));
        norm(p + "self_attn.k_norm.weight", static_cast<std::uint64_t>(c.head_dim));
        ternary(p + "self_attn.q_proj.weight", QD, H);
        ternary(p + "self_attn.k_proj.weight", KD, H);
        ternary(p + "self_attn.v_proj.weight", KD, H);
        ternary(p + "self_attn.o_proj.weight", H, QD);
        ternary(p + "mlp.gate_proj.weight", I, H);
        ternary(p + "mlp.up_proj.weight", I, H);
        ternary(p + "mlp.down_proj.weight", H, I);
    }
    write_safetensors(dir + "/model.safetensors", ts, {{"format", "pt"}});
    nlohmann::json cfg = {{"architectures", {"Qwen3MTPSidecar"}},
                          {"model_type", "qwen3_mtp"},
                          {"num_nextn_predict_layers", depth},
                          {"num_hidden_layers", c.n_layers},
                          {"hidden_size", c.hidden_size},
                          {"intermediate_size", c.intermediate_size},
                          {"num_attention_heads", c.n_heads},
                          {"num_key_value_heads", c.n_kv_heads},
                          {"head_dim", c.head_dim},
                          {"vocab_size", c.vocab_size},
                          {"rope_theta", c.rope_theta},
                          {"rms_norm_eps", c.rms_eps},
                          {"shared_embedding", true},
                          {"shared_lm_head", true}};
    std::ofstream(dir + "/config.json") << cfg.dump(1);
    return dir;
}

void expect_sibling_drafts_like_fresh(const std::shared_ptr<const Qwen3Model>& m, Drafter& prototype,
                                      Drafter& sibling, Drafter& fresh, DraftBudget budget) {
    DecodeOptions d;
    d.max_new_tokens = 24;
    d.stop_at_eos = false;
    d.budget = budget;
    const auto prompt = m->tokenizer().encode("abc abd abe abc abd");
    const auto a = SpeculativeDecoder(m, &prototype).run(prompt, d);
    const auto b = SpeculativeDecoder(m, &sibling).run(prompt, d);
    const auto c = SpeculativeDecoder(m, &fresh).run(prompt, d);
    EXPECT_EQ(b.tokens, c.tokens);
    EXPECT_EQ(b.stats.drafted, c.stats.drafted);
    EXPECT_EQ(b.stats.accepted, c.stats.accepted);
    EXPECT_EQ(a.tokens, c.tokens);
    EXPECT_GT(c.stats.drafted, 0);
}

HiddenRows target_hidden(const Qwen3Model& m, KvCache& cache, std::span<const std::int32_t> toks,
                         const std::vector<int>& layers) {
    std::vector<std::int32_t> pos(toks.size());
    std::iota(pos.begin(), pos.end(), cache.size());
    ForwardInput in;
    in.tokens = toks;
    in.positions = pos;
    in.hidden_layers = layers;
    in.no_logits = true;
    return m.forward(cache, in).hidden;
}

void expect_restart_proposes(const DraftTree& incremental, Drafter& fresh, const Qwen3Model& m,
                             std::span<const std::int32_t> ctx, const std::vector<int>& layers,
                             DraftBudget budget) {
    KvCache cache = m.make_cache(256);
    const auto verified = ctx.first(ctx.size() - 1);
    auto all = target_hidden(m, cache, verified, layers);
    fresh.begin(verified, &all);
    const auto restart = fresh.propose(ctx, budget);
    EXPECT_EQ(incremental.tokens, restart.tokens) << "tree " << budget.max_nodes;
    EXPECT_EQ(incremental.parents, restart.parents) << "tree " << budget.max_nodes;
}

void expect_lossless_drafter(const std::shared_ptr<const Qwen3Model>& m, const std::string& name,
                             const DrafterOptions& o, std::span<const std::int32_t> prompt,
                             int max_new_tokens, std::initializer_list<int> ks,
                             std::initializer_list<int> trees,
                             const std::function<void(const DecodeResult&, int k)>& check) {
    DecodeOptions plain;
    plain.max_new_tokens = max_new_tokens;
    plain.stop_at_eos = false;
    const auto want = SpeculativeDecoder(m, nullptr).run(prompt, plain).tokens;
    for (const int k : ks)
        for (const int tree : trees) {
            auto d = create_drafter(name, o, m);
            DecodeOptions opt = plain;
            opt.budget = {k, tree};
            const auto r = SpeculativeDecoder(m, d.get()).run(prompt, opt);
            EXPECT_EQ(r.tokens, want) << name << " k " << k << " tree " << tree;
            EXPECT_GT(r.stats.drafted, 0) << name << " k " << k << " tree " << tree;
            if (check) check(r, k);
        }
}

void expect_close_logits(const std::vector<double>& want, const float* got, const std::string& where,
                         double max_error) {
    double dot = 0, na = 0, nb = 0, max_err = 0, scale = 0;
    std::size_t arg_want = 0, arg_got = 0;
    for (std::size_t i = 0; i < want.size(); ++i) {
        dot += want[i] * got[i];
        na += want[i] * want[i];
        nb += static_cast<double>(got[i]) * got[i];
        max_err = std::max(max_err, std::fabs(want[i] - got[i]));
        scale = std::max(scale, std::fabs(want[i]));
        if (want[i] > want[arg_want]) arg_want = i;
        if (got[i] > got[arg_got]) arg_got = i;
    }
    EXPECT_GE(dot / std::sqrt(na * nb), 0.999) << where;
    const double bound = max_error * scale;
    EXPECT_LE(max_err, bound) << where << " (largest |logit| " << scale << ")";
    double second = -1e300;
    for (std::size_t i = 0; i < want.size(); ++i)
        if (i != arg_want) second = std::max(second, want[i]);
    if (want[arg_want] - second > 2 * bound) {
        EXPECT_EQ(arg_got, arg_want) << where;
    }
}

}  // namespace ternspec::fixtures
