#pragma once
// One ternary Qwen3 decoder layer: RMSNorm, attention with per-head q/k RMSNorm and RoPE, SwiGLU. The
// target stacks n_layers of them; an MTP module is the same layer trained to look further ahead, so both
// share this code and the packed kernels.
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "target/kernels/ternary_matrix.hpp"
#include "target/model/attention.hpp"
#include "target/model/hadamard_rotation.hpp"
#include "target/model/kv_cache.hpp"
#include "target/model/model_config.hpp"
#include "target/model/ternary_import.hpp"

namespace ternspec {

// Fetch one tensor by GGUF name, checking its shape: ternary matrices as trits + scales, vectors as floats.
using TernaryFetch = std::function<TernaryData(const std::string& name, std::vector<std::uint64_t> shape)>;
using FloatFetch = std::function<std::vector<float>(const std::string& name, std::uint64_t n)>;

// Scratch space one forward reuses across layers.
struct BlockBuffers {
    std::vector<float> normed, qkv, att, proj, gate_up, act, gate, conv, gates;
    QuantizedActivations qa;
};

// One sequence's rows inside a (possibly multi-sequence) forward: rows row0 .. row0 + rows - 1 of the
// activations belong to it; their keys and values go to slots base.. of its cache, and row i attends to
// (*slots)[i] there.
struct SequenceRows {
    KvCache* cache;
    int base, row0, rows;
    const RopeTable* rope;
    const std::vector<std::vector<int>>* slots;
    std::span<const std::int32_t> parents;  // a draft tree's parent rows (-1: the cache); empty for a chain
};

TernaryMatrix pack_ternary(const TernaryData& d, const std::string& name);
// prefix + ffn_gate/ffn_up (stacked) and ffn_down, packed.
void load_ffn(const std::string& prefix, const ModelConfig& c, const TernaryFetch& ternary,
              TernaryMatrix& gate_up, TernaryMatrix& down);

// x += down(silu(gate(n)) * up(n)) with n = rms_norm(x, ffn_norm), over every row: the FFN half of a layer,
// the same for Qwen3's layers and both kinds of Qwen3.5's.
// rotation: the FFN matrices are stored in PrismML's rotated basis (null: they are not).
void ffn_residual(const ModelConfig& c, const std::vector<float>& ffn_norm, const TernaryMatrix& gate_up,
                  const TernaryMatrix& down, std::vector<float>& x, BlockBuffers& buf,
                  const HadamardRotation* rotation);

struct DecoderBlock {
    std::vector<float> attn_norm, q_norm, k_norm, ffn_norm;
    TernaryMatrix qkv, o, gate_up, down;
    // Qwen3.5's gated attention: attn_q emits [query | gate] per head, the output is scaled by sigmoid(gate)
    // before attn_output; the FFN norm is named post_attention_norm.
    bool gated = false;
    // Every matrix stored in PrismML's rotated basis: their inputs are rotated before quantisation.
    const HadamardRotation* rotation = nullptr;

    // Tensors prefix + "attn_norm.weight", "attn_q.weight", ... (GGUF names, e.g. prefix "blk.3.").
    static DecoderBlock load(const std::string& prefix, const ModelConfig& c, const TernaryFetch& ternary,
                             const FloatFetch& floats);
    std::size_t bytes() const { return qkv.bytes() + o.bytes() + gate_up.bytes() + down.bytes(); }

    // x (M x hidden, all sequences' rows) is updated in place; the matrices run once over all rows, so
    // several sequences share each weight read. Keys/values go to the cache's layer `layer` (its index among
    // the layers that keep keys and values; not committed).
    void forward(const ModelConfig& c, int layer, std::span<const SequenceRows> seqs, std::vector<float>& x,
                 BlockBuffers& buf) const;
};

}  // namespace ternspec
