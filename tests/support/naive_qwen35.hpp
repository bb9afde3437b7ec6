#pragma once
// An independent, naive double-precision Qwen3.5 hybrid for the tests, written from the equations
// (docs/formats.md): Gated DeltaNet layers run as the per-token recurrence, gated attention with partial
// RoPE. Shares no code with the kernels or the forward, only the file readers and dequantisation (and
// NaiveQwen3's helpers).
#include <bit>
#include <optional>
#include <set>

#include "tests/support/naive_qwen3.hpp"

namespace ternspec::fixtures {

struct NaiveQwen35 : NaiveQwen3 {
    // With int8 on, the inputs of the ternary matrices are rounded as the kernels round activations (per row,
    // absmax / 127, to nearest even): the reference then computes what the runtime computes, up to the order
    // of float sums, and can be held to a tight bound. Off, it is the model's exact arithmetic.
    bool int8 = false;

    // PrismML's rotated basis, written from its definition (y = W' H(s ⊙ P(x)), latent embedding rows
    // e = s ⊙ H z) with an explicit Hadamard matrix: no code shared with the runtime's fast transform.
    struct Rotation {
        int block = 0;
        std::map<int, std::vector<double>> signs;  // by input width
        std::set<std::string> folded;              // tensor names whose input is rotated
        bool v_grouped = false, latent_embedding = false;
    };
    std::optional<Rotation> rot;

    NaiveQwen35(const ModelFiles& f, bool int8_activations, std::optional<Rotation> rotation = {})
        : NaiveQwen3(f), int8(int8_activations), rot(std::move(rotation)) {}

    std::vector<double> hadamard(std::vector<double> x) const {
        const int B = rot->block;
        std::vector<double> y(x.size(), 0.0);
        for (std::size_t b = 0; b < x.size(); b += static_cast<std::size_t>(B))
            for (int r = 0; r < B; ++r)
                for (int c = 0; c < B; ++c)
                    y[b + static_cast<std::size_t>(r)] +=
                        (std::popcount(static_cast<unsigned>(r & c)) % 2 ? -1.0 : 1.0) /
                        std::sqrt(static_cast<double>(B)) * x[b + static_cast<std::size_t>(c)];
        return y;
    }
    std::vector<double> signed_(std::vector<double> x) const {
        const auto& s = rot->signs.at(static_cast<int>(x.size()));
        for (std::size_t i = 0; i < x.size(); ++i) x[i] *= s[i];
        return x;
    }
    // The input a stored matrix `name` is multiplied with.
    std::vector<double> input_of(const std::string& name, std::vector<double> x) const {
        if (!rot || !rot->folded.count(name)) return x;
        if (rot->v_grouped && name.ends_with("ssm_out.weight")) {  // tiled value heads to grouped
            const std::size_t d = static_cast<std::size_t>(c.ssm_head_dim),
                              nk = static_cast<std::size_t>(c.ssm_key_heads);
            const std::size_t rep = static_cast<std::size_t>(c.ssm_value_heads) / nk;
            std::vector<double> g(x.size());
            for (std::size_t k = 0; k < nk; ++k)
                for (std::size_t r = 0; r < rep; ++r)
                    for (std::size_t i = 0; i < d; ++i) g[(k * rep + r) * d + i] = x[(r * nk + k) * d + i];
            x = g;
        }
        return hadamard(signed_(x));
    }
    std::vector<double> embedding(std::int32_t id) const {
        auto e = NaiveQwen3::embedding(id);
        return rot && rot->latent_embedding ? signed_(hadamard(e)) : e;
    }

    static double sigmoid(double x) { return 1 / (1 + std::exp(-x)); }

    std::vector<double> proj(const std::string& name, const std::vector<double>& x0, std::size_t rows) {
        const auto x = input_of(name, x0);
        if (!int8) return matvec(w.at(name), x, rows);
        float amax = 0;
        for (const double v : x) amax = std::max(amax, std::fabs(static_cast<float>(v)));
        const float inv = amax > 0 ? 127.0f / amax : 0.0f;
        const double scale = amax / 127.0f;
        std::vector<double> r(x.size());
        for (std::size_t i = 0; i < x.size(); ++i)
            r[i] = std::nearbyint(static_cast<float>(x[i]) * inv) * scale;
        return matvec(w.at(name), r, rows);
    }

