#pragma once
// An independent, naive double-precision Qwen3 (and MTP module) written for the tests: it shares no code
// with the kernels, the forward or the drafters, only the file readers and dequantisation.
#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "target/formats/dequantize.hpp"
#include "target/model/model_files.hpp"

namespace ternspec::fixtures {

struct NaiveQwen3 {
    using Rows = std::vector<std::vector<double>>;
    ModelConfig c;
    std::map<std::string, std::vector<double>> w;

    explicit NaiveQwen3(const ModelFiles& f) : c(f.config()) {
        for (const auto& [name, t] : f.tensors()) {
            std::vector<float> v(t.n_elems());
            dequantize(t.type, t.data, v.data(), v.size());
            w[name].assign(v.begin(), v.end());
        }
    }
    static std::vector<double> norm(const std::vector<double>& x, const std::vector<double>& g, double eps) {
        double ss = 0;
        for (double v : x) ss += v * v;
        const double r = 1.0 / std::sqrt(ss / static_cast<double>(x.size()) + eps);
        std::vector<double> o(x.size());
        for (std::size_t i = 0; i < x.size(); ++i) o[i] = x[i] * r * g[i];
        return o;
    }
    static std::vector<double> matvec(const std::vector<double>& m, const std::vector<double>& x,
                                      std::size_t rows) {
        std::vector<double> o(rows, 0.0);
        for (std::size_t r = 0; r < rows; ++r)
            for (std::size_t k = 0; k < x.size(); ++k) o[r] += m[r * x.size() + k] * x[k];
        return o;
    }
    std::vector<double> embedding(std::int32_t id) const {
        const auto H = static_cast<std::size_t>(c.hidden_size);
        const auto& e = w.at("token_embd.weight");
        return {e.begin() + static_cast<std::ptrdiff_t>(static_cast<std::size_t>(id) * H),
                e.begin() + static_cast<std::ptrdiff_t>((static_cast<std::size_t>(id) + 1) * H)};
    }
    // Causal grouped-query attention of token i over tokens 0..i: softmax(q k^T / sqrt(hd)) v per head.
    static std::vector<double> attend(const Rows& q, const Rows& k, const Rows& v, std::size_t i,
                                      std::size_t nh, std::size_t nkv, std::size_t hd) {
        std::vector<double> att(nh * hd, 0.0);
        for (std::size_t hh = 0; hh < nh; ++hh) {
            const std::size_t g = hh / (nh / nkv);
            std::vector<double> s(i + 1);
            double mx = -1e300;
            for (std::size_t j = 0; j <= i; ++j) {
                double d = 0;
                for (std::size_t e = 0; e < hd; ++e) d += q[i][hh * hd + e] * k[j][g * hd + e];
                s[j] = d / std::sqrt(static_cast<double>(hd));
                mx = std::max(mx, s[j]);
            }
            double z = 0;
            for (auto& e : s) z += (e = std::exp(e - mx));
            for (std::size_t j = 0; j <= i; ++j)
                for (std::size_t e = 0; e < hd; ++e) att[hh * hd + e] += s[j] / z * v[j][g * hd + e];
        }
        return att;
    }
    // One decoder layer (tensors under prefix p) over a causal sequence at positions 0, 1, ...
    void block(const std::string& p, Rows& x) {
        const std::size_t H = static_cast<std::size_t>(c.hidden_size),
                          hd = static_cast<std::size_t>(c.head_dim);
        const std::size_t nh = static_cast<std::size_t>(c.n_heads),
                          nkv = static_cast<std::size_t>(c.n_kv_heads);
        const std::size_t n = x.size();
        Rows q(n), k(n), v(n);
        for (std::size_t i = 0; i < n; ++i) {
            const auto h = norm(x[i], w[p + "attn_norm.weight"], c.rms_eps);
            q[i] = matvec(w[p + "attn_q.weight"], h, nh * hd);
            k[i] = matvec(w[p + "attn_k.weight"], h, nkv * hd);
            v[i] = matvec(w[p + "attn_v.weight"], h, nkv * hd);
            auto rope = [&](std::vector<double>& vec, std::size_t heads, const std::vector<double>& g) {
                for (std::size_t hh = 0; hh < heads; ++hh) {
                    std::vector<double> part(vec.begin() + static_cast<std::ptrdiff_t>(hh * hd),
                                             vec.begin() + static_cast<std::ptrdiff_t>((hh + 1) * hd));
                    part = norm(part, g, c.rms_eps);
                    for (std::size_t j = 0; j < hd / 2; ++j) {
                        const double a = static_cast<double>(i) *
                                         std::pow(static_cast<double>(c.rope_theta),
                                                  -2.0 * static_cast<double>(j) / static_cast<double>(hd));
                        vec[hh * hd + j] = part[j] * std::cos(a) - part[j + hd / 2] * std::sin(a);
                        vec[hh * hd + j + hd / 2] = part[j + hd / 2] * std::cos(a) + part[j] * std::sin(a);
                    }
                }
            };
            rope(q[i], nh, w[p + "attn_q_norm.weight"]);
            rope(k[i], nkv, w[p + "attn_k_norm.weight"]);
        }
        for (std::size_t i = 0; i < n; ++i) {
            const auto att = attend(q, k, v, i, nh, nkv, hd);
            const auto o = matvec(w[p + "attn_output.weight"], att, H);
            for (std::size_t e = 0; e < H; ++e) x[i][e] += o[e];
            const auto h = norm(x[i], w[p + "ffn_norm.weight"], c.rms_eps);
            const auto gt =
                matvec(w[p + "ffn_gate.weight"], h, static_cast<std::size_t>(c.intermediate_size));
            const auto up = matvec(w[p + "ffn_up.weight"], h, static_cast<std::size_t>(c.intermediate_size));
            std::vector<double> a(gt.size());
            for (std::size_t e = 0; e < a.size(); ++e) a[e] = gt[e] / (1 + std::exp(-gt[e])) * up[e];
            const auto d = matvec(w[p + "ffn_down.weight"], a, H);
            for (std::size_t e = 0; e < H; ++e) x[i][e] += d[e];
        }
    }
    // The final pre-norm hidden state of every token.
    Rows hidden(const std::vector<std::int32_t>& ids) {
        Rows x;
        for (auto id : ids) x.push_back(embedding(id));
        for (int l = 0; l < c.n_layers; ++l) block("blk." + std::to_string(l) + ".", x);
        return x;
    }
    // The tied head after the given norm.
    std::vector<double> head(const std::vector<double>& x, const std::vector<double>& g) {
        return matvec(w.at("token_embd.weight"), norm(x, g, c.rms_eps),
                      static_cast<std::size_t>(c.vocab_size));
    }
    Rows logits(const std::vector<std::int32_t>& ids) {
        Rows out;
        for (auto& xi : hidden(ids)) out.push_back(head(xi, w.at("output_norm.weight")));
        return out;
    }
};

}  // namespace ternspec::fixtures
