#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>

#include "target/formats/gguf.hpp"
#include "target/formats/safetensors.hpp"
#include "target/model/hadamard_rotation.hpp"
#include "target/model/model_files.hpp"
#include "ternspec/error.hpp"
#include "tools/ternspec/args.hpp"
#include "tools/ternspec/commands.hpp"
#include "tools/ternspec/output_file.hpp"

namespace ternspec::cli {
namespace {

std::string shape_str(const std::vector<std::uint64_t>& s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) out += (i ? " x " : "") + std::to_string(s[i]);
    return out;
}

std::string variant_note(TensorType t) {
    switch (t) {
        case TensorType::Q2_0:
            return "mainline Q2_0 (group 64, 18-byte blocks)";
        case TensorType::Q2_0_G128:
            return "legacy Ternary-Bonsai Q2_0 (group 128, 34-byte blocks)";
        case TensorType::PQ2_0:
            return "PQ2_0 (group 128, 34-byte blocks)";
        case TensorType::PTQ1_0:
            return "PTQ1_0 (PrismML: TQ1_0's base-3 codec at group 128, 28-byte blocks)";
        case TensorType::TQ1_0:
            return "TQ1_0 (base-3, group 256)";
        case TensorType::TQ2_0:
            return "TQ2_0 (2-bit, group 256)";
        default:
            return std::string(type_info(t).name);
    }
}

struct TensorRow {
    std::string name;
    TensorType type;
    std::vector<std::uint64_t> shape;
    std::uint64_t bytes;
};

// What `inspect` was asked for, parsed once.
struct InspectCommand {
    std::string path;
    JsonOutput json;
    bool metadata = false;
};

// Files that are not a Qwen3 target (an EAGLE-3 head, an MTP sidecar, in a folder or as GGUF): what they
// say they are, their configuration or metadata, and their tensors.
int inspect_other(const InspectCommand& c, const std::string& path, const std::string& format,
                  const std::string& arch, const std::vector<TensorRow>& tensors,
                  const nlohmann::json& details, const char* details_name, bool show_details) {
    std::uint64_t total = 0;
    for (const auto& t : tensors) total += t.bytes;
    if (c.json.json) {
        nlohmann::json j = {
            {"path", path}, {"format", format}, {"architecture", arch}, {details_name, details}};
        j["tensors"] = nlohmann::json::array();
        for (const auto& t : tensors)
            j["tensors"].push_back(
                {{"name", t.name}, {"type", type_info(t.type).name}, {"shape", t.shape}, {"bytes", t.bytes}});
        j["total_bytes"] = total;
        emit_json(c.json, j.dump(1));
        return 0;
    }
    std::printf("model        %s\nformat       %s\narchitecture %s (not a target model)\n", path.c_str(),
                format.c_str(), arch.c_str());
    std::printf("tensors      %zu, %llu bytes (%.2f MiB)\n\n", tensors.size(),
                static_cast<unsigned long long>(total), total / 1048576.0);
    for (const auto& t : tensors)
        std::printf("%-44s %-10s %-18s %llu\n", t.name.c_str(), std::string(type_info(t.type).name).c_str(),
                    shape_str(t.shape).c_str(), static_cast<unsigned long long>(t.bytes));
    if (show_details) std::printf("\n%s:\n%s\n", details_name, details.dump(1).c_str());
    return 0;
}

int inspect_other_gguf(const InspectCommand& c, const GgufFile& g) {
    const auto* arch = g.find("general.architecture");
    std::vector<TensorRow> rows;
    for (const auto& t : g.tensors()) rows.push_back({t.name, t.type, t.shape, t.n_bytes});
    nlohmann::json meta = nlohmann::json::object();
    for (const auto& [k, v] : g.metadata()) meta[k] = v.summary();
    return inspect_other(c, g.path(), "GGUF v" + std::to_string(g.version()),
                         arch ? arch->summary() : "(none)", rows, meta, "metadata", c.metadata);
}

// A Hugging Face folder whose config.json names another architecture than Qwen3ForCausalLM (a drafter).
// A folder that names none is left to ModelFiles::open, which says what is wrong with it.
std::optional<int> inspect_drafter_folder(const InspectCommand& c, const std::string& path) {
    const std::string arch = folder_architecture(path);
    if (arch.empty() || arch == "Qwen3ForCausalLM" || arch == "Qwen3_5ForCausalLM" ||
        arch == "Qwen3_5ForConditionalGeneration")
        return std::nullopt;
    const auto cfg = read_json_file((std::filesystem::path(path) / "config.json").string());
    const SafetensorsSet st(path);
    std::vector<TensorRow> rows;
    for (const auto& [n, t] : st.tensors()) rows.push_back({n, t.type, t.shape(), t.n_bytes});
    return inspect_other(c, path, "Hugging Face folder", arch, rows, cfg, "config.json", true);
}

std::string rotation_text(const ModelFiles& mf) {
    const auto r = mf.rotation();
    if (!r) return "none";
    return "Walsh-Hadamard in blocks of " + std::to_string(r->block_size()) +
           (r->latent_embedding() ? ", latent embedding" : "") +
           (r->v_grouped() ? ", value heads grouped" : "");
}

// "GGGA GGGA": one letter a layer, G for Gated DeltaNet, A for (gated) attention, a space every four.
std::string layer_pattern(const ModelConfig& c) {
    std::string out;
    for (int l = 0; l < c.n_layers; ++l)
        out += std::string(l && l % 4 == 0 ? " " : "") + (c.is_recurrent(l) ? "G" : "A");
    return out;
}

// A Qwen3 or Qwen3.5 target: configuration, tensor types with their format variant, every tensor, the
// tokenizer and the chat template.
int inspect_target(const InspectCommand& cmd, const ModelFiles& mf) {
    const auto& c = mf.config();
    std::map<TensorType, std::pair<int, std::uint64_t>> by_type;
    std::uint64_t total = 0;
    for (const auto& [n, t] : mf.tensors()) {
        by_type[t.type].first++;
        by_type[t.type].second += t.n_bytes;
        total += t.n_bytes;
    }
    const auto& tok = mf.tokenizer();
    if (cmd.json.json) {
        nlohmann::json j;
        j["path"] = mf.path();
        j["format"] = mf.format();
        j["config"] = {{"architecture", c.architecture},
                       {"vocab_size", c.vocab_size},
                       {"hidden_size", c.hidden_size},
                       {"intermediate_size", c.intermediate_size},
                       {"layers", c.n_layers},
                       {"heads", c.n_heads},
                       {"kv_heads", c.n_kv_heads},
                       {"head_dim", c.head_dim},
                       {"context_length", c.context_length},
                       {"rope_theta", c.rope_theta},
                       {"rms_eps", c.rms_eps},
                       {"tied_embeddings", c.tied_embeddings}};
        if (c.hybrid())
            j["config"]["hybrid"] = {
                {"layer_pattern", layer_pattern(c)},    {"rope_dims", c.rotary_dims()},
                {"ssm_conv_kernel", c.ssm_conv_kernel}, {"ssm_head_dim", c.ssm_head_dim},
                {"ssm_key_heads", c.ssm_key_heads},     {"ssm_value_heads", c.ssm_value_heads},
                {"rotation", rotation_text(mf)}};
        j["tensors"] = nlohmann::json::array();
        for (const auto& [n, t] : mf.tensors())
            j["tensors"].push_back({{"name", n},
                                    {"source_name", t.source_name},
                                    {"type", type_info(t.type).name},
                                    {"shape", t.shape},
                                    {"bytes", t.n_bytes}});
        for (const auto& [t, cnt] : by_type)
            j["types"][std::string(type_info(t).name)] = {
                {"tensors", cnt.first}, {"bytes", cnt.second}, {"variant", variant_note(t)}};
        j["total_bytes"] = total;
        j["chat_template"] =
            mf.chat_template().empty() ? nlohmann::json() : nlohmann::json(mf.chat_template());
        j["tokenizer"] = {{"vocab", tok.vocab_size()},
                          {"merges", tok.n_merges()},
                          {"added_tokens", tok.n_added()},
                          {"eos", tok.eos_id() ? nlohmann::json(*tok.eos_id()) : nlohmann::json()}};
        emit_json(cmd.json, j.dump(1));
        return 0;
    }
    std::printf("model        %s\nformat       %s\narchitecture %s\n", mf.path().c_str(), mf.format().c_str(),
                c.architecture.c_str());
    std::printf(
        "vocab %d, hidden %d, ffn %d, layers %d, heads %d (kv %d, dim %d), context %d, rope theta %g, eps "
        "%g, %s\n",
        c.vocab_size, c.hidden_size, c.intermediate_size, c.n_layers, c.n_heads, c.n_kv_heads, c.head_dim,
        c.context_length, c.rope_theta, c.rms_eps,
        c.tied_embeddings ? "tied embeddings" : "separate LM head");
    if (c.hybrid())
        std::printf(
            "hybrid: layers %s (G: Gated DeltaNet, A: gated attention); RoPE on %d of %d dims; "
            "Gated DeltaNet: conv %d, %d key and %d value heads of %d; rotation: %s\n",
            layer_pattern(c).c_str(), c.rotary_dims(), c.head_dim, c.ssm_conv_kernel, c.ssm_key_heads,
            c.ssm_value_heads, c.ssm_head_dim, rotation_text(mf).c_str());
    std::printf("\ntensor types:\n");
    for (const auto& [t, cnt] : by_type)
        std::printf("  %-10s %4d tensors %12llu bytes  %s\n", std::string(type_info(t).name).c_str(),
                    cnt.first, static_cast<unsigned long long>(cnt.second), variant_note(t).c_str());
    std::printf("  total %llu bytes (%.2f MiB)\n\n%-36s %-10s %-18s %s\n",
                static_cast<unsigned long long>(total), total / 1048576.0, "tensor", "type", "shape",
                "bytes");
    for (const auto& [n, t] : mf.tensors())
        std::printf("%-36s %-10s %-18s %llu\n", n.c_str(), std::string(type_info(t.type).name).c_str(),
                    shape_str(t.shape).c_str(), static_cast<unsigned long long>(t.n_bytes));
    std::printf("\ntokenizer: %d tokens, %zu merges, %zu added tokens, eos %s\n", tok.vocab_size(),
                tok.n_merges(), tok.n_added(), tok.eos_id() ? tok.piece(*tok.eos_id()).c_str() : "(none)");
    std::printf("chat template: %s\n",
                mf.chat_template().empty()
                    ? "none (--chat uses Qwen3's ChatML turns)"
                    : (std::to_string(mf.chat_template().size()) + " bytes (ternspec template "
                                                                   "shows what it renders)")
                          .c_str());
    if (cmd.metadata && mf.gguf())
        for (const auto& [k, v] : mf.gguf()->metadata())
            std::printf("  %s = %s\n", k.c_str(), v.summary().c_str());
    return 0;
}

}  // namespace

