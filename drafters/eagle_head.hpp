#pragma once
// The EAGLE-3 draft head, as SpecForge and the EAGLE reference publish it:
//   g = fc(concat(target hidden at three layers))            (or, after the first step, the head's own
//   output) x = concat(input_layernorm(embed(token)), hidden_norm(g))  embedding first, 2H wide h = g +
//   o_proj(attn(q,k,v from x))                         one Llama layer, RoPE, GQA, no q/k norm out = h +
//   mlp(post_attention_layernorm(h))                 fed back as g for the next draft step logits =
//   lm_head(norm(out)) over the draft vocabulary; draft id i is target id i + d2t[i].
// Layer ids (eagle_aux_hidden_state_layer_ids) name the residual stream *entering* that target layer, as
// vLLM captures them; absent ids default to (2, L/2, L-3). docs/eagle.md has the details.
// Matrices are packed ternary when the file holds exactly ternary weights, int8 per row otherwise
// (drafters/head_matrix.hpp).
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "drafters/head_matrix.hpp"
#include "target/model/kv_cache.hpp"
#include "target/model/model_config.hpp"
#include "target/model/model_files.hpp"
#include "target/tokenizer/tokenizer.hpp"

namespace ternspec {

class Qwen3Model;

struct EagleConfig {
    int hidden = 0, intermediate = 0, heads = 0, kv_heads = 0, head_dim = 0;
    int vocab = 0, draft_vocab = 0, target_hidden = 0;
    float rope_theta = 10000.0f, rms_eps = 1e-6f;
    std::vector<int> aux_layers;
};

// The files of a head: a checkpoint folder (config.json + safetensors) or its GGUF form (docs/eagle.md),
// presented alike: config.json's fields and tensors under the checkpoint's names.
struct EagleSource {
    std::string path;
    std::string config_origin;  // what to name in errors about the config: config.json, or the GGUF
    nlohmann::json config;
    std::map<std::string, TensorRef> tensors;
    std::shared_ptr<const void> keep;  // the mapped files the tensors point into
    static EagleSource open(const std::string& path);
    static EagleSource open_gguf(const std::string& path);  // either GGUF layout (drafters/eagle_gguf.cpp)
};

// What an EAGLE-3 GGUF takes from the target it drafts for: llama.cpp reads the tokenizer from the head's
// own file, the target layers as absolute ids, and a context length.
struct EagleGgufTarget {
    const Tokenizer* tokenizer = nullptr;  // null: none written (llama.cpp then refuses the file)
    int n_layers = 0;
    int context_length = 0;
};

// Writes the head at `in` (any form) in llama.cpp's eagle3 GGUF layout (keys eagle3.*, eagle3.target_layers,
// tensors fc, d2t as absolute ids, output_norm, output, blk.0.*; docs/eagle.md) with its matrices as
// `type`: F32, F16, BF16, or a ternary type for a head whose weights are exactly ternary (refused by tensor
// name otherwise).
void write_eagle_gguf(const EagleSource& in, const std::string& out, TensorType type,
                      const EagleGgufTarget& target);

// A random head of the published EAGLE-3 shape for `target` (its hidden, intermediate and attention sizes;
// `draft_vocab` draft tokens) written as `type`: a ternary type holds random trits (packed ternary at load),
// f16/bf16/f32 hold Gaussian weights (int8 at load). Its cost does not depend on the values.
void synth_eagle3(const std::string& out, const ModelConfig& target, int draft_vocab, TensorType type,
                  std::uint64_t seed);

class EagleHead {
  public:
    // A folder with config.json + model.safetensors (or the GGUF form), checked against the target it drafts
    // for. `convention` ("vllm", "sglang" or "" to take the config's) says how explicit aux layer ids count.
    // The head keeps the target alive: it embeds tokens with the target's embedding.
    static std::shared_ptr<EagleHead> load(const std::string& path, std::shared_ptr<const Qwen3Model> target,
                                           const std::string& convention = "");

    const EagleConfig& config() const { return cfg_; }
    std::size_t bytes() const;
    // Bytes read by one draft step (the layer and the head over the draft vocabulary), and by the fusion of
    // target features that runs once per round: drafting k tokens reads round_bytes() + k * step_bytes().
    std::size_t step_bytes() const;
    std::size_t round_bytes() const { return fc_.bytes(); }
    bool ternary() const { return lm_head_.ternary() && q_.ternary(); }
    KvCache make_cache(int capacity) const;

    // fc over the concatenated target hidden states: features is M x (3 * target_hidden).
    std::vector<float> fuse(const float* features, int M) const;
    // One head pass for M inputs (g rows, tokens) at the given positions, appended to the cache at
    // slots cache.size().. (committed); slots[i] lists the cache slots input i attends to (its own
    // included; see attention_slots). Returns the M output rows (pre-norm, the next step's g); when
    // draft_logits is non-null it receives (M - logits_from) x draft_vocab logits, of rows logits_from..M-1.
    std::vector<float> forward(KvCache& cache, const float* g, std::span<const std::int32_t> tokens,
                               std::span<const std::int32_t> positions,
                               const std::vector<std::vector<int>>& slots, std::vector<float>* draft_logits,
                               int logits_from = 0) const;
    std::int32_t to_target(std::int32_t draft_id) const {
        return draft_id + d2t_[static_cast<std::size_t>(draft_id)];
    }

  private:
    void load_weights(const EagleSource& src, const std::string& path);

    EagleConfig cfg_;
    std::shared_ptr<const Qwen3Model> target_;
    std::vector<float> embed_;  // own embedding (vocab x hidden), empty when borrowed from the target
    HeadMatrix fc_, q_, k_, v_, o_, gate_, up_, down_, lm_head_;
    std::vector<float> input_norm_, hidden_norm_, post_norm_, final_norm_;
    std::vector<std::int64_t> d2t_;
};

}  // namespace ternspec
