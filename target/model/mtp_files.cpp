#include "target/model/mtp_files.hpp"

#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "target/formats/gguf.hpp"
#include "target/formats/safetensors.hpp"
#include "target/io/file_errors.hpp"
#include "target/io/json_fields.hpp"
#include "target/io/mapped_file.hpp"
#include "target/model/ternary_import.hpp"
#include "ternspec/error.hpp"

namespace ternspec {
namespace fs = std::filesystem;

namespace {

int positive(const nlohmann::json& j, const char* key, const std::string& what, int fallback = -1) {
    return static_cast<int>(json_int_field(
        j, key, what, 1, 1 << 24, fallback > 0 ? std::optional<std::int64_t>(fallback) : std::nullopt));
}

// Target ids, each once and inside the vocabulary: a repeated or out-of-range id would make a draft token
// that the head never scored, or two draft ids for one token.
std::vector<std::int32_t> read_draft_vocab(const TensorRef& t, int vocab) {
    const std::string what = t.file + ": tensor " + t.source_name;
    if (t.shape.size() != 1 || t.shape[0] == 0 || t.shape[0] > static_cast<std::uint64_t>(vocab))
        throw FormatError(what + " must list between 1 and " + std::to_string(vocab) + " token ids");
    const auto values = import_ints(t);
    std::vector<std::int32_t> ids(values.size());
    std::vector<char> seen(static_cast<std::size_t>(vocab), 0);
    for (std::size_t i = 0; i < ids.size(); ++i) {
        const std::int64_t v = values[i];
        if (v < 0 || v >= vocab || seen[static_cast<std::size_t>(v)])
            throw FormatError(what + ": entry " + std::to_string(i) + " (" + std::to_string(v) +
                              ") is outside the vocabulary or repeated");
        seen[static_cast<std::size_t>(v)] = 1;
        ids[i] = static_cast<std::int32_t>(v);
    }
    return ids;
}

}  // namespace

const TensorRef* MtpFiles::find(const std::string& name) const {
    return find_tensor(tensors_, name);
}
const TensorRef& MtpFiles::get(const std::string& name) const {
    return get_tensor(tensors_, name, path_ + ": missing MTP tensor ");
}

MtpFiles MtpFiles::open(const std::string& path) {
    return naming_file(path, [&] {
        MtpFiles f;
        f.path_ = path;
        if (!fs::exists(path)) throw InputError(path + ": no such file or folder");
        if (fs::is_directory(path)) {
            const auto cfg_path = (fs::path(path) / "config.json").string();
            if (!fs::exists(cfg_path)) throw FormatError(path + ": an MTP sidecar folder needs config.json");
            const nlohmann::json j = read_json_file(cfg_path);
            const auto arch =
                j.is_object() ? j.value("architectures", nlohmann::json::array()) : nlohmann::json::array();
            if (arch.empty() || arch[0] != "Qwen3MTPSidecar")
                throw FormatError(cfg_path + ": architectures is not [\"Qwen3MTPSidecar\"] (an MTP sidecar)");
            ModelConfig& c = f.config_;
            f.depth_ = positive(j, "num_nextn_predict_layers", cfg_path);
            f.first_layer_ = positive(j, "num_hidden_layers", cfg_path);
            c.n_layers = f.depth_;
            c.vocab_size = positive(j, "vocab_size", cfg_path);
            c.hidden_size = positive(j, "hidden_size", cfg_path);
            c.intermediate_size = positive(j, "intermediate_size", cfg_path);
            c.n_heads = positive(j, "num_attention_heads", cfg_path);
            c.n_kv_heads = positive(j, "num_key_value_heads", cfg_path, c.n_heads);
            c.head_dim = positive(j, "head_dim", cfg_path, c.hidden_size / c.n_heads);
            c.context_length = 1;  // the target's context applies
            c.rope_theta = json_float_field(j, "rope_theta", cfg_path, 1e6f, 0, 1e12);
            c.rms_eps = json_float_field(j, "rms_norm_eps", cfg_path, 1e-6f, 0, 1);
            auto st = std::make_shared<SafetensorsSet>(path);
            for (const auto& [name, t] : st->tensors()) {
                const auto g =
                    name == kMtpDraftVocabSidecar ? std::string(kMtpDraftVocabTensor) : hf_to_gguf_name(name);
                if (!g.empty()) f.tensors_[g] = {g, name, t.type, t.shape(), t.data, t.n_bytes, t.file()};
            }
            f.keep_ = st;
        } else {
            auto mf = std::make_shared<ModelFiles>(ModelFiles::open(path));
            const auto* g = mf->gguf();
            const std::string arch =
                mf->config().architecture;  // qwen3 or qwen35 (the reader knows no other)
            const std::string key = arch + ".nextn_predict_layers";
            const auto* n = g ? g->find(key) : nullptr;
            if (!n) throw FormatError(path + ": has no MTP layers (no " + key + ")");
            const auto d = n->as_int(key);
            if (d <= 0 || d > 64) throw FormatError(path + ": " + key + " is out of range");
            f.depth_ = static_cast<int>(d);
            f.config_ = mf->config();
            f.first_layer_ = f.config_.n_layers;
            f.config_.n_layers = f.depth_;
            if (f.config_.hybrid()) {
                // Qwen3.5's own MTP layers: gated full-attention blocks (llama.cpp's src/models/qwen35.cpp).
                f.recursive_ = true;
                f.config_.recurrent_layers.assign(static_cast<std::size_t>(f.depth_), 0);
                for (const auto& [k, v] : g->metadata())
                    if (k.rfind("prism.", 0) == 0)
                        throw FormatError(path + ": nextn layers in a Hadamard-rotated file (" + k +
                                          ") are not supported: whether they are stored rotated is not "
                                          "documented");
            }
            // Only the modules' layers: a file that also holds the target keeps its own tensors to itself.
            for (const auto& [name, t] : mf->tensors())
                if (block_index(name) >= f.first_layer_ || name == kMtpDraftVocabTensor) f.tensors_[name] = t;
            f.keep_ = mf;
        }
        f.config_.validate(path);
        if (const auto* t = f.find(kMtpDraftVocabTensor))
            f.draft_vocab_ = read_draft_vocab(*t, f.config_.vocab_size);
        return f;
    });
}

}  // namespace ternspec