    void gated_attention(const std::string& p, Rows& x) {
        const std::size_t H = static_cast<std::size_t>(c.hidden_size),
                          hd = static_cast<std::size_t>(c.head_dim);
        const std::size_t nh = static_cast<std::size_t>(c.n_heads),
                          nkv = static_cast<std::size_t>(c.n_kv_heads);
        const std::size_t rot = static_cast<std::size_t>(c.rotary_dims()), n = x.size();
        Rows q(n), gate(n), k(n), v(n);
        auto rope = [&](std::vector<double>& vec, std::size_t heads, const std::vector<double>& g,
                        std::size_t pos) {
            for (std::size_t hh = 0; hh < heads; ++hh) {
                std::vector<double> part(vec.begin() + static_cast<std::ptrdiff_t>(hh * hd),
                                         vec.begin() + static_cast<std::ptrdiff_t>((hh + 1) * hd));
                part = norm(part, g, c.rms_eps);
                for (std::size_t j = 0; j < hd; ++j) vec[hh * hd + j] = part[j];
                for (std::size_t j = 0; j < rot / 2; ++j) {
                    const double a = static_cast<double>(pos) *
                                     std::pow(static_cast<double>(c.rope_theta),
                                              -2.0 * static_cast<double>(j) / static_cast<double>(rot));
                    vec[hh * hd + j] = part[j] * std::cos(a) - part[j + rot / 2] * std::sin(a);
                    vec[hh * hd + j + rot / 2] = part[j + rot / 2] * std::cos(a) + part[j] * std::sin(a);
                }
            }
        };
        for (std::size_t i = 0; i < n; ++i) {
            const auto h = norm(x[i], w[p + "attn_norm.weight"], c.rms_eps);
            const auto qg = proj(p + "attn_q.weight", h, 2 * nh * hd);  // [q | gate] per head
            for (std::size_t hh = 0; hh < nh; ++hh)
                for (std::size_t e = 0; e < hd; ++e) {
                    q[i].push_back(qg[2 * hh * hd + e]);
                    gate[i].push_back(qg[2 * hh * hd + hd + e]);
                }
            k[i] = proj(p + "attn_k.weight", h, nkv * hd);
            v[i] = proj(p + "attn_v.weight", h, nkv * hd);
            rope(q[i], nh, w[p + "attn_q_norm.weight"], i);
            rope(k[i], nkv, w[p + "attn_k_norm.weight"], i);
        }
        for (std::size_t i = 0; i < n; ++i) {
            auto att = attend(q, k, v, i, nh, nkv, hd);
            for (std::size_t e = 0; e < att.size(); ++e) att[e] *= sigmoid(gate[i][e]);
            const auto o = proj(p + "attn_output.weight", att, H);
            for (std::size_t e = 0; e < H; ++e) x[i][e] += o[e];
        }
    }

    // S <- S exp(g); S <- S + k (beta (v - S^T k))^T; o = S^T q, per value head h (key head h mod Hk).
    void delta_net(const std::string& p, Rows& x) {
        const std::size_t H = static_cast<std::size_t>(c.hidden_size),
                          d = static_cast<std::size_t>(c.ssm_head_dim);
        const std::size_t hk = static_cast<std::size_t>(c.ssm_key_heads),
                          hv = static_cast<std::size_t>(c.ssm_value_heads);
        const std::size_t C = static_cast<std::size_t>(c.ssm_conv_channels()),
                          K = static_cast<std::size_t>(c.ssm_conv_kernel);
        Rows inputs;                             // conv inputs so far
        std::vector<double> S(hv * d * d, 0.0);  // [h][key i][value j]
        for (std::size_t t = 0; t < x.size(); ++t) {
            const auto h = norm(x[t], w[p + "attn_norm.weight"], c.rms_eps);
            inputs.push_back(proj(p + "attn_qkv.weight", h, C));
            const auto z = proj(p + "attn_gate.weight", h, hv * d);
            const auto alpha = matvec(w[p + "ssm_alpha.weight"], input_of(p + "ssm_alpha.weight", h), hv);
            const auto beta = matvec(w[p + "ssm_beta.weight"], input_of(p + "ssm_beta.weight", h), hv);
            std::vector<double> co(C, 0.0);
            for (std::size_t ch = 0; ch < C; ++ch) {
                for (std::size_t k = 0; k < K; ++k)  // tap k reads the input K - 1 - k steps back
                    if (t + k + 1 >= K)
                        co[ch] += w[p + "ssm_conv1d.weight"][ch * K + k] * inputs[t + k + 1 - K][ch];
                co[ch] *= sigmoid(co[ch]);
            }
            auto l2 = [&](std::size_t off, double scale) {
                double ss = 0;
                for (std::size_t e = 0; e < d; ++e) ss += co[off + e] * co[off + e];
                const double r = scale / std::max(std::sqrt(ss), static_cast<double>(c.rms_eps));
                for (std::size_t e = 0; e < d; ++e) co[off + e] *= r;
            };
            for (std::size_t g = 0; g < hk; ++g) {
                l2(g * d, 1 / std::sqrt(static_cast<double>(d)));
                l2(hk * d + g * d, 1);
            }
            std::vector<double> out(hv * d);
            for (std::size_t hh = 0; hh < hv; ++hh) {
                const double* q = &co[(hh % hk) * d];
                const double* k = &co[hk * d + (hh % hk) * d];
                const double* v = &co[2 * hk * d + hh * d];
                const double a = alpha[hh] + w[p + "ssm_dt.bias"][hh];
                const double sp = a > 20 ? a : std::log1p(std::exp(a));
                const double decay = std::exp(sp * w[p + "ssm_a"][hh]), b = sigmoid(beta[hh]);
                double* Sh = &S[hh * d * d];
                for (std::size_t e = 0; e < d * d; ++e) Sh[e] *= decay;
                for (std::size_t j = 0; j < d; ++j) {
                    double kv = 0;
                    for (std::size_t i = 0; i < d; ++i) kv += Sh[i * d + j] * k[i];
                    const double delta = b * (v[j] - kv);
                    for (std::size_t i = 0; i < d; ++i) Sh[i * d + j] += k[i] * delta;
                }
                std::vector<double> oh(d, 0.0), zh(z.begin() + static_cast<std::ptrdiff_t>(hh * d),
                                                   z.begin() + static_cast<std::ptrdiff_t>((hh + 1) * d));
                for (std::size_t j = 0; j < d; ++j)
                    for (std::size_t i = 0; i < d; ++i) oh[j] += Sh[i * d + j] * q[i];
                oh = norm(oh, w[p + "ssm_norm.weight"], c.rms_eps);
                for (std::size_t j = 0; j < d; ++j) out[hh * d + j] = oh[j] * zh[j] * sigmoid(zh[j]);
            }
            const auto o = proj(p + "ssm_out.weight", out, H);
            for (std::size_t e = 0; e < H; ++e) x[t][e] += o[e];
        }
    }

