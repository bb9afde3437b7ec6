#include "target/model/delta_net_block.hpp"

#include <cmath>

#include "target/kernels/kernel_table.hpp"
#include "target/kernels/row_parallel.hpp"
#include "target/model/qwen3_model.hpp"

namespace ternspec {

DeltaNetBlock DeltaNetBlock::load(const std::string& p, const ModelConfig& c, const TernaryFetch& ternary,
                                  const FloatFetch& floats, const MatrixFetch& matrix) {
    const auto H = static_cast<std::uint64_t>(c.hidden_size);
    const auto C = static_cast<std::uint64_t>(c.ssm_conv_channels());
    const auto Hv = static_cast<std::uint64_t>(c.ssm_value_heads);
    const auto VD = Hv * static_cast<std::uint64_t>(c.ssm_head_dim);
    const auto pack = pack_ternary;
    DeltaNetBlock b;
    b.attn_norm = floats(p + "attn_norm.weight", H);
    b.ffn_norm = floats(p + "post_attention_norm.weight", H);
    b.conv = matrix(p + "ssm_conv1d.weight", C, static_cast<std::uint64_t>(c.ssm_conv_kernel));
    b.alpha_beta = matrix(p + "ssm_alpha.weight", Hv, H);
    const auto beta = matrix(p + "ssm_beta.weight", Hv, H);
    b.alpha_beta.insert(b.alpha_beta.end(), beta.begin(), beta.end());
    b.dt_bias = floats(p + "ssm_dt.bias", Hv);
    b.a = floats(p + "ssm_a", Hv);
    b.out_norm = floats(p + "ssm_norm.weight", static_cast<std::uint64_t>(c.ssm_head_dim));
    TernaryData qkvz = ternary(p + "attn_qkv.weight", {C, H});
    qkvz.append_rows(ternary(p + "attn_gate.weight", {VD, H}));
    b.qkvz = pack(qkvz, p + "attn_qkvz");
    b.out = pack(ternary(p + "ssm_out.weight", {H, VD}), p + "ssm_out.weight");
    load_ffn(p, c, ternary, b.gate_up, b.down);
    return b;
}

namespace {

float sigmoid(float x) {
    return 1.0f / (1.0f + std::exp(-x));
}

float softplus(float x) {  // as ggml: the identity past 20, where log(1 + e^x) rounds to x anyway
    return x > 20.0f ? x : std::log1p(std::exp(x));
}

// x / max(|x|, eps), the sum in double (llama.cpp's ggml_l2_norm), then times `scale`.
void l2_normalize(float* x, int n, float eps, float scale) {
    double ss = 0;
    for (int i = 0; i < n; ++i) ss += static_cast<double>(x[i]) * x[i];
    const float r = scale / std::max(static_cast<float>(std::sqrt(ss)), eps);
    for (int i = 0; i < n; ++i) x[i] *= r;
}

float dot(const float* a, const float* b, int n) {
    float s = 0;
    for (int i = 0; i < n; ++i) s += a[i] * b[i];
    return s;
}

}  // namespace

void DeltaNetBlock::forward(const ModelConfig& c, int r, std::span<const SequenceRows> seqs,
                            std::vector<float>& x, BlockBuffers& buf) const {
    const int H = c.hidden_size, K = c.ssm_conv_kernel, C = c.ssm_conv_channels();
    const int d = c.ssm_head_dim, Hk = c.ssm_key_heads, Hv = c.ssm_value_heads, VD = Hv * d, KD = Hk * d;
    const int W = C + VD;  // a projected row: q, k, v (conv channels), then z
    const int M = static_cast<int>(x.size() / static_cast<std::size_t>(H));
    const auto rows = static_cast<std::size_t>(M);
    buf.normed.resize(rows * H);
    buf.qkv.resize(rows * W);
    buf.gates.resize(rows * 2 * Hv);
    buf.att.resize(rows * VD);
    buf.proj.resize(rows * H);
    buf.qa.resize(M, H);
    for_each_row(M, H, [&](int i) {
        float* ni = buf.normed.data() + static_cast<std::size_t>(i) * H;
        rms_norm(x.data() + static_cast<std::size_t>(i) * H, attn_norm.data(), H, c.rms_eps, ni);
        auto gates = [&] {  // alpha and beta from the unquantised normed row
            for (int j = 0; j < 2 * Hv; ++j)
                buf.gates[static_cast<std::size_t>(i) * 2 * Hv + j] =
                    dot(ni, alpha_beta.data() + static_cast<std::size_t>(j) * H, H);
        };
        if (rotation && !rotate_alpha_beta) gates();
        if (rotation) rotation->forward(ni, H);
        if (!rotation || rotate_alpha_beta) gates();
        buf.qa.quantize_row(i, ni);
    });
    ternary_matmul(qkvz, buf.qa, buf.qkv.data());
    const float q_scale = 1.0f / std::sqrt(static_cast<float>(d));
    buf.conv.resize(rows * C);
    std::vector<float> decay_beta(rows * 2 * Hv);  // per token: decay of each value head, then beta
    const auto rule = kernels().delta_rule_head;
    const auto silu_mul = kernels().silu_mul_row;
    for (const SequenceRows& s : seqs) {
        RecurrentState& rs = s.cache->recurrent();
        float* window = rs.conv_window(r);  // (K - 1) x C, oldest first: the inputs before the call
        const float* committed = rs.committed(r);
        float* state = rs.working(r);  // Hv x d (value) x d (key); the first token reads `committed`
        const bool tree = !s.parents.empty();
        // A row's predecessor: the row before it in a chain, its parent in a draft tree (-1: the cache).
        auto parent = [&](int t) { return tree ? s.parents[static_cast<std::size_t>(t)] : t - 1; };
        // First what does not touch the state, token by token: the conv over each row's own past (its
        // predecessors' inputs, then the window), the normalised q and k, decay and beta; each token's record
        // for a rollback.
        std::vector<const float*> taps(static_cast<std::size_t>(std::max(K - 1, 0)));
        for (int t = 0; t < s.rows; ++t) {
            const std::size_t row = static_cast<std::size_t>(s.row0 + t);
            float* in = buf.qkv.data() + row * W;
            float* co = buf.conv.data() + row * C;
            int p = parent(t), from_window = K - 1;  // taps[k], oldest first
            for (int k = K - 2; k >= 0 && p >= 0; --k, p = parent(p), --from_window)
                taps[static_cast<std::size_t>(k)] = buf.qkv.data() + static_cast<std::size_t>(s.row0 + p) * W;
            for (int k = 0; k < from_window; ++k)
                taps[static_cast<std::size_t>(k)] =
                    window + static_cast<std::size_t>(k + (K - 1 - from_window)) * C;
            for (int ch = 0; ch < C; ++ch) {
                const float* w = conv.data() + static_cast<std::size_t>(ch) * K;
                float acc = 0;
                for (int k = 0; k < K - 1; ++k) acc += w[k] * taps[static_cast<std::size_t>(k)][ch];
                acc += w[K - 1] * in[ch];
                co[ch] = acc * sigmoid(acc);
            }
            for (int h = 0; h < Hk; ++h) {
                l2_normalize(co + h * d, d, c.rms_eps, q_scale);
                l2_normalize(co + KD + h * d, d, c.rms_eps, 1.0f);
            }
            const float* g = buf.gates.data() + row * 2 * Hv;
            float* decay = decay_beta.data() + row * 2 * Hv;
            float* beta = decay + Hv;
            for (int h = 0; h < Hv; ++h) {
                decay[h] = std::exp(softplus(g[h] + dt_bias[static_cast<std::size_t>(h)]) *
                                    a[static_cast<std::size_t>(h)]);
                beta[h] = sigmoid(g[Hv + h]);
            }
            rs.record(r, t, co + KD, co + 2 * KD, decay, beta, in);
        }
        // A chain's window moves on to its last inputs; a tree's waits for the accepted path (keep_path).
        if (!tree)
            for (int k = 0; k < K - 1; ++k) {
                const int src = k + s.rows;  // index into [window rows..., the call's inputs...]
                if (src < K - 1)
                    std::copy_n(window + static_cast<std::size_t>(src) * C, C,
                                window + static_cast<std::size_t>(k) * C);
                else
                    std::copy_n(buf.qkv.data() + static_cast<std::size_t>(s.row0 + src - (K - 1)) * W, C,
                                window + static_cast<std::size_t>(k) * C);
            }
        // Then the recurrence, head by head (value heads are independent: spread over the cores), each
        // head's tokens in order. A head's state (d x d floats) stays in cache across the call's tokens
        // instead of the whole layer's state passing through memory once per token; each head's arithmetic
        // is the same in either order, so the result is too. A chain updates the working state in place; in a
        // tree each row's state follows from its parent's, so each row's is kept (per head, in scratch) and
        // the working state is rebuilt along the accepted path afterwards.
        const std::size_t dd = static_cast<std::size_t>(d) * d;
        for_each_row(Hv, d * d * s.rows, [&](int h) {
            const std::size_t head = static_cast<std::size_t>(h) * dd;
            thread_local std::vector<float> scratch;
            if (tree) scratch.resize(dd * static_cast<std::size_t>(s.rows));
            for (int t = 0; t < s.rows; ++t) {
                const std::size_t row = static_cast<std::size_t>(s.row0 + t);
                const float* co = buf.conv.data() + row * C;
                const float* in = buf.qkv.data() + row * W;
                const float* decay = decay_beta.data() + row * 2 * Hv;
                float* o = buf.att.data() + row * VD + h * d;
                const int p = parent(t);
                float* dst = tree ? scratch.data() + dd * static_cast<std::size_t>(t) : state + head;
                const float* src = p < 0  ? committed + head
                                   : tree ? scratch.data() + dd * static_cast<std::size_t>(p)
                                          : state + head;
                rule(dst, src, co + KD + (h % Hk) * d, co + 2 * KD + h * d, co + (h % Hk) * d, decay[h],
                     decay[Hv + h], d, o);
                const float* z = in + C + h * d;
                rms_norm(o, out_norm.data(), d, c.rms_eps, o);
                silu_mul(z, o, o, d);  // o *= silu(z), vectorised as the FFN's
            }
        });
    }
    if (rotation)
        for_each_row(M, VD, [&](int i) {
            float* o = buf.att.data() + static_cast<std::size_t>(i) * VD;
            if (rotation->v_grouped()) {
                std::vector<float> tmp(static_cast<std::size_t>(VD));
                HadamardRotation::tiled_to_grouped(o, d, Hk, Hv, tmp.data());
            }
            rotation->forward(o, VD);
        });
    buf.qa.quantize(buf.att.data(), M, VD);
    ternary_matmul(out, buf.qa, buf.proj.data());
    for (std::size_t e = 0; e < x.size(); ++e) x[e] += buf.proj[e];
    ffn_residual(c, ffn_norm, gate_up, down, x, buf, rotation);
}

}  // namespace ternspec
