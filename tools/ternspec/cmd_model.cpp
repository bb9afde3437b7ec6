// `synth` and `convert`: writing models.
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>

#include "drafters/eagle_head.hpp"
#include "target/model/gguf_export.hpp"
#include "tools/ternspec/commands.hpp"
#include "tools/ternspec/model_args.hpp"
#include "tools/ternspec/output_file.hpp"

namespace ternspec::cli {
namespace {

bool is_eagle_head(const std::string& path) {
    const auto arch = folder_architecture(path);
    return arch == "LlamaForCausalLMEagle3" || arch == "Eagle3LlamaForCausalLM";
}

}  // namespace

int cmd_synth(int argc, char** argv) {
    Args args(
        "synth", "OUT.gguf --shape NAME [--type T] [--seed S] [--eagle3] [--mtp D] [--nextn]",
        "A random ternary Qwen3 model with real shapes, for tests and benchmarks; with --eagle3 and\n"
        "--mtp D, drafters at the real shapes beside it (random weights: their cost does not depend on\n"
        "the values): OUT.eagle3-ternary.gguf (packed ternary at load), OUT.eagle3-int8.gguf (f16,\n"
        "int8 at load) and OUT.mtp.gguf (ternary modules; with --nextn, a Qwen3.5 hybrid's own MTP layer).",
        {{"shape", 0, "NAME",
          "tiny, qwen3-0.6b, qwen3-1.7b, qwen3-4b, qwen3-8b, or a Qwen3.5 hybrid: qwen3.5-tiny, qwen3.5-2b, "
          "qwen3.5-4b, qwen3.5-9b, qwen3.5-27b",
          "tiny"},
         {"hadamard", 0, "N", "declare the weights stored in PrismML's rotated basis, blocks of N (0: none)",
          "0"},
         {"type", 0, "TYPE",
          "q2_0 (mainline llama.cpp, group 64), q2_0_g128 (legacy Bonsai), pq2_0, ptq1_0, tq2_0, tq1_0, "
          "f16, bf16 or f32",
          "q2_0"},
         {"seed", 0, "S", "random seed", "1"},
         {"vocab", 0, "N", "override the shape's vocabulary size (e.g. to hold another model's ids)", ""},
         {"eagle3", 0, "", "also write EAGLE-3 heads of the published shape for this target", ""},
         {"eagle-draft-vocab", 0, "N",
          "the heads' draft vocabulary (default: 32000, as published, or the vocabulary)", ""},
         {"mtp", 0, "D", "also write D MTP modules", ""},
         {"nextn", 0, "",
          "write the MTP modules as Qwen3.5's own (gated attention, drafted recursively; hybrid shapes)", ""},
         {"mtp-draft-vocab", 0, "N", "the MTP modules' draft vocabulary (0: the full vocabulary)", "0"}});
    if (!args.parse(argc, argv, 1)) return 0;
    // Parsed once, and checked before hours of writing; nothing below reads the arguments.
    if (args.positional().size() != 1) throw InputError("synth takes one output path (see --help)");
    const std::string type_name = args.str("type"), shape_name = args.str("shape");
    const auto type = type_from_name(type_name);
    if (!type) throw InputError("unknown type " + type_name);
    const std::string out = args.positional()[0];
    auto shape = synth_shape(shape_name);
    if (args.has("vocab")) shape.vocab_size = static_cast<int>(args.integer("vocab", 259, 1 << 21));
    const auto seed =
        static_cast<std::uint64_t>(args.integer("seed", 0, std::numeric_limits<long long>::max()));
    const int mtp = args.has("mtp") ? static_cast<int>(args.integer("mtp", 1, 64)) : 0;
    const int eagle_vocab = args.has("eagle-draft-vocab")
                                ? static_cast<int>(args.integer("eagle-draft-vocab", 1, shape.vocab_size))
                                : std::min(32000, shape.vocab_size);
    const int mtp_vocab = static_cast<int>(args.integer("mtp-draft-vocab", 0, shape.vocab_size));
    const int hadamard = static_cast<int>(args.integer("hadamard", 0, 1 << 16));
    const bool eagle3 = args.flag("eagle3");
    const bool nextn = args.flag("nextn");
    if (nextn && mtp == 0) throw InputError("--nextn describes the MTP modules: give --mtp 1 too");
    check_writable(out, "OUT");

    const std::string stem = out.size() > 5 && out.ends_with(".gguf") ? out.substr(0, out.size() - 5) : out;
    ProgressLine bar("synth");
    synth_model(
        out, shape, *type, seed, [&](int d, int t, const std::string& n) { bar.update(d, t, n); }, hadamard);
    bar.finish();
    std::fprintf(stderr, "wrote %s (%s, %s)\n", out.c_str(), shape_name.c_str(), type_name.c_str());
    const TensorType ternary = type_info(*type).ternary ? *type : TensorType::Q2_0;
    if (eagle3) {
        synth_eagle3(stem + ".eagle3-ternary.gguf", shape, eagle_vocab, ternary, seed);
        synth_eagle3(stem + ".eagle3-int8.gguf", shape, eagle_vocab, TensorType::F16, seed);
        std::fprintf(stderr, "wrote %s.eagle3-ternary.gguf and %s.eagle3-int8.gguf\n", stem.c_str(),
                     stem.c_str());
    }
    if (mtp > 0) {
        synth_mtp(mtp_gguf_path(out), shape, mtp, mtp_vocab, ternary, seed,
                  nextn ? MtpForm::Qwen35Nextn : MtpForm::Sidecar);
        std::fprintf(stderr, "wrote %s (%d modules)\n", mtp_gguf_path(out).c_str(), mtp);
    }
    return 0;
}

int cmd_convert(int argc, char** argv) {
    Args args(
        "convert", "IN OUT.gguf --type T [--quantize] [--mtp SIDECAR] [--mtp-in-file]",
        "Re-encode every weight of IN (GGUF file or HF folder) as type T; norms are stored as F32.\n"
        "Refuses, naming the tensor, when T cannot hold the weights exactly. MTP modules (--mtp SIDECAR,\n"
        "or nextn layers IN carries) are written to OUT.mtp.gguf, for --draft=mtp --draft-model; OUT stays\n"
        "the plain target, which llama.cpp loads; --mtp-in-file keeps Qwen3.5's nextn layer inside OUT "
        "after\n"
        "its stack, as a Bonsai 2 file carries it (llama.cpp loads that too; --draft mtp then needs no "
        "-md).\n"
        "An EAGLE-3 head is written in llama.cpp's eagle3 layout (docs/eagle.md) with --target TARGET; use\n"
        "--type f16, bf16, f32, or a ternary type for a head trained ternary.",
        {{"type", 0, "TYPE",
          "q2_0 (mainline llama.cpp, group 64), q2_0_g128 (legacy Bonsai), pq2_0, tq2_0, tq1_0, f16, bf16 or "
          "f32",
          "q2_0"},
         {"quantize", 0, "", "absmean-quantise float weights that are not exactly ternary", ""},
         {"mtp", 0, "SIDECAR", "an MTP sidecar folder to store with the model", ""},
         {"mtp-in-file", 0, "", "store the MTP layers in OUT itself (a hybrid's nextn layer)", ""},
         {"target", 0, "TARGET",
          "for an EAGLE-3 head: the target it drafts for (its tokenizer goes in the file)", ""}});
    if (!args.parse(argc, argv, 2)) return 0;
    // Parsed once; nothing below reads the arguments.
    if (args.positional().size() != 2) throw InputError("convert takes IN and OUT paths (see --help)");
    const std::string type_name = args.str("type"), in_path = args.positional()[0],
                      out = args.positional()[1];
    const auto type = type_from_name(type_name);
    if (!type || *type == TensorType::Q8_0) throw InputError("unsupported output type " + type_name);
    const std::string target_path = args.has("target") ? args.str("target") : "";
    const std::string mtp_path = args.has("mtp") ? args.str("mtp") : "";
    const bool quantize = args.flag("quantize");
    const auto placement = args.flag("mtp-in-file") ? MtpPlacement::SameFile : MtpPlacement::SeparateFile;

    if (is_eagle_head(in_path)) {
        if (target_path.empty())
            throw InputError(
                "an EAGLE-3 head's GGUF carries its target's tokenizer and layer count (llama.cpp "
                "reads both from it): pass --target TARGET");
        const auto target = ModelFiles::open(target_path);
        write_eagle_gguf(EagleSource::open(in_path), out, *type,
                         {&target.tokenizer(), target.config().n_layers, target.config().context_length});
        std::fprintf(stderr, "wrote %s (EAGLE-3 head, %s)\n", out.c_str(), type_name.c_str());
        return 0;
    }
    const auto in = ModelFiles::open(in_path);
    ProgressLine bar("convert");
    std::optional<MtpFiles> mtp;
    if (!mtp_path.empty()) mtp = MtpFiles::open(mtp_path);
    convert_model(
        in, out, *type, quantize, [&](int d, int t, const std::string& n) { bar.update(d, t, n); },
        mtp ? &*mtp : nullptr, placement);
    bar.finish();
    std::fprintf(stderr, "wrote %s (%s)\n", out.c_str(), type_name.c_str());
    if ((mtp || in.extra_layers() > 0) && placement == MtpPlacement::SeparateFile)
        std::fprintf(stderr, "wrote %s (MTP modules)\n", mtp_gguf_path(out).c_str());
    return 0;
}

}  // namespace ternspec::cli