    void ffn(const std::string& p, Rows& x) {
        const std::size_t H = static_cast<std::size_t>(c.hidden_size),
                          I = static_cast<std::size_t>(c.intermediate_size);
        for (auto& xi : x) {
            const auto h = norm(xi, w[p + "post_attention_norm.weight"], c.rms_eps);
            const auto gt = proj(p + "ffn_gate.weight", h, I), up = proj(p + "ffn_up.weight", h, I);
            std::vector<double> a(I);
            for (std::size_t e = 0; e < I; ++e) a[e] = gt[e] / (1 + std::exp(-gt[e])) * up[e];
            const auto dn = proj(p + "ffn_down.weight", a, H);
            for (std::size_t e = 0; e < H; ++e) xi[e] += dn[e];
        }
    }

    // The final pre-norm hidden state of every token.
    Rows hidden(const std::vector<std::int32_t>& ids) {
        Rows x;
        for (auto id : ids) x.push_back(embedding(id));
        for (int l = 0; l < c.n_layers; ++l) {
            const std::string p = "blk." + std::to_string(l) + ".";
            if (c.is_recurrent(l))
                delta_net(p, x);
            else
                gated_attention(p, x);
            ffn(p, x);
        }
        return x;
    }

    // Qwen3.5's MTP layer (blk.<n_layers>.nextn.*, llama.cpp's graph_mtp) drafting k tokens greedily after
    // ctx, applied recursively: row j reads token ctx[j + 1] and the target's state at j after output_norm
    // (rows 0 .. N - 2), then each drafted token with the previous row's output after shared_head_norm; the
    // rows form one causal sequence at positions 0, 1, ... Returns each step's logits.
    Rows nextn_chain(const std::vector<std::int32_t>& ctx, int k) {
        const std::size_t H = static_cast<std::size_t>(c.hidden_size);
        const std::string p = "blk." + std::to_string(c.n_layers) + ".";
        const auto hid = hidden(std::vector<std::int32_t>(ctx.begin(), ctx.end() - 1));
        Rows h;
        for (const auto& r : hid) h.push_back(norm(r, w.at("output_norm.weight"), c.rms_eps));
        std::vector<std::int32_t> toks(ctx.begin() + 1, ctx.end());
        Rows out;
        for (int step = 0; step < k; ++step) {
            Rows x;
            for (std::size_t j = 0; j < toks.size(); ++j) {
                auto cat = norm(embedding(toks[j]), w.at(p + "nextn.enorm.weight"), c.rms_eps);
                const auto hn = norm(h[j], w.at(p + "nextn.hnorm.weight"), c.rms_eps);
                cat.insert(cat.end(), hn.begin(), hn.end());
                x.push_back(proj(p + "nextn.eh_proj.weight", cat, H));
            }
            gated_attention(p, x);
            ffn(p, x);
            const auto last = norm(x.back(), w.at(p + "nextn.shared_head_norm.weight"), c.rms_eps);
            out.push_back(proj("token_embd.weight", last, static_cast<std::size_t>(c.vocab_size)));
            h.push_back(last);
            toks.push_back(static_cast<std::int32_t>(std::max_element(out.back().begin(), out.back().end()) -
                                                     out.back().begin()));
        }
        return out;
    }

    Rows logits(const std::vector<std::int32_t>& ids) {
        Rows x = hidden(ids);
        Rows out;
        for (auto& xi : x)
            out.push_back(proj("token_embd.weight", norm(xi, w.at("output_norm.weight"), c.rms_eps),
                               static_cast<std::size_t>(c.vocab_size)));
        return out;
    }
};

}  // namespace ternspec::fixtures
