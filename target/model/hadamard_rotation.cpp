#include "target/model/hadamard_rotation.hpp"

#include <algorithm>
#include <cmath>

#include "target/formats/gguf.hpp"
#include "target/model/model_config.hpp"
#include "ternspec/error.hpp"

namespace ternspec {
namespace {

const char* kKnown[] = {
    "version",      "block_size",           "transform",   "axis",        "sign_mode",
    "weight_names", "inverse_weight_names", "sign_widths", "sign_values", "gdn_v_grouped"};

}  // namespace

std::shared_ptr<const HadamardRotation> HadamardRotation::from_gguf(const GgufFile& g, const ModelConfig& c) {
    bool any = false;
    for (const auto& [key, value] : g.metadata()) {
        if (key.rfind("prism.", 0) != 0) continue;
        any = true;
        const std::string rest = key.rfind("prism.hadamard.", 0) == 0 ? key.substr(15) : "";
        if (std::find(std::begin(kKnown), std::end(kKnown), rest) == std::end(kKnown))
            throw FormatError(g.path() + ": metadata " + key + " is not understood by ternspec");
    }
    if (!any) return nullptr;
    const std::string p = "prism.hadamard.";
    auto fail = [&](const std::string& key, const std::string& why) -> FormatError {
        return FormatError(g.path() + ": metadata " + p + key + " " + why);
    };
    auto text = [&](const std::string& key) { return g.get(p + key).as_string(p + key); };
    auto integer = [&](const std::string& key) { return g.get(p + key).as_int(p + key); };
    auto names = [&](const std::string& key) {
        std::set<std::string> out;
        if (!g.find(p + key)) return out;
        for (const auto& v : g.get(p + key).as_array(p + key)) out.insert(v.as_string(p + key));
        return out;
    };
    auto r = std::make_shared<HadamardRotation>();
    const auto version = integer("version");
    if (version != 1 && version != 2)
        throw fail("version", "is " + std::to_string(version) + "; ternspec reads versions 1 and 2");
    if (text("transform") != "normalized-sylvester-walsh-hadamard")
        throw fail("transform",
                   "is '" + text("transform") + "'; ternspec applies normalized-sylvester-walsh-hadamard");
    if (text("axis") != "input-last-dimension")
        throw fail("axis", "is '" + text("axis") + "'; ternspec applies input-last-dimension");
    const auto block = integer("block_size");
    if (block < 2 || block > (1 << 16) || (block & (block - 1)) != 0)
        throw fail("block_size", std::to_string(block) + " is not a power of two in [2, 65536]");
    r->block_ = static_cast<int>(block);
    r->norm_ = static_cast<float>(1.0 / std::sqrt(static_cast<double>(block)));
    const std::string mode = text("sign_mode");
    if (mode == "identity") {
        r->identity_signs_ = true;
    } else if (mode == "explicit") {
        const auto widths = g.get(p + "sign_widths").as_array(p + "sign_widths");
        const auto values = g.get(p + "sign_values").as_array(p + "sign_values");
        std::size_t at = 0;
        for (const auto& w : widths) {
            const auto width = w.as_int(p + "sign_widths");
            if (width <= 0 || width > (1 << 20) || r->signs_.count(static_cast<int>(width)))
                throw fail("sign_widths",
                           "holds " + std::to_string(width) + ", not a new width in [1, 2^20]");
            if (at + static_cast<std::size_t>(width) > values.size())
                throw fail("sign_values", "has " + std::to_string(values.size()) +
                                              " values, fewer than sign_widths add up to");
            auto& s = r->signs_[static_cast<int>(width)];
            for (std::size_t i = 0; i < static_cast<std::size_t>(width); ++i) {
                const double v = values[at + i].as_float(p + "sign_values");
                if (v != 1.0 && v != -1.0)
                    throw fail("sign_values",
                               "holds " + std::to_string(v) + " where only +1 and -1 are signs");
                s.push_back(static_cast<float>(v));
            }
            at += static_cast<std::size_t>(width);
        }
        if (at != values.size())
            throw fail("sign_values", "has " + std::to_string(values.size()) +
                                          " values; sign_widths add up to " + std::to_string(at));
    } else {
        throw fail("sign_mode", "is '" + mode + "'; ternspec reads explicit and identity");
    }
    r->weights_ = names("weight_names");
    const auto inverse = names("inverse_weight_names");
    for (const auto& n : inverse)
        if (n != "token_embd.weight")
            throw fail("inverse_weight_names", "names " + n + "; ternspec un-rotates token_embd.weight only");
    r->latent_embedding_ = inverse.count("token_embd.weight") != 0;
    r->v_grouped_ = g.find(p + "gdn_v_grouped") && g.get(p + "gdn_v_grouped").as_bool(p + "gdn_v_grouped");
    if (r->v_grouped_ && c.hybrid() && c.ssm_value_heads % c.ssm_key_heads != 0)
        throw fail("gdn_v_grouped", "needs value heads a multiple of key heads");
    // Every input width a folded weight or the embedding uses must be whole blocks and have signs.
    for (const auto& name : r->weights_) {
        const auto* t = g.find_tensor(name);
        if (!t) throw fail("weight_names", "names " + name + ", which the file does not have");
        const auto width = static_cast<std::int64_t>(t->shape.back());
        if (width % block != 0)
            throw fail("block_size", std::to_string(block) + " does not divide " + name + "'s input width " +
                                         std::to_string(width));
        if (!r->identity_signs_ && !r->signs_.count(static_cast<int>(width)))
            throw fail("sign_widths", "has no signs for width " + std::to_string(width) + " (" + name + ")");
    }
    if (r->latent_embedding_ &&
        (c.hidden_size % block != 0 || (!r->identity_signs_ && !r->signs_.count(c.hidden_size))))
        throw fail("sign_widths", "has no signs, or block_size does not divide, the embedding width " +
                                      std::to_string(c.hidden_size));
    return r;
}

std::vector<std::string> ternary_matrix_names(const ModelConfig& c) {
    std::vector<std::string> names;
    if (!c.tied_embeddings) names.push_back("output.weight");
    for (int l = 0; l < c.n_layers; ++l) {
        const std::string p = "blk." + std::to_string(l) + ".";
        const std::vector<std::string> own =
            c.is_recurrent(l) ? std::vector<std::string>{"attn_qkv", "attn_gate", "ssm_out"}
                              : std::vector<std::string>{"attn_q", "attn_k", "attn_v", "attn_output"};
        for (const auto& n : own) names.push_back(p + n + ".weight");
        for (const char* n : {"ffn_gate", "ffn_up", "ffn_down"}) names.push_back(p + n + ".weight");
    }
    return names;
}

void HadamardRotation::check_covers(const std::vector<std::string>& names, const std::string& file) const {
    for (const auto& n : names)
        if (!folds(n))
            throw FormatError(file + ": prism.hadamard.weight_names leaves out " + n +
                              "; ternspec applies the rotation to every ternary matrix or none");
}

const std::vector<float>& HadamardRotation::signs(int n) const {
    const auto it = signs_.find(n);
    if (it == signs_.end()) throw Error("HadamardRotation: no signs for width " + std::to_string(n));
    return it->second;
}

// In place, per block: butterflies of growing span, then the normalisation. A fixed order, one code path.
void HadamardRotation::hadamard(float* x, int n) const {
    for (int b = 0; b < n; b += block_) {
        float* v = x + b;
        for (int len = 1; len < block_; len *= 2)
            for (int i = 0; i < block_; i += 2 * len)
                for (int j = i; j < i + len; ++j) {
                    const float a = v[j], c = v[j + len];
                    v[j] = a + c;
                    v[j + len] = a - c;
                }
        for (int j = 0; j < block_; ++j) v[j] *= norm_;
    }
}

void HadamardRotation::forward(float* x, int n) const {
    if (!identity_signs_) {
        const auto& s = signs(n);
        for (int i = 0; i < n; ++i) x[i] *= s[static_cast<std::size_t>(i)];
    }
    hadamard(x, n);
}

void HadamardRotation::inverse(float* e, int n) const {
    hadamard(e, n);
    if (!identity_signs_) {
        const auto& s = signs(n);
        for (int i = 0; i < n; ++i) e[i] *= s[static_cast<std::size_t>(i)];
    }
}

void HadamardRotation::tiled_to_grouped(float* x, int d, int key_heads, int value_heads, float* tmp) {
    const int rep = value_heads / key_heads;
    for (int k = 0; k < key_heads; ++k)
        for (int r = 0; r < rep; ++r)  // grouped head k * rep + r is tiled head r * key_heads + k
            std::copy_n(x + static_cast<std::size_t>(r * key_heads + k) * d, d,
                        tmp + static_cast<std::size_t>(k * rep + r) * d);
    std::copy_n(tmp, static_cast<std::size_t>(value_heads) * d, x);
}

}  // namespace ternspec
