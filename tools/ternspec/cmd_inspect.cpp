#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "target/formats/gguf.hpp"
#include "target/model/model_files.hpp"
#include "ternspec/error.hpp"
#include "tools/ternspec/args.hpp"
#include "tools/ternspec/commands.hpp"

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
        case TensorType::TQ1_0:
            return "TQ1_0 (base-3, group 256)";
        case TensorType::TQ2_0:
            return "TQ2_0 (2-bit, group 256)";
        default:
            return std::string(type_info(t).name);
    }
}

// GGUF files that are not a Qwen3 target (an EAGLE-3 head's GGUF form, say): metadata and tensors only.
int inspect_other_gguf(const GgufFile& g, bool json, bool metadata) {
    const auto* arch = g.find("general.architecture");
    const std::string a = arch ? arch->summary() : "(none)";
    if (json) {
        nlohmann::json j = {
            {"path", g.path()}, {"format", "GGUF v" + std::to_string(g.version())}, {"architecture", a}};
        for (const auto& [k, v] : g.metadata()) j["metadata"][k] = v.summary();
        j["tensors"] = nlohmann::json::array();
        for (const auto& t : g.tensors())
            j["tensors"].push_back({{"name", t.name},
                                    {"type", type_info(t.type).name},
                                    {"shape", t.shape},
                                    {"bytes", t.n_bytes}});
        std::cout << j.dump(1) << "\n";
        return 0;
    }
    std::printf("model        %s\nformat       GGUF v%u\narchitecture %s (not a target model)\n\n",
                g.path().c_str(), g.version(), a.c_str());
    for (const auto& t : g.tensors())
        std::printf("%-44s %-10s %-18s %llu\n", t.name.c_str(), std::string(type_info(t.type).name).c_str(),
                    shape_str(t.shape).c_str(), static_cast<unsigned long long>(t.n_bytes));
    if (metadata)
        for (const auto& [k, v] : g.metadata()) std::printf("  %s = %s\n", k.c_str(), v.summary().c_str());
    return 0;
}

}  // namespace

int cmd_inspect(int argc, char** argv) {
    Args args("inspect", "MODEL [--json] [--metadata]",
              "Architecture, hyper-parameters, the format variant found, every tensor and the tokenizer.",
              {{"json", 0, "", "machine-readable output", ""},
               {"metadata", 0, "", "also list every GGUF metadata key", ""}});
    if (!args.parse(argc, argv, 1)) return 0;
    if (args.positional().size() != 1) throw InputError("inspect takes one MODEL path (see --help)");
    if (std::filesystem::is_regular_file(args.positional()[0])) {
        const GgufFile g(args.positional()[0]);
        const auto* arch = g.find("general.architecture");
        if (arch && arch->type == GgufType::STRING && arch->as_string("general.architecture") != "qwen3")
            return inspect_other_gguf(g, args.flag("json"), args.flag("metadata"));
    }
    const auto mf = ModelFiles::open(args.positional()[0]);
    const auto& c = mf.config();
    std::map<TensorType, std::pair<int, std::uint64_t>> by_type;
    std::uint64_t total = 0;
    for (const auto& [n, t] : mf.tensors()) {
        by_type[t.type].first++;
        by_type[t.type].second += t.n_bytes;
        total += t.n_bytes;
    }
    const auto& tok = mf.tokenizer();
    if (args.flag("json")) {
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
        j["tokenizer"] = {{"vocab", tok.vocab_size()},
                          {"merges", tok.n_merges()},
                          {"added_tokens", tok.n_added()},
                          {"eos", tok.eos_id() ? nlohmann::json(*tok.eos_id()) : nlohmann::json()}};
        std::cout << j.dump(1) << "\n";
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
    if (args.flag("metadata") && mf.gguf())
        for (const auto& [k, v] : mf.gguf()->metadata())
            std::printf("  %s = %s\n", k.c_str(), v.summary().c_str());
    return 0;
}

}  // namespace ternspec::cli