int cmd_inspect(int argc, char** argv) {
    Args args(
        "inspect", "(-m MODEL | MODEL) [--json] [--metadata]",
        "Architecture, hyper-parameters, the format variant found, every tensor and the tokenizer; for a\n"
        "drafter (EAGLE-3 head or MTP sidecar, folder or GGUF) its configuration and tensors.",
        {{"model", 'm', "PATH", "GGUF file or Hugging Face folder (target or drafter)", ""},
         {"json", 0, "", "machine-readable output", ""},
         {"metadata", 0, "", "also list every GGUF metadata key", ""},
         json_output_option()});
    if (!args.parse(argc, argv, 1)) return 0;
    if (args.has("model") == (args.positional().size() == 1))
        throw InputError("inspect takes one model path: -m PATH or PATH (see --help)");
    const InspectCommand c{args.has("model") ? args.str("model") : args.positional()[0],
                           json_output_from(args), args.flag("metadata")};
    const std::string& path = c.path;
    if (std::filesystem::is_regular_file(path)) {
        const GgufFile g(path);
        const auto* arch = g.find("general.architecture");
        if (arch && arch->type == GgufType::STRING && arch->as_string("general.architecture") != "qwen3" &&
            arch->as_string("general.architecture") != "qwen35")
            return inspect_other_gguf(c, g);
    }
    if (const auto done = inspect_drafter_folder(c, path)) return *done;
    return inspect_target(c, ModelFiles::open(path));
}

}  // namespace ternspec::cli
