#include "drafters/eagle_head.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "drafters/eagle_config.hpp"
#include "target/formats/dequantize.hpp"
#include "target/formats/gguf.hpp"
#include "target/formats/safetensors.hpp"
#include "target/io/file_errors.hpp"
#include "target/io/json_fields.hpp"
#include "target/io/mapped_file.hpp"
#include "target/model/attention.hpp"
#include "target/model/gguf_export.hpp"
#include "target/model/qwen3_model.hpp"
#include "ternspec/error.hpp"

namespace ternspec {
namespace {

int get_int(const nlohmann::json& j, const char* key, const std::string& what, int fallback = -1) {
    return static_cast<int>(json_int_field(
        j, key, what, 1, 1 << 24, fallback >= 0 ? std::optional<std::int64_t>(fallback) : std::nullopt));
}

}  // namespace

EagleSource EagleSource::open(const std::string& path) {
    return naming_file(path, [&] {
        namespace fs = std::filesystem;
        EagleSource src;
        src.path = path;
        if (fs::is_regular_file(path)) return open_gguf(path);
        const std::string cfg_path = (fs::path(path) / "config.json").string();
        if (!fs::is_directory(path) || !fs::exists(cfg_path))
            throw InputError(
                path +
                ": an EAGLE-3 draft model is a folder with config.json and model.safetensors, or a GGUF");
        src.config_origin = cfg_path;
        src.config = read_json_file(cfg_path);
        auto st = std::make_shared<SafetensorsSet>(path);
        for (const auto& [name, t] : st->tensors())
            src.tensors[name] = {name, name, t.type, t.shape(), t.data, t.n_bytes, t.file()};
        src.keep = st;
        return src;
    });
}

namespace {

// The head's shape from its config.json, checked against the target it drafts for.
EagleConfig read_eagle_config(const nlohmann::json& j, const std::string& cfg_path, const ModelConfig& tc,
                              const std::string& convention) {
    EagleConfig c;
    c.hidden = get_int(j, "hidden_size", cfg_path);
    c.intermediate = get_int(j, "intermediate_size", cfg_path);
    c.heads = get_int(j, "num_attention_heads", cfg_path);
    c.kv_heads = get_int(j, "num_key_value_heads", cfg_path, c.heads);
    c.head_dim = get_int(j, "head_dim", cfg_path, c.hidden / c.heads);
    c.vocab = get_int(j, "vocab_size", cfg_path);
    c.draft_vocab = get_int(j, "draft_vocab_size", cfg_path, c.vocab);
    c.target_hidden = get_int(j, "target_hidden_size", cfg_path, tc.hidden_size);
    c.rope_theta = json_float_field(j, "rope_theta", cfg_path, 10000.0f, 0, 1e12);
    c.rms_eps = json_float_field(j, "rms_norm_eps", cfg_path, 1e-6f, 0, 1);
    // Variants of the head's layout that this implementation does not compute: refused by name rather
    // than run with the wrong arithmetic (acceptance would collapse without an error).
    for (const char* variant : {"fc_norm", "norm_before_residual", "norm_before_fc"})
        if (json_bool_field(j, variant, cfg_path, false))
            throw FormatError(cfg_path + ": " + variant +
                              " is true; ternspec's EAGLE-3 head implements the variant without it");
    c.aux_layers = aux_layers_for(j, cfg_path, tc.n_layers, convention);
    if (c.aux_layers.size() != 3)
        throw FormatError(cfg_path + ": eagle_aux_hidden_state_layer_ids must list three layers");
    for (int l : c.aux_layers)
        if (l < 0 || l > tc.n_layers)
            throw FormatError(cfg_path + ": aux layer " + std::to_string(l) + " is outside the target's 0.." +
                              std::to_string(tc.n_layers));
    if (c.vocab != tc.vocab_size)
        throw FormatError(cfg_path + ": vocab_size " + std::to_string(c.vocab) +
                          " differs from the target's " + std::to_string(tc.vocab_size));
    if (c.target_hidden != tc.hidden_size)
        throw FormatError(cfg_path + ": target_hidden_size " + std::to_string(c.target_hidden) +
                          " differs from the target's " + std::to_string(tc.hidden_size));
    if (c.heads % c.kv_heads != 0 || c.head_dim % 2 != 0)
        throw FormatError(cfg_path + ": inconsistent attention shape");
    return c;
}

// A tensor of the head by its published name, with the shape it must have. Some exporters name the layer
// layers.0 instead of midlayer.
const TensorRef& head_tensor(const EagleSource& src, const std::string& path, const std::string& name,
                             const std::vector<std::uint64_t>& shape) {
    auto it = src.tensors.find(name);
    if (it == src.tensors.end() && name.rfind("midlayer.", 0) == 0)
        it = src.tensors.find("layers.0." + name.substr(9));
    if (it == src.tensors.end()) throw FormatError(path + ": missing tensor " + name);
    if (it->second.shape != shape)
        throw FormatError(it->second.file + ": tensor " + name + " has the wrong shape");
    return it->second;
}

std::vector<float> head_floats(const EagleSource& src, const std::string& path, const std::string& name,
                               const std::vector<std::uint64_t>& shape) {
    const TensorRef& t = head_tensor(src, path, name, shape);
    std::vector<float> v(t.n_elems());
    dequantize(t.type, t.data, v.data(), v.size());
    return v;
}

}  // namespace

std::shared_ptr<EagleHead> EagleHead::load(const std::string& path, std::shared_ptr<const Qwen3Model> target,
                                           const std::string& convention) {
    return naming_file(path, [&] {
        const auto src = EagleSource::open(path);
        auto h = std::make_shared<EagleHead>();
        h->cfg_ = read_eagle_config(src.config, src.config_origin, target->config(), convention);
        h->target_ = std::move(target);
        h->load_weights(src, path);
        return h;
    });
}

void EagleHead::load_weights(const EagleSource& src, const std::string& path) {
    const EagleConfig& c = cfg_;
    const auto H = static_cast<std::uint64_t>(c.hidden), I = static_cast<std::uint64_t>(c.intermediate);
    const auto QD = static_cast<std::uint64_t>(c.heads) * c.head_dim,
               KD = static_cast<std::uint64_t>(c.kv_heads) * c.head_dim;
    auto mat = [&](const std::string& name, std::uint64_t rows, std::uint64_t cols) {
        return HeadMatrix::load(head_tensor(src, path, name, {rows, cols}));
    };
    fc_ = mat("fc.weight", H, 3 * static_cast<std::uint64_t>(c.target_hidden));
    q_ = mat("midlayer.self_attn.q_proj.weight", QD, 2 * H);
    k_ = mat("midlayer.self_attn.k_proj.weight", KD, 2 * H);
    v_ = mat("midlayer.self_attn.v_proj.weight", KD, 2 * H);
    o_ = mat("midlayer.self_attn.o_proj.weight", H, QD);
    gate_ = mat("midlayer.mlp.gate_proj.weight", I, H);
    up_ = mat("midlayer.mlp.up_proj.weight", I, H);
    down_ = mat("midlayer.mlp.down_proj.weight", H, I);
    lm_head_ = mat("lm_head.weight", static_cast<std::uint64_t>(c.draft_vocab), H);
    input_norm_ = head_floats(src, path, "midlayer.input_layernorm.weight", {H});
    hidden_norm_ = head_floats(src, path, "midlayer.hidden_norm.weight", {H});
    post_norm_ = head_floats(src, path, "midlayer.post_attention_layernorm.weight", {H});
    final_norm_ = head_floats(src, path, "norm.weight", {H});
    if (src.tensors.count("embed_tokens.weight"))
        embed_ = head_floats(src, path, "embed_tokens.weight", {static_cast<std::uint64_t>(c.vocab), H});
    else if (c.hidden != target_->config().hidden_size)
        throw FormatError(path + ": no embed_tokens.weight, and the target's embedding is not " +
                          std::to_string(c.hidden) + " wide");
    d2t_.assign(static_cast<std::size_t>(c.draft_vocab), 0);
    if (src.tensors.count("d2t")) {
        const auto d = head_floats(src, path, "d2t", {static_cast<std::uint64_t>(c.draft_vocab)});
        d2t_.assign(d.begin(), d.end());
    }
    for (std::size_t i = 0; i < d2t_.size(); ++i) {
        const auto t = static_cast<std::int64_t>(i) + d2t_[i];
        if (t < 0 || t >= c.vocab)
            throw FormatError(path + ": d2t maps draft id " + std::to_string(i) +
                              " outside the target vocabulary");
    }
}

std::size_t EagleHead::bytes() const {
    return round_bytes() + step_bytes() + embed_.size() * sizeof(float);
}

std::size_t EagleHead::step_bytes() const {
    return q_.bytes() + k_.bytes() + v_.bytes() + o_.bytes() + gate_.bytes() + up_.bytes() + down_.bytes() +
           lm_head_.bytes();
}

KvCache EagleHead::make_cache(int capacity) const {
    ModelConfig mc;
    mc.n_layers = 1;
    mc.n_kv_heads = cfg_.kv_heads;
    mc.head_dim = cfg_.head_dim;
    return KvCache(mc, capacity, KvType::F32);
}

std::vector<float> EagleHead::fuse(const float* features, int M) const {
    std::vector<float> g(static_cast<std::size_t>(M) * cfg_.hidden);
    fc_.multiply(features, M, g.data());
    return g;
}

std::vector<float> EagleHead::forward(KvCache& cache, const float* g, std::span<const std::int32_t> tokens,
                                      std::span<const std::int32_t> positions,
                                      const std::vector<std::vector<int>>& slots,
                                      std::vector<float>* draft_logits, int logits_from) const {
    const int M = static_cast<int>(tokens.size()), H = cfg_.hidden, hd = cfg_.head_dim;
    const int QD = cfg_.heads * hd, KD = cfg_.kv_heads * hd, I = cfg_.intermediate;
    const int base = cache.size();
    if (base + M > cache.capacity())
        throw InputError("EAGLE head cache full at " + std::to_string(cache.capacity()) + " positions");
    std::vector<float> x(static_cast<std::size_t>(M) * 2 * H), e(static_cast<std::size_t>(H));
    for (int i = 0; i < M; ++i) {
        float* xi = x.data() + static_cast<std::size_t>(i) * 2 * H;
        if (embed_.empty())
            target_->embed(tokens[static_cast<std::size_t>(i)], e.data());
        else
            std::copy_n(embed_.begin() + static_cast<std::ptrdiff_t>(tokens[static_cast<std::size_t>(i)]) * H,
                        H, e.begin());
        rms_norm(e.data(), input_norm_.data(), H, cfg_.rms_eps, xi);
        rms_norm(g + static_cast<std::size_t>(i) * H, hidden_norm_.data(), H, cfg_.rms_eps, xi + H);
    }
    std::vector<float> q(static_cast<std::size_t>(M) * QD), k(static_cast<std::size_t>(M) * KD), v(k.size());
    q_.multiply(x.data(), M, q.data());
    k_.multiply(x.data(), M, k.data());
    v_.multiply(x.data(), M, v.data());
    const RopeTable rope(positions, hd, cfg_.rope_theta);
    for (int i = 0; i < M; ++i) {
        for (int hh = 0; hh < cfg_.heads; ++hh)
            rope.apply(q.data() + static_cast<std::size_t>(i) * QD + hh * hd, i);
        for (int hh = 0; hh < cfg_.kv_heads; ++hh)
            rope.apply(k.data() + static_cast<std::size_t>(i) * KD + hh * hd, i);
        cache.store(0, base + i, k.data() + static_cast<std::size_t>(i) * KD,
                    v.data() + static_cast<std::size_t>(i) * KD);
    }
    std::vector<float> att(static_cast<std::size_t>(M) * QD), h(static_cast<std::size_t>(M) * H);
    attend(cache, 0, slots, q.data(), static_cast<std::size_t>(QD), cfg_.heads, cfg_.kv_heads, hd,
           att.data());
    o_.multiply(att.data(), M, h.data());
    for (std::size_t t = 0; t < h.size(); ++t) h[t] += g[t];
    std::vector<float> n(h.size()), gt(static_cast<std::size_t>(M) * I), up(gt.size()), d(h.size());
    for (int i = 0; i < M; ++i)
        rms_norm(h.data() + static_cast<std::size_t>(i) * H, post_norm_.data(), H, cfg_.rms_eps,
                 n.data() + static_cast<std::size_t>(i) * H);
    gate_.multiply(n.data(), M, gt.data());
    up_.multiply(n.data(), M, up.data());
    for (std::size_t t = 0; t < gt.size(); ++t) gt[t] = gt[t] / (1.0f + std::exp(-gt[t])) * up[t];
    down_.multiply(gt.data(), M, d.data());
    for (std::size_t t = 0; t < h.size(); ++t) h[t] += d[t];
    cache.commit(M);
    if (draft_logits) {
        const int from = std::clamp(logits_from, 0, M), rows = M - from;
        for (int i = 0; i < rows; ++i)
            rms_norm(h.data() + static_cast<std::size_t>(from + i) * H, final_norm_.data(), H, cfg_.rms_eps,
                     n.data() + static_cast<std::size_t>(i) * H);
        draft_logits->resize(static_cast<std::size_t>(rows) * cfg_.draft_vocab);
        lm_head_.multiply(n.data(), rows, draft_logits->data());
    }
    return h;
}

}  // namespace ternspec
