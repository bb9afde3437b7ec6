#pragma once
// Multi-token-prediction modules beside the target (docs/mtp.md). Module d (0-based here) at row j reads
// the previous state (the target's final pre-norm hidden state at j for d = 0, module d-1's output at j
// after) and the embedding of token t[j + d + 1], and predicts t[j + d + 2]:
//   z = eh_proj(concat(enorm(embed(token)), hnorm(prev)))   embedding first, as vLLM's DeepSeek MTP
//   out = block(z)                                          a ternary Qwen3 decoder layer, own KV cache
//   logits = head(shared_head_norm(out))                    the target's head unless the module has its own
// Weights must be ternary (as the target's); they are packed with the target's kernels.
// Qwen3.5's own MTP (a qwen35 file's nextn layers, recursive()) is one gated-attention module applied once
// per drafted token; its `prev` is normalised first (hidden_in), as llama.cpp's h_nextn.
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "drafters/drafter.hpp"
#include "target/model/decoder_block.hpp"
#include "target/model/kv_cache.hpp"

namespace ternspec {

class Qwen3Model;

// The target's final hidden rows of the `cached` tokens (what every MTP drafter conditions on), appended to
// `out`; an Error when the target did not return them.
void append_final_hidden(const Qwen3Model& target, std::span<const std::int32_t> cached,
                         const HiddenRows* hidden, std::vector<float>& out);

class MtpModules {
  public:
    static std::shared_ptr<MtpModules> load(const std::string& path,
                                            std::shared_ptr<const Qwen3Model> target);

    int depth() const { return static_cast<int>(modules_.size()); }
    bool recursive() const { return recursive_; }
    // The recursive module's input state: the target's final hidden rows after its output norm
    // (from_target), or the module's own output rows after shared_head_norm; rows x hidden into out.
    void hidden_in(const float* rows, int n, bool from_target, float* out) const;
    const ModelConfig& block_config() const { return cfg_; }
    std::size_t bytes() const;  // packed weights a pass over every module reads (shared head excluded)
    // Bytes module d reads per drafted token: eh_proj, its block and the head it scores with.
    std::size_t step_bytes(int d) const;
    // logits() scores draft_vocab_size() ids: the sidecar's draft vocabulary (docs/mtp.md) or the target's.
    int draft_vocab_size() const;
    std::int32_t to_target(std::int32_t draft_id) const {
        return draft_ids_.empty() ? draft_id : draft_ids_[static_cast<std::size_t>(draft_id)];
    }
    KvCache make_cache(int capacity) const;

    // Module d over M rows: prev (M x hidden) and the tokens they condition on, at the given positions,
    // appended to `cache` at slots cache.size().. and committed; row i attends to slots[i].
    std::vector<float> forward(int d, KvCache& cache, const float* prev, std::span<const std::int32_t> tokens,
                               std::span<const std::int32_t> positions,
                               const std::vector<std::vector<int>>& slots) const;
    // Logits over the draft vocabulary of module d's output rows (rows x draft_vocab_size()).
    void logits(int d, const float* out, int rows, float* logits) const;

  private:
    struct Module {
        std::vector<float> enorm, hnorm, head_norm;
        TernaryMatrix eh_proj;
        DecoderBlock block;
        std::shared_ptr<const TernaryMatrix> head;  // null: the target's
        bool head_from_target =
            false;  // head holds rows of the target's (a draft vocabulary): the target's basis
        std::unique_ptr<TernaryMatrix> embed;  // null: the target's
    };
    std::shared_ptr<const Qwen3Model> target_;
    ModelConfig cfg_;
    bool recursive_ = false;
    std::vector<Module> modules_;
    std::vector<std::int32_t> draft_ids_;  // empty: the full vocabulary
};

}  // namespace ternspec
