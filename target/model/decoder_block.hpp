#pragma once
// One ternary Qwen3 decoder layer: RMSNorm, attention with per-head q/k RMSNorm and RoPE, SwiGLU. The
// target stacks n_layers of them; an MTP module is the same layer trained to look further ahead, so both
// share this code and the packed kernels.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "runtime/kv_cache.hpp"
#include "target/kernels/ternary_matrix.hpp"
#include "target/model/attention.hpp"
#include "target/model/model_config.hpp"
#include "target/model/ternary_import.hpp"

namespace ternspec {

// Fetch one tensor by GGUF name, checking its shape: ternary matrices as trits + scales, vectors as floats.
using TernaryFetch = std::function<TernaryData(const std::string& name, std::vector<std::uint64_t> shape)>;
using FloatFetch = std::function<std::vector<float>(const std::string& name, std::uint64_t n)>;

// Scratch space one forward reuses across layers.
struct BlockBuffers {
    std::vector<float> normed, qkv, att, proj, gate_up, act;
    QuantizedActivations qa;
};

struct DecoderBlock {
    std::vector<float> attn_norm, q_norm, k_norm, ffn_norm;
    TernaryMatrix qkv, o, gate_up, down;

    // Tensors prefix + "attn_norm.weight", "attn_q.weight", ... (GGUF names, e.g. prefix "blk.3.").
    static DecoderBlock load(const std::string& prefix, const ModelConfig& c, const TernaryFetch& ternary,
                             const FloatFetch& floats);
    std::size_t bytes() const { return qkv.bytes() + o.bytes() + gate_up.bytes() + down.bytes(); }

    // x (M x hidden) is updated in place. The M new keys/values go to slots base.. of cache layer `layer`
    // (not committed); token i attends to slots[i].
    void forward(const ModelConfig& c, KvCache& cache, int layer, int base, const RopeTable& rope,
                 const std::vector<std::vector<int>>& slots, std::vector<float>& x, BlockBuffers& buf) const;
};

}  // namespace ternspec
