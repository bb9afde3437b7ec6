#include "target/model/decoder_block.hpp"

#include <algorithm>
#include <cmath>

#include "target/kernels/fast_math.hpp"
#include "target/kernels/row_parallel.hpp"
#include "target/model/qwen3_model.hpp"

namespace ternspec {

TernaryMatrix pack_ternary(const TernaryData& d, const std::string& name) {
    return TernaryMatrix(d.rows, d.cols, d.group, d.trits, d.scales, name);
}

void load_ffn(const std::string& p, const ModelConfig& c, const TernaryFetch& ternary, TernaryMatrix& gate_up,
              TernaryMatrix& down) {
    const auto H = static_cast<std::uint64_t>(c.hidden_size),
               I = static_cast<std::uint64_t>(c.intermediate_size);
    TernaryData gu = ternary(p + "ffn_gate.weight", {I, H});
    gu.append_rows(ternary(p + "ffn_up.weight", {I, H}));
    gate_up = pack_ternary(gu, p + "ffn_gate_up");
    down = pack_ternary(ternary(p + "ffn_down.weight", {H, I}), p + "ffn_down.weight");
}

DecoderBlock DecoderBlock::load(const std::string& p, const ModelConfig& c, const TernaryFetch& ternary,
                                const FloatFetch& floats) {
    const auto H = static_cast<std::uint64_t>(c.hidden_size);
    const auto QD = static_cast<std::uint64_t>(c.n_heads) * c.head_dim,
               KD = static_cast<std::uint64_t>(c.n_kv_heads) * c.head_dim;
    const auto pack = pack_ternary;
    DecoderBlock b;
    b.gated = c.hybrid();
    b.attn_norm = floats(p + "attn_norm.weight", H);
    b.ffn_norm = floats(p + (b.gated ? "post_attention_norm.weight" : "ffn_norm.weight"), H);
    b.q_norm = floats(p + "attn_q_norm.weight", static_cast<std::uint64_t>(c.head_dim));
    b.k_norm = floats(p + "attn_k_norm.weight", static_cast<std::uint64_t>(c.head_dim));
    TernaryData qkv = ternary(p + "attn_q.weight", {b.gated ? 2 * QD : QD, H});
    qkv.append_rows(ternary(p + "attn_k.weight", {KD, H}));
    qkv.append_rows(ternary(p + "attn_v.weight", {KD, H}));
    b.qkv = pack(qkv, p + "attn_qkv");
    b.o = pack(ternary(p + "attn_output.weight", {H, QD}), p + "attn_output.weight");
    load_ffn(p, c, ternary, b.gate_up, b.down);
    return b;
}

void DecoderBlock::forward(const ModelConfig& c, int layer, std::span<const SequenceRows> seqs,
                           std::vector<float>& x, BlockBuffers& buf) const {
    const int H = c.hidden_size, hd = c.head_dim, nh = c.n_heads, nkv = c.n_kv_heads;
    const int QD = nh * hd, KD = nkv * hd;
    const int M = static_cast<int>(x.size() / static_cast<std::size_t>(H));
    const auto rows = static_cast<std::size_t>(M);
    const int W = QD + 2 * KD;  // [q of every head | k | v] per row, as attend() reads it
    buf.normed.resize(rows * H);
    buf.qkv.resize(rows * (W + (gated ? QD : 0)));
    buf.att.resize(rows * QD);
    buf.proj.resize(rows * H);
    buf.qa.resize(M, H);
    for_each_row(M, H, [&](int i) {
        float* ni = buf.normed.data() + static_cast<std::size_t>(i) * H;
        rms_norm(x.data() + static_cast<std::size_t>(i) * H, attn_norm.data(), H, c.rms_eps, ni);
        if (rotation) rotation->forward(ni, H);
        buf.qa.quantize_row(i, ni);
    });
    ternary_matmul(qkv, buf.qa, buf.qkv.data());
    if (gated) {
        // Rows come as [q0 | g0 | q1 | g1 ... | k | v]: queries to the front, gates aside.
        buf.gate.resize(rows * QD);
        buf.act.resize(rows * (W + QD));
        for_each_row(M, W + QD, [&](int i) {
            const float* src = buf.qkv.data() + static_cast<std::size_t>(i) * (W + QD);
            float* dst = buf.act.data() + static_cast<std::size_t>(i) * W;
            float* g = buf.gate.data() + static_cast<std::size_t>(i) * QD;
            for (int h = 0; h < nh; ++h) {
                std::copy_n(src + 2 * h * hd, hd, dst + h * hd);
                std::copy_n(src + 2 * h * hd + hd, hd, g + h * hd);
            }
            std::copy_n(src + 2 * QD, 2 * KD, dst + QD);
        });
        std::copy_n(buf.act.data(), rows * W, buf.qkv.data());
    }
    // Per sequence: per-head q/k norm, RoPE, the new keys and values into its cache, attention.
    for (const SequenceRows& s : seqs) {
        auto row_of = [&](int i) { return buf.qkv.data() + static_cast<std::size_t>(s.row0 + i) * W; };
        for_each_row(s.rows, (nh + nkv) * hd, [&](int i) {
            for (int head = 0; head < nh + nkv; ++head) {
                float* v = row_of(i) + head * hd;
                rms_norm(v, head < nh ? q_norm.data() : k_norm.data(), hd, c.rms_eps, v);
                s.rope->apply(v, i);
            }
        });
        // Serial: a store may grow the cache.
        for (int i = 0; i < s.rows; ++i)
            s.cache->store(layer, s.base + i, row_of(i) + QD, row_of(i) + QD + KD);
        attend(*s.cache, layer, *s.slots, row_of(0), static_cast<std::size_t>(W), nh, nkv, hd,
               buf.att.data() + static_cast<std::size_t>(s.row0) * QD);
    }
    if (gated)
        for_each_row(M, QD, [&](int i) {
            float* a = buf.att.data() + static_cast<std::size_t>(i) * QD;
            const float* g = buf.gate.data() + static_cast<std::size_t>(i) * QD;
            for (int e = 0; e < QD; ++e) a[e] *= 1.0f / (1.0f + std::exp(-g[e]));
        });
    if (rotation)
        for_each_row(
            M, QD, [&](int i) { rotation->forward(buf.att.data() + static_cast<std::size_t>(i) * QD, QD); });
    buf.qa.quantize(buf.att.data(), M, QD);
    ternary_matmul(o, buf.qa, buf.proj.data());
    for (std::size_t e = 0; e < x.size(); ++e) x[e] += buf.proj[e];
    ffn_residual(c, ffn_norm, gate_up, down, x, buf, rotation);
}

void ffn_residual(const ModelConfig& c, const std::vector<float>& ffn_norm, const TernaryMatrix& gate_up,
                  const TernaryMatrix& down, std::vector<float>& x, BlockBuffers& buf,
                  const HadamardRotation* rotation) {
    const int H = c.hidden_size, I = c.intermediate_size;
    const int M = static_cast<int>(x.size() / static_cast<std::size_t>(H));
    const auto rows = static_cast<std::size_t>(M);
    buf.normed.resize(rows * H);
    buf.gate_up.resize(rows * 2 * I);
    buf.act.resize(rows * I);
    buf.proj.resize(rows * H);
    buf.qa.resize(M, H);
    for_each_row(M, H, [&](int i) {
        float* ni = buf.normed.data() + static_cast<std::size_t>(i) * H;
        rms_norm(x.data() + static_cast<std::size_t>(i) * H, ffn_norm.data(), H, c.rms_eps, ni);
        if (rotation) rotation->forward(ni, H);
        buf.qa.quantize_row(i, ni);
    });
    ternary_matmul(gate_up, buf.qa, buf.gate_up.data());
    buf.qa.resize(M, I);
    for_each_row(M, I, [&](int i) {
        const float* gi = buf.gate_up.data() + static_cast<std::size_t>(i) * 2 * I;
        float* ai = buf.act.data() + static_cast<std::size_t>(i) * I;
        silu_mul_row(gi, gi + I, ai, I);
        if (rotation) rotation->forward(ai, I);
        buf.qa.quantize_row(i, ai);
    });
    ternary_matmul(down, buf.qa, buf.proj.data());
    for (std::size_t e = 0; e < x.size(); ++e) x[e] += buf.proj[e];
}

}  // namespace ternspec
