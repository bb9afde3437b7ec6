// ternspec: speculative decoding for ternary Qwen3 models. Errors end here as one line and exit code 1.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>

#include "ternspec/error.hpp"
#include "ternspec/ternspec.hpp"
#include "tools/ternspec/commands.hpp"
#include "tools/ternspec/output_file.hpp"

namespace {

struct Command {
    int (*run)(int, char**);
    const char* summary;
};

const std::map<std::string, Command>& commands() {
    using namespace ternspec::cli;
    static const std::map<std::string, Command> table = {
        {"inspect", {cmd_inspect, "show a model's architecture, tensors and tokenizer"}},
        {"tokenize", {cmd_tokenize, "text to token ids"}},
        {"detokenize", {cmd_detokenize, "token ids to text"}},
        {"generate", {cmd_generate, "plain decoding (streams text)"}},
        {"decode", {cmd_decode, "speculative decoding with a drafter, with acceptance statistics"}},
        {"logits", {cmd_logits, "every position's logits (top-k or .npy)"}},
        {"perplexity", {cmd_perplexity, "perplexity and bits per byte of a text file"}},
        {"synth", {cmd_synth, "write a random ternary model with real Qwen3 shapes (GGUF)"}},
        {"convert", {cmd_convert, "re-encode a model (GGUF or HF folder) as a GGUF of another type"}},
        {"bench", {cmd_bench, "benchmarks: forward cost per batch size, speculative decoding"}},
        {"serve", {cmd_serve, "an OpenAI-compatible HTTP server (completions, chat, streaming)"}},
        {"distill", {cmd_distill, "train an EAGLE-3 head for a model on its own predictions over a corpus"}},
        {"template", {cmd_template, "the prompt a conversation becomes under the model's chat template"}},
    };
    return table;
}

void usage(std::FILE* out) {
    std::fprintf(
        out, "usage: ternspec COMMAND [options]   (ternspec COMMAND --help for its options)\n\ncommands:\n");
    for (const auto& [name, c] : commands()) std::fprintf(out, "  %-12s %s\n", name.c_str(), c.summary);
    std::fprintf(out, "\n  --version    version and the kernel path this CPU runs\n");
}

}  // namespace

int main(int argc, char** argv) {
    auto logger = spdlog::stderr_color_mt("ternspec");
    spdlog::set_default_logger(logger);
    spdlog::set_pattern("[%H:%M:%S.%e] %^%l%$ %v");
    spdlog::set_level(spdlog::level::info);
    for (int i = 1; i < argc; ++i)
        if (std::strcmp(argv[i], "-v") == 0 || std::strcmp(argv[i], "--verbose") == 0)
            spdlog::set_level(spdlog::level::debug);

    if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 1 : 0;
    }
    try {
        (void)ternspec::active_kernels();  // a TERNSPEC_KERNELS that cannot be honoured is an error here
    } catch (const ternspec::Error& e) {
        std::fprintf(stderr, "ternspec: %s\n", e.what());
        return 1;
    }
    if (std::strcmp(argv[1], "--version") == 0) {
        std::printf("ternspec %s (kernels: %s)\n", ternspec::version().c_str(),
                    ternspec::active_kernels().c_str());
        return 0;
    }
    const auto it = commands().find(argv[1]);
    if (it == commands().end()) {
        std::fprintf(stderr, "ternspec: unknown command '%s' (see ternspec --help)\n", argv[1]);
        return 1;
    }
    try {
        const int rc = it->second.run(argc - 2, argv + 2);
        if (!ternspec::cli::flush_stdout()) {
            std::fprintf(stderr, "ternspec %s: writing standard output failed: %s\n", argv[1],
                         std::strerror(errno));
            return 1;
        }
        return rc;
    } catch (const ternspec::Error& e) {
        std::fprintf(stderr, "ternspec %s: %s\n", argv[1], e.what());
    } catch (const std::bad_alloc&) {
        std::fprintf(stderr, "ternspec %s: out of memory\n", argv[1]);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "ternspec %s: %s\n", argv[1], e.what());
    }
    return 1;
}
