#pragma once
// The ternary Qwen3 target, and Qwen3.5's hybrid (qwen35: Gated DeltaNet layers between gated attention
// layers): weights packed once at load, and one batched forward over a chain or a tree (Qwen3 only) of new
// tokens that returns logits for the rows asked for and, on request, hidden states.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "target/kernels/ternary_matrix.hpp"
#include "target/model/decoder_block.hpp"
#include "target/model/delta_net_block.hpp"
#include "target/model/kv_cache.hpp"
#include "target/model/model_files.hpp"

namespace ternspec {

struct ModelLoadOptions {
    bool quantize = false;  // absmean-quantise float weights that are not exactly ternary
    std::function<void(int done, int total, const std::string& tensor)> progress;
};

struct ForwardInput {
    std::span<const std::int32_t> tokens;
    std::span<const std::int32_t> positions;  // RoPE positions, one per token
    // Empty: a chain (token i attends to the cache and tokens 0..i). Otherwise parents[i] is the index of
    // token i's parent within this call, or -1 when its parent is the last cached token; a token attends
    // to the cache, its ancestors in this call and itself.
    std::span<const std::int32_t> parents;
    // Rows whose logits are wanted (indices into tokens); empty means all rows.
    std::vector<std::int32_t> logit_rows;
    bool no_logits = false;
    // Hidden states to return: layer L < n_layers is the residual stream entering block L; L = n_layers is
    // the final state before the output norm.
    std::vector<int> hidden_layers;
};

struct ForwardOutput {
    std::vector<float> logits;  // logit_rows.size() x vocab, row-major
    std::vector<std::int32_t> logit_rows;
    std::map<int, std::vector<float>> hidden;  // layer -> tokens x hidden_size
};

class Qwen3Model {
  public:
    static std::shared_ptr<Qwen3Model> load(const ModelFiles& files, const ModelLoadOptions& options = {});

    const ModelConfig& config() const { return cfg_; }
    const Tokenizer& tokenizer() const { return *tokenizer_; }
    std::shared_ptr<const Tokenizer> tokenizer_ptr() const { return tokenizer_; }
    const std::string& chat_template() const { return chat_template_; }

    // Appends the tokens' keys and values to the cache (committed) and returns what was asked for.
    ForwardOutput forward(KvCache& cache, const ForwardInput& in) const;
    // Several independent sequences (each with its own cache) in one pass: every weight is read once for
    // all of them, and each sequence's results equal what forward() gives it alone (batch invariance).
    struct SequenceInput {
        KvCache* cache;
        const ForwardInput* input;
    };
    std::vector<ForwardOutput> forward_many(std::span<const SequenceInput> seqs) const;

    // Logits of every token of a fresh sequence, computed `chunk` tokens per forward (vocab per row).
    std::vector<float> logits_chunked(std::span<const std::int32_t> ids, int chunk) const;

    // The token's embedding row (exact ternary x scale).
    void embed(std::int32_t token, float* out) const;
    // Logits of one final hidden state (applies the output norm); used by drafters that share the head.
    void lm_head(const float* hidden, int rows, float* logits) const;
    const TernaryMatrix& head_matrix() const { return head_ ? *head_ : embed_; }
    const std::vector<float>& output_norm() const { return output_norm_; }

    std::size_t weight_bytes() const;  // packed bytes a forward reads
    // A hybrid's recurrent state per sequence (every GDN layer's state matrices and conv window, f32): a
    // forward reads it and writes it back once at least.
    std::size_t recurrent_state_bytes() const;
    bool quantized_on_load() const { return quantized_; }
    // The file it was loaded from when that file also carries MTP (nextn) layers after its stack, else empty:
    // the mtp drafter's default weights.
    const std::string& mtp_layers_path() const { return mtp_layers_path_; }
    // PrismML's rotated basis of the file's weights, or null.
    const HadamardRotation* rotation() const { return rotation_.get(); }
    KvCache make_cache(int capacity = 0, KvType type = KvType::F16) const;

  private:
    void head_logits(std::span<const SequenceInput> seqs, const std::vector<SequenceRows>& rows,
                     const std::vector<float>& x, std::vector<ForwardOutput>& out) const;

    ModelConfig cfg_;
    std::shared_ptr<const Tokenizer> tokenizer_;
    std::string chat_template_;
    TernaryMatrix embed_;
    std::unique_ptr<TernaryMatrix> head_;  // null when tied
    std::vector<float> output_norm_;
    std::vector<DecoderBlock> layers_;      // the layers with attention, in order
    std::vector<DeltaNetBlock> recurrent_;  // a hybrid's Gated DeltaNet layers, in order
    bool quantized_ = false;
    std::string mtp_layers_path_;
    std::shared_ptr<const HadamardRotation> rotation_;
};

void rms_norm(const float* x, const float* w, int n, float eps, float* out);
// logits (rows x head.rows()) = head * rms_norm(hidden rows, norm): the target's LM head, and the MTP
// modules' (own norm, shared or own head).
// rotation: the head is stored in PrismML's rotated basis (null: it is not).
void normed_logits(const TernaryMatrix& head, const float* norm, float eps, const float* hidden, int rows,
                   float* logits, const HadamardRotation* rotation = nullptr);

}  // namespace ternspec
