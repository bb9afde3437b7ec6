// `logits` (every position, any chunking: the batch-invariance check a user can run) and `perplexity`.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <sstream>

#include "tools/ternspec/commands.hpp"
#include "tools/ternspec/model_args.hpp"
#include "tools/ternspec/output_file.hpp"

namespace ternspec::cli {
namespace {

void write_npy(const std::string& path, const std::vector<float>& data, std::size_t rows, std::size_t cols) {
    std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::to_string(rows) + ", " +
                         std::to_string(cols) + "), }";
    const std::size_t total = 10 + header.size() + 1;
    header.append((64 - total % 64) % 64, ' ');
    header += '\n';
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    if (!out) throw InputError(path + ": cannot create");
    out.write("\x93NUMPY\x01\x00", 8);
    const std::uint16_t hl = static_cast<std::uint16_t>(header.size());
    out.write(reinterpret_cast<const char*>(&hl), 2);
    out << header;
    out.write(reinterpret_cast<const char*>(data.data()),
              static_cast<std::streamsize>(data.size() * sizeof(float)));
    out.close();
    if (!out) throw InputError("--npy " + path + ": write failed");
}

std::vector<std::int32_t> read_ids(const std::string& path, int vocab) {
    std::istringstream in(read_input_file(path));
    std::vector<std::int32_t> ids;
    for (std::string s; in >> s;) {
        try {
            std::size_t used = 0;
            const long long v = std::stoll(s, &used);
            if (used != s.size()) throw std::invalid_argument(s);
            if (v < 0 || v >= vocab)
                throw InputError(path + ": token id " + s + " is out of range (vocabulary of " +
                                 std::to_string(vocab) + ")");
            ids.push_back(static_cast<std::int32_t>(v));
        } catch (const std::logic_error&) {
            throw InputError(path + ": \"" + s + "\" is not a token id");
        }
    }
    return ids;
}

}  // namespace

int cmd_logits(int argc, char** argv) {
    auto opts = model_options();
    opts.push_back({"prompt", 'p', "TEXT", "text to score", ""});
    opts.push_back({"ids", 0, "FILE", "whitespace-separated token ids instead of text", ""});
    opts.push_back({"batch", 0, "N", "tokens per forward call", "32"});
    opts.push_back({"top", 0, "K", "print the K most likely tokens per position", "5"});
    opts.push_back({"npy", 0, "OUT", "write all logits as float32 [tokens, vocab] .npy instead", ""});
    Args args(
        "logits", "-m MODEL (-p TEXT | --ids FILE) [--batch N] [--top K] [--npy OUT]",
        "Logits at every position, computed in chunks of --batch tokens. The values do not depend on the\n"
        "chunking (batch invariance), so two runs with different --batch give identical files.",
        opts);
    if (!args.parse(argc, argv)) return 0;
    // Parsed once; nothing below reads the arguments.
    const std::string npy = args.has("npy") ? args.str("npy") : "";
    if (!npy.empty()) check_writable(npy, "--npy");
    if (args.has("prompt") == args.has("ids")) throw InputError("give exactly one of -p TEXT or --ids FILE");
    const std::optional<std::string> prompt = args.opt("prompt"), ids_file = args.opt("ids");
    const int batch = static_cast<int>(args.integer("batch", 1, std::numeric_limits<int>::max()));
    const long long top = args.integer("top", 1, std::numeric_limits<int>::max());
    auto [threads, model] = open_model(args);

    const int vocab = model->config().vocab_size;
    const auto ids = ids_file ? read_ids(*ids_file, vocab) : model->tokenizer().encode(*prompt);
    if (ids.empty()) throw InputError("no tokens to score");
    if (static_cast<int>(ids.size()) > model->config().context_length)
        throw InputError(std::to_string(ids.size()) + " tokens exceed the model's context of " +
                         std::to_string(model->config().context_length));
    const auto logits = model->logits_chunked(ids, batch);
    if (!npy.empty()) {
        write_npy(npy, logits, ids.size(), static_cast<std::size_t>(vocab));
        std::fprintf(stderr, "wrote %zu x %d logits to %s\n", ids.size(), vocab, npy.c_str());
        return 0;
    }
    const int k = static_cast<int>(std::min<long long>(top, vocab));
    for (std::size_t i = 0; i < ids.size(); ++i) {
        const float* row = logits.data() + i * static_cast<std::size_t>(vocab);
        std::vector<int> order(static_cast<std::size_t>(vocab));
        std::iota(order.begin(), order.end(), 0);
        std::partial_sort(order.begin(), order.begin() + k, order.end(),
                          [&](int a, int b) { return row[a] > row[b]; });
        std::printf("%zu %d", i, ids[i]);
        for (int j = 0; j < k; ++j)
            std::printf("  %d:%.4f", order[static_cast<std::size_t>(j)],
                        row[order[static_cast<std::size_t>(j)]]);
        std::printf("\n");
    }
    return 0;
}

int cmd_perplexity(int argc, char** argv) {
    auto opts = model_options();
    opts.push_back({"file", 'f', "FILE", "text to score (special tokens in it are parsed)", ""});
    opts.push_back({"ctx", 0, "N", "window length: the text is cut into windows of N tokens", "256"});
    opts.push_back({"json", 0, "", "machine-readable output", ""});
    opts.push_back(json_output_option());
    Args args("perplexity", "-m MODEL -f FILE [--ctx N] [--json]",
              "Perplexity and bits per byte: each window scores its tokens 2..N given the ones before.",
              opts);
    if (!args.parse(argc, argv)) return 0;
    // Parsed once; nothing below reads the arguments.
    const JsonOutput json = json_output_from(args);
    const std::string file = args.str("file");
    const int ctx = static_cast<int>(args.integer("ctx", 2, std::numeric_limits<int>::max()));
    auto [threads, model] = open_model(args);
    const std::string text = read_prompt_file(file);
    const auto ids = model->tokenizer().encode(text);
    if (ctx < 2 || ctx > model->config().context_length)
        throw InputError("--ctx must be between 2 and the model's context of " +
                         std::to_string(model->config().context_length));
    if (ids.size() < 2) throw InputError(file + ": fewer than two tokens");
    const int vocab = model->config().vocab_size;
    double nll = 0;
    long long scored = 0;
    ProgressLine bar("perplexity");
    // Windows start every ctx tokens and take ctx inputs; each predicts its next ctx tokens, so every token
    // after the first is scored once (the training script's evaluation, plus the final partial window).
    const std::size_t step = static_cast<std::size_t>(ctx);
    for (std::size_t s = 0; s + 1 < ids.size(); s += step) {
        const std::size_t n = std::min(ids.size() - s, step + 1);
        if (n < 2) break;
        std::vector<std::int32_t> window(ids.begin() + static_cast<std::ptrdiff_t>(s),
                                         ids.begin() + static_cast<std::ptrdiff_t>(s + n - 1));
        KvCache cache = model->make_cache(static_cast<int>(window.size()));
        std::vector<std::int32_t> pos(window.size());
        std::iota(pos.begin(), pos.end(), 0);
        ForwardInput in;
        in.tokens = window;
        in.positions = pos;
        auto r = model->forward(cache, in);
        for (std::size_t i = 0; i < window.size(); ++i) {
            const float* row = r.logits.data() + i * static_cast<std::size_t>(vocab);
            const float mx = *std::max_element(row, row + vocab);
            double z = 0;
            for (int v = 0; v < vocab; ++v) z += std::exp(static_cast<double>(row[v]) - mx);
            nll += std::log(z) + mx - row[ids[s + i + 1]];
            ++scored;
        }
        bar.update(static_cast<long long>(std::min(s + step, ids.size())),
                   static_cast<long long>(ids.size()));
    }
    bar.finish();
    const double mean = nll / static_cast<double>(scored);
    const double bpb =
        mean * static_cast<double>(ids.size()) / static_cast<double>(text.size()) / std::log(2.0);
    if (json.json) {
        emit_json(json, nlohmann::json{{"file", file},
                                       {"tokens", ids.size()},
                                       {"scored", scored},
                                       {"ctx", ctx},
                                       {"mean_nll", mean},
                                       {"perplexity", std::exp(mean)},
                                       {"bits_per_byte", bpb}}
                            .dump());
    } else {
        std::printf("tokens %zu, scored %lld, window %d: perplexity %.4f, bits per byte %.4f\n", ids.size(),
                    scored, ctx, std::exp(mean), bpb);
    }
    return 0;
}

}  // namespace ternspec::cli
