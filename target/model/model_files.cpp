#include "target/model/model_files.hpp"

#include <algorithm>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>

#include "target/formats/gguf.hpp"
#include "target/formats/safetensors.hpp"
#include "target/io/file_errors.hpp"
#include "target/io/json_fields.hpp"
#include "target/io/mapped_file.hpp"
#include "target/model/hadamard_rotation.hpp"
#include "target/model/qwen35_folder.hpp"
#include "ternspec/error.hpp"

namespace ternspec {
namespace fs = std::filesystem;

std::uint64_t TensorRef::n_elems() const {
    std::uint64_t n = 1;
    for (auto d : shape) n *= d;
    return n;
}

std::string hf_to_gguf_name(const std::string& hf) {
    static const std::map<std::string, std::string> top = {
        {"model.embed_tokens.weight", "token_embd.weight"},
        {"model.norm.weight", "output_norm.weight"},
        {"lm_head.weight", "output.weight"},
    };
    if (auto it = top.find(hf); it != top.end()) return it->second;

    static const std::map<std::string, std::string> sub = {
        {"input_layernorm", "attn_norm"},
        {"post_attention_layernorm", "ffn_norm"},
        {"self_attn.q_proj", "attn_q"},
        {"self_attn.k_proj", "attn_k"},
        {"self_attn.v_proj", "attn_v"},
        {"self_attn.o_proj", "attn_output"},
        {"self_attn.q_norm", "attn_q_norm"},
        {"self_attn.k_norm", "attn_k_norm"},
        {"mlp.gate_proj", "ffn_gate"},
        {"mlp.up_proj", "ffn_up"},
        {"mlp.down_proj", "ffn_down"},
        // DeepSeek-V3-style MTP layers (model.layers.<L + d>), as llama.cpp names their nextn tensors.
        {"enorm", "nextn.enorm"},
        {"hnorm", "nextn.hnorm"},
        {"eh_proj", "nextn.eh_proj"},
        {"shared_head.norm", "nextn.shared_head_norm"},
        {"shared_head.head", "nextn.shared_head_head"},
        {"embed_tokens", "nextn.embed_tokens"},
    };
    // model.layers.<N>.<part>.weight
    const std::string prefix = "model.layers.", suffix = ".weight";
    if (hf.rfind(prefix, 0) != 0 || hf.size() <= prefix.size() + suffix.size() ||
        hf.compare(hf.size() - suffix.size(), suffix.size(), suffix) != 0)
        return "";
    const auto dot = hf.find('.', prefix.size());
    const std::string layer = hf.substr(prefix.size(), dot - prefix.size());
    if (dot == std::string::npos || layer.empty() ||
        layer.find_first_not_of("0123456789") != std::string::npos)
        return "";
    auto it = sub.find(hf.substr(dot + 1, hf.size() - suffix.size() - dot - 1));
    return it == sub.end() ? "" : "blk." + layer + "." + it->second + ".weight";
}

nlohmann::json read_json_file(const std::string& path) {
    try {
        return nlohmann::json::parse(read_text_file(path));
    } catch (const nlohmann::json::exception& e) {
        throw FormatError(path + ": invalid JSON: " + json_error_words(e));
    }
}

std::string folder_architecture(const std::string& path) {
    const auto cfg_path = fs::path(path) / "config.json";
    std::error_code ec;
    if (!fs::is_directory(path, ec) || !fs::exists(cfg_path, ec)) return "";
    try {
        const auto cfg = nlohmann::json::parse(read_text_file(cfg_path.string()), nullptr, false);
        if (!cfg.is_object() || !cfg.contains("architectures")) return "";
        const auto& a = cfg["architectures"];
        return a.is_array() && !a.empty() && a[0].is_string() ? a[0].get<std::string>() : "";
    } catch (const std::exception&) {
        return "";  // unreadable: ModelFiles::open reports it
    }
}

const TensorRef* find_tensor(const std::map<std::string, TensorRef>& tensors, const std::string& name) {
    auto it = tensors.find(name);
    return it == tensors.end() ? nullptr : &it->second;
}

const TensorRef& get_tensor(const std::map<std::string, TensorRef>& tensors, const std::string& name,
                            const std::string& missing) {
    if (auto* t = find_tensor(tensors, name)) return *t;
    throw FormatError(missing + name);
}

const TensorRef* ModelFiles::find(const std::string& name) const {
    return find_tensor(tensors_, name);
}
const TensorRef& ModelFiles::get(const std::string& name) const {
    return get_tensor(tensors_, name, path_ + ": missing tensor ");
}

namespace {

// tokenizer_config.json's chat_template: a string, or a list of {"name", "template"} of which "default"
// is the one for plain chat (transformers' choice when no tools are asked for).
std::string chat_template_field(const nlohmann::json& j, const std::string& path) {
    if (j.is_string()) return j.get<std::string>();
    if (j.is_null()) return "";
    if (j.is_array()) {
        std::string names;
        for (const auto& e : j) {
            if (!e.is_object() || !e.contains("name") || !e["name"].is_string() || !e.contains("template") ||
                !e["template"].is_string())
                throw FormatError(path +
                                  ": chat_template list entries must be {\"name\", \"template\"} strings");
            if (e["name"] == "default") return e["template"].get<std::string>();
            names += (names.empty() ? "" : ", ") + e["name"].get<std::string>();
        }
        throw FormatError(path + ": chat_template lists no \"default\" template (it has: " + names + ")");
    }
    throw FormatError(path + ": chat_template must be a string or a list of named templates");
}

std::int32_t json_int(const nlohmann::json& j, const char* key, const std::string& what,
                      std::optional<std::int64_t> fallback = std::nullopt) {
    return static_cast<std::int32_t>(json_int_field(j, key, what, 0, INT32_MAX, fallback));
}

// RoPE as transformers reads a Qwen3 config: rope_theta at the top level (default 10000), or nested in
// rope_parameters (newer transformers). Any scaling (rope_scaling or rope_type other than "default": YaRN,
// linear, dynamic) is refused by name: ternspec applies plain RoPE, and ignoring it would be silent.
float hf_rope_theta(const nlohmann::json& j, const std::string& file) {
    for (const char* key : {"rope_scaling", "rope_parameters"}) {
        if (!j.contains(key) || j[key].is_null()) continue;
        const auto& r = j[key];
        if (!r.is_object()) throw FormatError(file + ": " + key + " is not an object");
        const auto type = r.contains("rope_type") ? r["rope_type"]
                          : r.contains("type")    ? r["type"]
                                                  : nlohmann::json();
        if (!type.is_null() && type != "default")
            throw FormatError(file + ": " + key + " asks for " + type.dump() +
                              " RoPE scaling, which ternspec does not apply (plain RoPE only)");
        if (std::string(key) == "rope_parameters" && r.contains("rope_theta"))
            return json_float_field(r, "rope_theta", file + ": rope_parameters", 10000.0f, 1, 1e12);
    }
    return json_float_field(j, "rope_theta", file, 10000.0f, 1, 1e12);
}

// generation_config.json's eos_token_id (one id or a list; Qwen3 lists <|im_end|> and <|endoftext|>):
// every one of them ends generation.
void read_generation_config(const std::string& folder, Tokenizer& tok) {
    const auto path = (fs::path(folder) / "generation_config.json").string();
    if (!fs::exists(path)) return;
    const auto j = read_json_file(path);
    if (!j.is_object() || !j.contains("eos_token_id") || j["eos_token_id"].is_null()) return;
    const auto& e = j["eos_token_id"];
    const auto ids = e.is_array() ? e : nlohmann::json::array({e});
    for (const auto& id : ids)
        tok.add_end_id(
            static_cast<std::int32_t>(json_integer(id, 0, tok.vocab_size() - 1, path + ": eos_token_id")));
}

// The qwen35 keys this reader understands; any other qwen35.* key is an error naming it: a key not understood
// may change the forward. (prism.* keys are HadamardRotation's.)
void check_hybrid_keys(const GgufFile& g) {
    static const char* known[] = {"context_length",
                                  "embedding_length",
                                  "feed_forward_length",
                                  "block_count",
                                  "vocab_size",
                                  "attention.head_count",
                                  "attention.head_count_kv",
                                  "attention.key_length",
                                  "attention.value_length",
                                  "attention.layer_norm_rms_epsilon",
                                  "rope.freq_base",
                                  "rope.dimension_count",
                                  "rope.dimension_sections",
                                  "ssm.conv_kernel",
                                  "ssm.state_size",
                                  "ssm.group_count",
                                  "ssm.time_step_rank",
                                  "ssm.inner_size",
                                  "full_attention_interval",
                                  "nextn_predict_layers"};
    for (const auto& [key, value] : g.metadata()) {
        if (key.rfind("qwen35.", 0) != 0) continue;
        const std::string rest = key.substr(7);
        if (std::find(std::begin(known), std::end(known), rest) == std::end(known))
            throw FormatError(g.path() + ": metadata " + key + " is not understood by ternspec");
    }
}

// Qwen3.5's layer pattern and Gated DeltaNet sizes (llama.cpp's src/models/qwen35.cpp).
void read_hybrid(const GgufFile& g, ModelConfig& c,
                 const std::function<std::int32_t(const std::string&)>& i32) {
    check_hybrid_keys(g);
    c.ssm_conv_kernel = i32("qwen35.ssm.conv_kernel");
    c.ssm_head_dim = i32("qwen35.ssm.state_size");
    c.ssm_key_heads = i32("qwen35.ssm.group_count");
    c.ssm_value_heads = i32("qwen35.ssm.time_step_rank");
    const auto inner = i32("qwen35.ssm.inner_size");
    if (static_cast<std::int64_t>(c.ssm_head_dim) * c.ssm_value_heads != inner)
        throw FormatError(g.path() + ": qwen35.ssm.inner_size " + std::to_string(inner) +
                          " is not ssm.state_size x ssm.time_step_rank (" + std::to_string(c.ssm_head_dim) +
                          " x " + std::to_string(c.ssm_value_heads) + ")");
    if (g.find("qwen35.attention.value_length") &&
        i32("qwen35.attention.value_length") != i32("qwen35.attention.key_length"))
        throw FormatError(g.path() + ": qwen35.attention.value_length differs from key_length");
    const auto sections = g.get("qwen35.rope.dimension_sections").as_array("qwen35.rope.dimension_sections");
    if (sections.size() != 4)
        throw FormatError(g.path() + ": qwen35.rope.dimension_sections has " +
                          std::to_string(sections.size()) + " entries, expected 4");
    c.rope_dims = g.find("qwen35.rope.dimension_count") ? i32("qwen35.rope.dimension_count") : c.head_dim;
    const std::int32_t interval =
        g.find("qwen35.full_attention_interval") ? i32("qwen35.full_attention_interval") : 4;
    if (interval < 1) throw FormatError(g.path() + ": qwen35.full_attention_interval must be at least 1");
    c.recurrent_layers.assign(static_cast<std::size_t>(std::max(c.n_layers, 0)), 0);
    for (int l = 0; l < c.n_layers; ++l)
        c.recurrent_layers[static_cast<std::size_t>(l)] = (l + 1) % interval != 0;
}

ModelConfig config_from_gguf(const GgufFile& g) {
    ModelConfig c;
    const auto arch = g.get("general.architecture").as_string("general.architecture");
    if (arch != "qwen3" && arch != "qwen35")
        throw FormatError(g.path() + ": architecture " + arch + " is not supported (qwen3, qwen35)");
    c.architecture = arch;
    const std::string a = arch + ".";
    auto i32 = [&](const std::string& k) {
        const auto v = g.get(k).as_int(k);
        if (v < 0 || v > INT32_MAX) throw FormatError(g.path() + ": " + k + " out of range");
        return static_cast<std::int32_t>(v);
    };
    c.hidden_size = i32(a + "embedding_length");
    c.intermediate_size = i32(a + "feed_forward_length");
    // As llama.cpp counts them, block_count includes the MTP (nextn) layers that follow the main stack.
    c.n_layers =
        i32(a + "block_count") - (g.find(a + "nextn_predict_layers") ? i32(a + "nextn_predict_layers") : 0);
    c.n_heads = i32(a + "attention.head_count");
    c.n_kv_heads = g.find(a + "attention.head_count_kv") ? i32(a + "attention.head_count_kv") : c.n_heads;
    c.head_dim = g.find(a + "attention.key_length") ? i32(a + "attention.key_length")
                                                    : (c.n_heads ? c.hidden_size / c.n_heads : 0);
    c.context_length = i32(a + "context_length");
    if (auto* s = g.find(a + "rope.scaling.type"); s && s->as_string(a + "rope.scaling.type") != "none")
        throw FormatError(g.path() + ": " + a + "rope.scaling.type is " +
                          s->as_string(a + "rope.scaling.type") +
                          ", which ternspec does not apply (plain RoPE only)");
    if (auto* v = g.find(a + "rope.freq_base"))
        c.rope_theta = static_cast<float>(v->as_float(a + "rope.freq_base"));
    if (auto* v = g.find(a + "attention.layer_norm_rms_epsilon"))
        c.rms_eps = static_cast<float>(v->as_float(a + "attention.layer_norm_rms_epsilon"));
    else if (arch == "qwen35")
        throw FormatError(g.path() + ": missing metadata qwen35.attention.layer_norm_rms_epsilon");
    if (arch == "qwen35") read_hybrid(g, c, i32);
    const auto* emb = g.find_tensor("token_embd.weight");
    if (emb)
        c.vocab_size = static_cast<std::int32_t>(emb->shape[0]);
    else if (g.find(a + "vocab_size") && g.find(a + "nextn_predict_layers"))  // an MTP-only file
        c.vocab_size = i32(a + "vocab_size");
    else
        throw FormatError(g.path() + ": missing tensor token_embd.weight");
    c.tied_embeddings = g.find_tensor("output.weight") == nullptr;
    return c;
}

}  // namespace

int block_index(const std::string& gguf_name) {
    if (gguf_name.rfind("blk.", 0) != 0) return -1;
    long long n = 0;  // capped below, never overflows
    std::size_t i = 4;
    for (; i < gguf_name.size() && gguf_name[i] >= '0' && gguf_name[i] <= '9'; ++i)
        n = std::min<long long>(n * 10 + (gguf_name[i] - '0'),
                                1 << 30);  // a longer number is still "past every layer"
    return i > 4 && i < gguf_name.size() && gguf_name[i] == '.' ? static_cast<int>(n) : -1;
}

namespace {

ModelConfig config_from_hf(const nlohmann::json& j, const std::string& cfg_path) {
    const auto archs = j.value("architectures", nlohmann::json::array());
    if (archs.empty() || archs[0] != "Qwen3ForCausalLM")
        throw FormatError(cfg_path + ": architectures is not [\"Qwen3ForCausalLM\"]");
    ModelConfig c;
    c.vocab_size = json_int(j, "vocab_size", cfg_path);
    c.hidden_size = json_int(j, "hidden_size", cfg_path);
    c.intermediate_size = json_int(j, "intermediate_size", cfg_path);
    c.n_layers = json_int(j, "num_hidden_layers", cfg_path);
    c.n_heads = json_int(j, "num_attention_heads", cfg_path);
    c.n_kv_heads = json_int(j, "num_key_value_heads", cfg_path, c.n_heads);
    c.head_dim = json_int(j, "head_dim", cfg_path, c.n_heads ? c.hidden_size / c.n_heads : 0);
    c.context_length = json_int(j, "max_position_embeddings", cfg_path);
    c.rope_theta = hf_rope_theta(j, cfg_path);
    c.rms_eps = json_float_field(j, "rms_norm_eps", cfg_path, 1e-6f, 0, 1);
    // transformers' Qwen3Config default is false: a folder that omits the key and has no
    // lm_head.weight is refused by the caller rather than run with the embedding as its head.
    c.tied_embeddings = json_bool_field(j, "tie_word_embeddings", cfg_path, false);
    return c;
}

// tokenizer_config.json's chat template and end-of-sequence token, then chat_template.jinja when the
// config names no template. Returns the template ("" when there is none).
std::string read_tokenizer_config(const std::string& folder, Tokenizer& tok) {
    std::string chat_template;
    const auto tcfg = (fs::path(folder) / "tokenizer_config.json").string();
    if (fs::exists(tcfg)) {
        try {
            auto tj = nlohmann::json::parse(read_text_file(tcfg));
            if (tj.contains("chat_template")) chat_template = chat_template_field(tj["chat_template"], tcfg);
            if (tj.contains("eos_token") && tj["eos_token"].is_string())
                if (auto id = tok.token_id(tj["eos_token"].get<std::string>())) tok.set_eos(*id);
        } catch (const nlohmann::json::exception& e) {
            throw FormatError(tcfg + ": " + json_error_words(e));
        }
    }
    read_generation_config(folder, tok);
    if (chat_template.empty()) {
        const auto jinja = (fs::path(folder) / "chat_template.jinja").string();
        if (fs::exists(jinja)) chat_template = read_text_file(jinja);
    }
    return chat_template;
}

}  // namespace

ModelFiles ModelFiles::open_folder(const std::string& path) {
    ModelFiles mf;
    const auto cfg_path = (fs::path(path) / "config.json").string();
    if (!fs::exists(cfg_path)) throw FormatError(path + ": folder has no config.json");
    const nlohmann::json j = read_json_file(cfg_path);
    if (!j.is_object()) throw FormatError(cfg_path + ": not a JSON object");
    const bool qwen35 = is_qwen35_config(j);
    mf.config_ = qwen35 ? qwen35_config_from_hf(j, cfg_path) : config_from_hf(j, cfg_path);
    mf.extra_layers_ = json_int(j, "num_nextn_predict_layers", cfg_path, 0);
    mf.st_ = std::make_shared<SafetensorsSet>(path);
    if (qwen35) {
        mf.config_.validate(cfg_path);  // the tensor layout relies on the sizes
        qwen35_tensors_from_hf(*mf.st_, mf.config_, path, mf.tensors_, mf.owned_);
    } else {
        for (const auto& [name, t] : mf.st_->tensors()) {
            const auto g = hf_to_gguf_name(name);
            if (g.empty()) continue;
            mf.tensors_[g] = {g, name, t.type, t.shape(), t.data, t.n_bytes, t.file()};
        }
    }
    const auto tok = (fs::path(path) / "tokenizer.json").string();
    if (!fs::exists(tok)) throw FormatError(path + ": folder has no tokenizer.json");
    mf.tokenizer_ = std::make_shared<Tokenizer>(Tokenizer::from_json_file(tok));
    mf.chat_template_ = read_tokenizer_config(path, *mf.tokenizer_);
    mf.format_ = "Hugging Face folder";
    if (mf.config_.tied_embeddings) mf.tensors_.erase("output.weight");
    if (!mf.config_.tied_embeddings && !mf.tensors_.count("output.weight"))
        throw FormatError(
            cfg_path + ": tie_word_embeddings is " +
            (j.contains("tie_word_embeddings") ? "false" : "absent (transformers' default: false)") +
            " but the folder has no lm_head.weight");
    return mf;
}

ModelFiles ModelFiles::open_gguf(const std::string& path) {
    ModelFiles mf;
    mf.gguf_ = std::make_shared<GgufFile>(path);
    mf.config_ = config_from_gguf(*mf.gguf_);
    const std::string nextn = mf.config_.architecture + ".nextn_predict_layers";
    if (auto* n = mf.gguf_->find(nextn))
        mf.extra_layers_ = static_cast<int>(std::clamp<std::int64_t>(n->as_int(nextn), 0, 1024));
    for (const auto& t : mf.gguf_->tensors())
        mf.tensors_[t.name] = {t.name, t.name, t.type, t.shape, mf.gguf_->tensor_data(t), t.n_bytes, path};
    mf.rotation_ = HadamardRotation::from_gguf(*mf.gguf_, mf.config_);
    mf.tokenizer_ = std::make_shared<Tokenizer>(Tokenizer::from_gguf(*mf.gguf_));
    if (auto* ct = mf.gguf_->find("tokenizer.chat_template"))
        mf.chat_template_ = ct->as_string("tokenizer.chat_template");
    mf.format_ = "GGUF v" + std::to_string(mf.gguf_->version());
    return mf;
}

ModelFiles ModelFiles::open(const std::string& path) {
    return naming_file(path, [&] {
        if (!fs::exists(path)) throw InputError(path + ": no such file or folder");
        ModelFiles mf = fs::is_directory(path) ? open_folder(path) : open_gguf(path);
        mf.path_ = path;
        mf.config_.validate(path);
        if (mf.tokenizer_->vocab_size() > mf.config_.vocab_size)
            throw FormatError(path + ": tokenizer has " + std::to_string(mf.tokenizer_->vocab_size()) +
                              " tokens but the model's vocabulary is " +
                              std::to_string(mf.config_.vocab_size));
        return mf;
    });
}

}  // namespace ternspec
