// `synth` and `convert`: writing models.
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>

#include "drafters/eagle_head.hpp"
#include "target/io/mapped_file.hpp"
#include "target/model/gguf_export.hpp"
#include "tools/ternspec/commands.hpp"
#include "tools/ternspec/model_args.hpp"

namespace ternspec::cli {
namespace {

bool is_eagle_head(const std::string& path) {
    const auto cfg = std::filesystem::path(path) / "config.json";
    if (!std::filesystem::is_directory(path) || !std::filesystem::exists(cfg)) return false;
    try {
        const auto arch = nlohmann::json::parse(read_text_file(cfg.string()))
                              .value("architectures", nlohmann::json::array());
        return !arch.empty() && (arch[0] == "LlamaForCausalLMEagle3" || arch[0] == "Eagle3LlamaForCausalLM");
    } catch (const nlohmann::json::exception&) {
        return false;
    }
}

}  // namespace

int cmd_synth(int argc, char** argv) {
    Args args("synth", "OUT.gguf --shape tiny|qwen3-0.6b|qwen3-1.7b [--type T] [--seed S]",
              "A random ternary Qwen3 model with real shapes, for tests and benchmarks.",
              {{"shape", 0, "NAME", "tiny, qwen3-0.6b or qwen3-1.7b", "tiny"},
               {"type", 0, "TYPE",
                "q2_0 (mainline llama.cpp, group 64), q2_0_g128 (legacy Bonsai), pq2_0, tq2_0, tq1_0, f16, "
                "bf16 or f32",
                "q2_0"},
               {"seed", 0, "S", "random seed", "1"}});
    if (!args.parse(argc, argv, 1)) return 0;
    if (args.positional().size() != 1) throw InputError("synth takes one output path (see --help)");
    const auto type = type_from_name(args.str("type"));
    if (!type) throw InputError("unknown type " + args.str("type"));
    ProgressLine bar("synth");
    synth_model(args.positional()[0], synth_shape(args.str("shape")), *type,
                static_cast<std::uint64_t>(args.integer("seed", 0, std::numeric_limits<long long>::max())),
                [&](int d, int t, const std::string& n) { bar.update(d, t, n); });
    bar.finish();
    std::fprintf(stderr, "wrote %s (%s, %s)\n", args.positional()[0].c_str(), args.str("shape").c_str(),
                 args.str("type").c_str());
    return 0;
}

int cmd_convert(int argc, char** argv) {
    Args args(
        "convert", "IN OUT.gguf --type T [--quantize] [--mtp SIDECAR]",
        "Re-encode every weight of IN (GGUF file or HF folder) as type T; norms are stored as F32.\n"
        "Refuses, naming the tensor, when T cannot hold the weights exactly. MTP modules (--mtp SIDECAR,\n"
        "or nextn layers IN carries) are written to OUT.mtp.gguf, for --draft=mtp --draft-model; OUT stays\n"
        "the plain target, which llama.cpp loads.\n"
        "An EAGLE-3 head folder is written in its GGUF form (docs/eagle.md); use --type f16, bf16 or f32.",
        {{"type", 0, "TYPE",
          "q2_0 (mainline llama.cpp, group 64), q2_0_g128 (legacy Bonsai), pq2_0, tq2_0, tq1_0, f16, bf16 or "
          "f32",
          "q2_0"},
         {"quantize", 0, "", "absmean-quantise float weights that are not exactly ternary", ""},
         {"mtp", 0, "SIDECAR", "an MTP sidecar folder to store with the model", ""}});
    if (!args.parse(argc, argv, 2)) return 0;
    if (args.positional().size() != 2) throw InputError("convert takes IN and OUT paths (see --help)");
    const auto type = type_from_name(args.str("type"));
    if (!type || *type == TensorType::Q8_0) throw InputError("unsupported output type " + args.str("type"));
    if (is_eagle_head(args.positional()[0])) {
        write_eagle_gguf(EagleSource::open(args.positional()[0]), args.positional()[1], *type);
        std::fprintf(stderr, "wrote %s (EAGLE-3 head, %s)\n", args.positional()[1].c_str(),
                     args.str("type").c_str());
        return 0;
    }
    const auto in = ModelFiles::open(args.positional()[0]);
    ProgressLine bar("convert");
    std::optional<MtpFiles> mtp;
    if (args.has("mtp")) mtp = MtpFiles::open(args.str("mtp"));
    convert_model(
        in, args.positional()[1], *type, args.flag("quantize"),
        [&](int d, int t, const std::string& n) { bar.update(d, t, n); }, mtp ? &*mtp : nullptr);
    bar.finish();
    std::fprintf(stderr, "wrote %s (%s)\n", args.positional()[1].c_str(), args.str("type").c_str());
    if (mtp || in.extra_layers() > 0)
        std::fprintf(stderr, "wrote %s (MTP modules)\n", mtp_gguf_path(args.positional()[1]).c_str());
    return 0;
}

}  // namespace ternspec::cli
