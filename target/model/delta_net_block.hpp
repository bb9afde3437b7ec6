#pragma once
// One Gated DeltaNet (GDN) layer of Qwen3.5's hybrid, in llama.cpp's `qwen35` conventions (value heads tiled
// over key heads; docs/formats.md): projections, a depthwise causal conv over q, k, v, the gated delta rule
// on a head_dim x head_dim state per value head, the gated output norm, then the FFN.
// The recurrent part runs token by token, in the same order whatever the number of tokens in the call, so
// an M-token forward leaves the state bit-identical to M single steps (batch invariance, the state too).
#include <string>
#include <vector>

#include "target/model/decoder_block.hpp"

namespace ternspec {

// A float matrix read whole (rows x cols, row-major): alpha and beta, which stay in floating point.
using MatrixFetch =
    std::function<std::vector<float>(const std::string& name, std::uint64_t rows, std::uint64_t cols)>;

struct DeltaNetBlock {
    std::vector<float> attn_norm, ffn_norm;
    std::vector<float> conv;                 // conv channels x conv_kernel (oldest tap first)
    std::vector<float> alpha_beta;           // 2 * value heads x hidden: ssm_alpha's rows, then ssm_beta's
    std::vector<float> dt_bias, a;           // per value head; a = -exp(A_log) as stored
    std::vector<float> out_norm;             // ssm_norm, head_dim
    TernaryMatrix qkvz, out, gate_up, down;  // attn_qkv rows then attn_gate rows; ssm_out; FFN
    // PrismML's rotated basis: the ternary matrices' inputs are rotated (ssm_out's after the value heads go
    // back to grouped order when the rotation says so); alpha and beta's when the file folded them too.
    const HadamardRotation* rotation = nullptr;
    bool rotate_alpha_beta = false;

    static DeltaNetBlock load(const std::string& prefix, const ModelConfig& c, const TernaryFetch& ternary,
                              const FloatFetch& floats, const MatrixFetch& matrix);
    // Bytes a forward reads: the packed matrices, and the float ones (alpha, beta, the conv kernel).
    std::size_t bytes() const {
        return qkvz.bytes() + out.bytes() + gate_up.bytes() + down.bytes() +
               (alpha_beta.size() + conv.size()) * sizeof(float);
    }

    // Updates x (every sequence's rows) and each sequence's recurrent state `r` (its index among the GDN
    // layers) in its cache.
    void forward(const ModelConfig& c, int r, std::span<const SequenceRows> seqs, std::vector<float>& x,
                 BlockBuffers& buf) const;
};

}  // namespace ternspec
