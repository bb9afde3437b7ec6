#include "drafters/eagle_head.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

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

// A field at the top level of the config or inside eagle_config (checkpoints use both); null when absent.
nlohmann::json eagle_field(const nlohmann::json& j, const char* key) {
    if (j.contains(key)) return j[key];
    if (j.contains("eagle_config") && j["eagle_config"].is_object() && j["eagle_config"].contains(key))
        return j["eagle_config"][key];
    return nullptr;
}

// Whose convention explicit aux layer ids follow: the config's eagle_aux_hidden_state_layer_convention, else
// the drafter option, else vLLM's with a warning (the two differ by one layer, and a head read in the wrong
// one drafts badly without any error).
std::string layer_convention(const nlohmann::json& j, const std::string& cfg_path,
                             const std::string& option) {
    const auto check = [](const std::string& v, const std::string& what) {
        if (v != "vllm" && v != "sglang")
            throw FormatError(what + " is \"" + v +
                              "\"; it must be \"vllm\" (the stream entering layer id) or " +
                              "\"sglang\" (the output of layer id)");
        return v;
    };
    const auto field = eagle_field(j, "eagle_aux_hidden_state_layer_convention");
    if (!field.is_null() && !field.is_string())
        throw FormatError(cfg_path + ": eagle_aux_hidden_state_layer_convention is not a string");
    const std::string from_config =
        field.is_string()
            ? check(field.get<std::string>(), cfg_path + ": eagle_aux_hidden_state_layer_convention")
            : "";
    const std::string from_option = option.empty() ? "" : check(option, "eagle_layer_convention");
    if (!from_config.empty() && !from_option.empty() && from_config != from_option)
        throw InputError("eagle_layer_convention=" + from_option + " contradicts " + cfg_path +
                         ", which says " + from_config);
    if (!from_config.empty()) return from_config;
    if (!from_option.empty()) return from_option;
    spdlog::warn(
        "{}: explicit eagle_aux_hidden_state_layer_ids without a convention; reading them as vLLM's "
        "(the stream entering layer id). A head trained with SpecForge for SGLang needs "
        "--draft-opt eagle_layer_convention=sglang",
        cfg_path);
    return "vllm";
}

}  // namespace

namespace {

// The GGUF form (docs/eagle.md) keeps the checkpoint's tensor names and stores config.json's fields as
// eagle3.* metadata; this turns them back into the config.json the loader reads.
nlohmann::json config_from_gguf(const GgufFile& g) {
    auto u = [&](const std::string& k) { return g.get("eagle3." + k).as_int("eagle3." + k); };
    nlohmann::json j = {{"architectures", {"LlamaForCausalLMEagle3"}},
                        {"hidden_size", u("embedding_length")},
                        {"intermediate_size", u("feed_forward_length")},
                        {"num_attention_heads", u("attention.head_count")},
                        {"num_key_value_heads", u("attention.head_count_kv")},
                        {"head_dim", u("attention.key_length")},
                        {"vocab_size", u("vocab_size")},
                        {"draft_vocab_size", u("draft_vocab_size")},
                        {"target_hidden_size", u("target_hidden_size")},
                        {"rope_theta", g.get("eagle3.rope.freq_base").as_float("eagle3.rope.freq_base")},
                        {"rms_norm_eps", g.get("eagle3.attention.layer_norm_rms_epsilon")
                                             .as_float("eagle3.attention.layer_norm_rms_epsilon")}};
    // Absent when the checkpoint listed none: the loader then takes the published defaults for the target.
    if (const auto* layers = g.find("eagle3.aux_hidden_state_layer_ids")) {
        nlohmann::json ids = nlohmann::json::array();
        for (const auto& v : layers->as_array("eagle3.aux_hidden_state_layer_ids"))
            ids.push_back(v.as_int("eagle3.aux_hidden_state_layer_ids"));
        j["eagle_config"] = {{"eagle_aux_hidden_state_layer_ids", ids}};
        if (const auto* conv = g.find("eagle3.aux_hidden_state_layer_convention"))
            j["eagle_config"]["eagle_aux_hidden_state_layer_convention"] =
                conv->as_string("eagle3.aux_hidden_state_layer_convention");
    }
    return j;
}

}  // namespace

EagleSource EagleSource::open(const std::string& path) {
    return naming_file(path, [&] {
        namespace fs = std::filesystem;
        EagleSource src;
        src.path = path;
        if (fs::is_regular_file(path)) {
            auto g = std::make_shared<GgufFile>(path);
            const auto arch = g->get("general.architecture").as_string("general.architecture");
            if (arch != "eagle3")
                throw FormatError(path + ": general.architecture is " + arch +
                                  ", not eagle3 (an EAGLE-3 head)");
            src.config = config_from_gguf(*g);
            src.config_origin = path;
            for (const auto& t : g->tensors())
                src.tensors[t.name] = {t.name, t.name, t.type, t.shape, g->tensor_data(t), t.n_bytes, path};
            src.keep = g;
            return src;
        }
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

std::shared_ptr<EagleHead> EagleHead::load(const std::string& path, const Qwen3Model& target,
                                           const std::string& convention) {
    return naming_file(path, [&] {
        const auto src = EagleSource::open(path);
        const std::string& cfg_path = src.config_origin;
        const nlohmann::json& j = src.config;
        auto h = std::make_shared<EagleHead>();
        h->target_ = &target;
        EagleConfig& c = h->cfg_;
        const auto& tc = target.config();
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
        for (const char* variant : {"fc_norm", "norm_before_residual"})
            if (json_bool_field(j, variant, cfg_path, false))
                throw FormatError(cfg_path + ": " + variant +
                                  " is true; ternspec's EAGLE-3 head implements the variant without it");
        const nlohmann::json ids = eagle_field(j, "eagle_aux_hidden_state_layer_ids");
        if (ids.is_array()) {
            // SGLang (and SpecForge, which trains for it) captures the output of layer id, i.e. the stream
            // entering id + 1; vLLM and ternspec the stream entering id.
            const bool sglang = layer_convention(j, cfg_path, convention) == "sglang";
            for (const auto& v : ids)
                c.aux_layers.push_back(
                    static_cast<int>(json_integer(v, 0, tc.n_layers - (sglang ? 1 : 0),
                                                  cfg_path + ": eagle_aux_hidden_state_layer_ids")) +
                    (sglang ? 1 : 0));
        } else {
            c.aux_layers = {std::min(2, tc.n_layers - 1), tc.n_layers / 2, std::max(0, tc.n_layers - 3)};
        }
        if (c.aux_layers.size() != 3)
            throw FormatError(cfg_path + ": eagle_aux_hidden_state_layer_ids must list three layers");
        for (int l : c.aux_layers)
            if (l < 0 || l > tc.n_layers)
                throw FormatError(cfg_path + ": aux layer " + std::to_string(l) +
                                  " is outside the target's 0.." + std::to_string(tc.n_layers));
        if (c.vocab != tc.vocab_size)
            throw FormatError(cfg_path + ": vocab_size " + std::to_string(c.vocab) +
                              " differs from the target's " + std::to_string(tc.vocab_size));
        if (c.target_hidden != tc.hidden_size)
            throw FormatError(cfg_path + ": target_hidden_size " + std::to_string(c.target_hidden) +
                              " differs from the target's " + std::to_string(tc.hidden_size));
        if (c.heads % c.kv_heads != 0 || c.head_dim % 2 != 0)
            throw FormatError(cfg_path + ": inconsistent attention shape");

        auto find = [&](const std::string& name) -> const TensorRef* {
            auto it = src.tensors.find(name);
            return it == src.tensors.end() ? nullptr : &it->second;
        };
        auto get = [&](const std::string& name, std::vector<std::uint64_t> shape) {
            const TensorRef* t = find(name);
            // Some exporters name the layer layers.0 instead of midlayer.
            if (!t && name.rfind("midlayer.", 0) == 0) t = find("layers.0." + name.substr(9));
            if (!t) throw FormatError(path + ": missing tensor " + name);
            if (t->shape != shape) throw FormatError(t->file + ": tensor " + name + " has the wrong shape");
            std::uint64_t n = 1;
            for (auto d : t->shape) n *= d;
            std::vector<float> v(n);
            dequantize(t->type, t->data, v.data(), n);
            return v;
        };
        const auto H = static_cast<std::uint64_t>(c.hidden), I = static_cast<std::uint64_t>(c.intermediate);
        const auto QD = static_cast<std::uint64_t>(c.heads) * c.head_dim,
                   KD = static_cast<std::uint64_t>(c.kv_heads) * c.head_dim;
        auto mat = [&](const std::string& name, std::uint64_t rows, std::uint64_t cols) {
            const TensorRef* t = find(name);
            if (!t && name.rfind("midlayer.", 0) == 0) t = find("layers.0." + name.substr(9));
            if (!t) throw FormatError(path + ": missing tensor " + name);
            if (t->shape != std::vector<std::uint64_t>{rows, cols})
                throw FormatError(t->file + ": tensor " + name + " has the wrong shape");
            return HeadMatrix::load(*t);
        };
        h->fc_ = mat("fc.weight", H, 3 * static_cast<std::uint64_t>(c.target_hidden));
        h->q_ = mat("midlayer.self_attn.q_proj.weight", QD, 2 * H);
        h->k_ = mat("midlayer.self_attn.k_proj.weight", KD, 2 * H);
        h->v_ = mat("midlayer.self_attn.v_proj.weight", KD, 2 * H);
        h->o_ = mat("midlayer.self_attn.o_proj.weight", H, QD);
        h->gate_ = mat("midlayer.mlp.gate_proj.weight", I, H);
        h->up_ = mat("midlayer.mlp.up_proj.weight", I, H);
        h->down_ = mat("midlayer.mlp.down_proj.weight", H, I);
        h->lm_head_ = mat("lm_head.weight", static_cast<std::uint64_t>(c.draft_vocab), H);
        h->input_norm_ = get("midlayer.input_layernorm.weight", {H});
        h->hidden_norm_ = get("midlayer.hidden_norm.weight", {H});
        h->post_norm_ = get("midlayer.post_attention_layernorm.weight", {H});
        h->final_norm_ = get("norm.weight", {H});
        if (find("embed_tokens.weight"))
            h->embed_ = get("embed_tokens.weight", {static_cast<std::uint64_t>(c.vocab), H});
        else if (c.hidden != tc.hidden_size)
            throw FormatError(path + ": no embed_tokens.weight, and the target's embedding is not " +
                              std::to_string(c.hidden) + " wide");
        if (find("d2t")) {
            const auto d = get("d2t", {static_cast<std::uint64_t>(c.draft_vocab)});
            h->d2t_.assign(d.begin(), d.end());
        } else {
            h->d2t_.assign(static_cast<std::size_t>(c.draft_vocab), 0);
        }
        for (std::size_t i = 0; i < h->d2t_.size(); ++i) {
            const auto t = static_cast<std::int64_t>(i) + h->d2t_[i];
            if (t < 0 || t >= c.vocab)
                throw FormatError(path + ": d2t maps draft id " + std::to_string(i) +
                                  " outside the target vocabulary");
        }
        return h;
    });
}

void write_eagle_gguf(const EagleSource& in, const std::string& out, TensorType type) {
    if (type != TensorType::F32 && type != TensorType::F16 && type != TensorType::BF16 &&
        !type_info(type).ternary)
        throw InputError(
            "an EAGLE-3 head is written as f32, f16, bf16 or (exactly ternary heads) a ternary type");
    const auto& j = in.config;
    auto num = [&](const char* key, long long fallback) -> long long {
        if (j.contains(key) && j[key].is_number_integer()) return j[key].get<long long>();
        if (fallback < 0) throw FormatError(in.config_origin + ": lacks " + key);
        return fallback;
    };
    GgufWriter w;
    w.set("general.architecture", GgufValue::str("eagle3"));
    w.set("general.alignment", GgufValue::u32(32));
    const auto hidden = num("hidden_size", -1), heads = num("num_attention_heads", -1);
    auto u32 = [&](const std::string& k, long long v) {
        w.set("eagle3." + k, GgufValue::u32(static_cast<std::uint32_t>(v)));
    };
    u32("embedding_length", hidden);
    u32("feed_forward_length", num("intermediate_size", -1));
    u32("attention.head_count", heads);
    u32("attention.head_count_kv", num("num_key_value_heads", heads));
    u32("attention.key_length", num("head_dim", hidden / heads));
    u32("vocab_size", num("vocab_size", -1));
    u32("draft_vocab_size", num("draft_vocab_size", num("vocab_size", -1)));
    u32("target_hidden_size", num("target_hidden_size", hidden));
    w.set("eagle3.rope.freq_base", GgufValue::f32(j.value("rope_theta", 10000.0f)));
    w.set("eagle3.attention.layer_norm_rms_epsilon", GgufValue::f32(j.value("rms_norm_eps", 1e-6f)));
    const nlohmann::json ids =
        j.contains("eagle_aux_hidden_state_layer_ids") ? j["eagle_aux_hidden_state_layer_ids"]
        : j.contains("eagle_config")
            ? j["eagle_config"].value("eagle_aux_hidden_state_layer_ids", nlohmann::json())
            : nlohmann::json();
    // SpecForge's Qwen3 configs list no layer ids: the file then carries none either, and loading it takes
    // the published defaults for its target ({2, L/2, L-3}), as loading the folder does.
    if (!ids.is_null() && !ids.is_array())
        throw FormatError(in.config_origin + ": eagle_aux_hidden_state_layer_ids is not a list");
    if (ids.is_array()) {
        std::vector<GgufValue> items;
        for (const auto& v : ids)
            items.push_back(GgufValue::i32(static_cast<std::int32_t>(
                json_integer(v, 0, 1 << 16, in.config_origin + ": eagle_aux_hidden_state_layer_ids"))));
        w.set("eagle3.aux_hidden_state_layer_ids", GgufValue::array(GgufType::I32, std::move(items)));
        const auto conv = eagle_field(j, "eagle_aux_hidden_state_layer_convention");
        if (conv.is_string())
            w.set("eagle3.aux_hidden_state_layer_convention", GgufValue::str(conv.get<std::string>()));
    }
    for (const auto& [name, t] : in.tensors) {
        if (t.type == TensorType::I8 || t.type == TensorType::I32 || t.type == TensorType::I64) {
            w.add_tensor(name, t.type, t.shape, std::vector<std::uint8_t>(t.data, t.data + t.n_bytes));
            continue;
        }
        if (t.shape.size() == 2 && type_info(type).ternary) {  // refused by name unless exactly ternary
            w.add_tensor(name, type, t.shape, encode_ternary_exact(t, type, false));
            continue;
        }
        std::vector<float> v(t.n_elems());
        dequantize(t.type, t.data, v.data(), v.size());
        const TensorType to = t.shape.size() == 1 ? TensorType::F32 : type;
        std::vector<std::uint8_t> bytes(tensor_bytes(to, v.size(), name));
        quantize(to, v.data(), bytes.data(), v.size());
        w.add_tensor(name, to, t.shape, std::move(bytes));
    }
    w.write(out);
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
