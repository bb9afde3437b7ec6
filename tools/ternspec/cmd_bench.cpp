// `bench forward`: the target's cost per forward as a function of tokens per call, against the machine's
// read bandwidth measured in the same run.
#include <tbb/parallel_for.h>
#include <tbb/parallel_reduce.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <numeric>

#include "target/model/filler_tokens.hpp"
#include "ternspec/ternspec.hpp"
#include "tools/ternspec/commands.hpp"
#include "tools/ternspec/model_args.hpp"
#include "tools/ternspec/output_file.hpp"
#include "tools/ternspec/read_bandwidth.hpp"
#include "tools/ternspec/serve_bench.hpp"
#include "tools/ternspec/spec_bench.hpp"

namespace ternspec::cli {
namespace {

long long resident_kib() {
    std::ifstream in("/proc/self/status");
    for (std::string line; std::getline(in, line);)
        if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6));
    return -1;
}

// A cache holding `prefix` tokens and one input per size, each continuing it.
struct ForwardInputs {
    FillerTokens fill;
    std::vector<ForwardInput> inputs;

    ForwardInputs(const Qwen3Model& model, KvCache& cache, const std::vector<long long>& sizes, int prefix)
        : fill(model.config(),
               static_cast<std::size_t>(prefix + *std::max_element(sizes.begin(), sizes.end()))) {
        if (prefix > 0) model.forward(cache, fill.slice(0, static_cast<std::size_t>(prefix), false));
        for (const long long m : sizes)
            inputs.push_back(fill.slice(static_cast<std::size_t>(prefix), static_cast<std::size_t>(m)));
    }
};

// Repetitions interleave every size and a bandwidth pass, so drift on this shared machine touches all of
// them alike and the ratios (cost vs M = 1, share of the bound) stay steady. Returns the seconds of each
// size's forwards; the bandwidth passes go to bw_runs.
std::vector<std::vector<double>> time_forwards(const Qwen3Model& model, KvCache& cache,
                                               const ForwardInputs& in, int reps,
                                               std::vector<double>& bw_runs) {
    const auto& inputs = in.inputs;
    auto probe = std::make_unique<ReadBandwidthProbe>();
    std::vector<std::vector<double>> times(inputs.size());
    for (int r = 0; r < reps + 1; ++r) {  // the first round warms caches and thread pools
        // A pass reads 512 MB; with many repetitions (small models) a spread-out subset of 15 is enough. It
        // also flushes the caches, so an untimed forward follows: a model that fits in cache would otherwise
        // time its first size cold and the others warm.
        if (r > 0 && (r - 1) % std::max(1, reps / 15) == 0) {
            bw_runs.push_back(probe->pass_gbs());
            model.forward(cache, inputs[0]);
            cache.trim_by(static_cast<int>(inputs[0].tokens.size()));
        }
        for (std::size_t i = 0; i < inputs.size(); ++i) {
            const double t0 = seconds();
            model.forward(cache, inputs[i]);
            const double dt = seconds() - t0;
            cache.trim_by(static_cast<int>(inputs[i].tokens.size()));
            if (r > 0) times[i].push_back(dt);
        }
    }
    return times;
}

// A hybrid's rollback after a verification round of m tokens that kept half of them (replaying their updates
// from the state the round started from), against copying the whole recurrent state once, which is what a
// snapshot scheme pays per round at least. Medians of `reps`.
nlohmann::json time_rollback(const Qwen3Model& model, KvCache& cache, const ForwardInputs& in, int reps) {
    nlohmann::json out = nlohmann::json::object();
    if (cache.recurrent_layers() == 0) return out;
    for (std::size_t i = 0; i < in.inputs.size(); ++i) {
        const int m = static_cast<int>(in.inputs[i].tokens.size());
        if (m < 2 || m > RecurrentState::kMaxJournaled) continue;
        std::vector<double> replay, copy;
        for (int r = 0; r < reps; ++r) {
            model.forward(cache, in.inputs[i]);
            double t0 = seconds();
            cache.trim_by(m - m / 2);  // keeps m / 2 tokens: replays them
            replay.push_back(seconds() - t0);
            cache.trim_by(m / 2);
            t0 = seconds();
            std::vector<std::vector<float>> snapshot;
            for (int l = 0; l < cache.recurrent_layers(); ++l) snapshot.push_back(cache.recurrent().state(l));
            copy.push_back(seconds() - t0);
        }
        out[std::to_string(m)] = {
            {"kept", m / 2}, {"replay_ms", median(replay) * 1e3}, {"state_copy_ms", median(copy) * 1e3}};
    }
    return out;
}

void print_forward_table(const nlohmann::json& out, double bw, double wbytes, long long rss) {
    std::printf(
        "kernels %s, read bandwidth %.1f GB/s, packed weights %.1f MB, resident %.1f MB (%.2fx weights+KV)\n",
        active_kernels().c_str(), bw, wbytes / 1e6, rss / 1024.0,
        out["resident_vs_weights_plus_kv"].get<double>());
    std::printf("| tokens | ms/forward | tokens/s | GB/s | cost vs M=1 |\n|---:|---:|---:|---:|---:|\n");
    double t1 = 0;
    for (const auto& r : out["rows"]) {
        if (r["tokens"].get<long long>() == 1) t1 = r["ms"].get<double>();
        std::printf("| %lld | %.2f | %.1f | %.1f | %.2f |\n", r["tokens"].get<long long>(),
                    r["ms"].get<double>(), r["tokens_per_s"].get<double>(), r["achieved_gbs"].get<double>(),
                    r["cost_vs_m1"].get<double>());
    }
    std::printf("decode bound from bandwidth: %.1f tokens/s; measured M=1: %.1f tokens/s (%.0f%%)\n",
                bw * 1e9 / wbytes, 1e3 / t1, 100 * (1e3 / t1) / (bw * 1e9 / wbytes));
}

int bench_forward(int argc, char** argv) {
    auto opts = model_options();
    opts.push_back({"tokens", 0, "LIST", "tokens per forward call", "1,2,4,8,16"});
    opts.push_back({"reps", 0, "R", "repetitions per size (median reported)", "7"});
    opts.push_back({"prefix", 0, "N", "tokens already in the KV cache", "64"});
    opts.push_back({"json", 0, "", "machine-readable output", ""});
    opts.push_back(json_output_option());
    Args args(
        "bench forward", "-m MODEL [--tokens 1,2,4,8,16] [--threads N] [--json]",
        "Median time per target forward for each number of tokens per call, weight bytes read, achieved and\n"
        "measured bandwidth, and resident memory.",
        opts);
    if (!args.parse(argc, argv)) return 0;
    // Parsed once; the sizes are checked against the model's context once it is loaded.
    const JsonOutput json = json_output_from(args);
    const std::string path = args.str("model");
    const bool quantize = args.flag("quantize");
    const int n_threads = args.has("threads") ? static_cast<int>(args.integer("threads", 1, 1024)) : 0;
    const auto sizes = args.int_list("tokens", 1, std::numeric_limits<std::int32_t>::max() - 1);
    const int reps = static_cast<int>(args.integer("reps", 1, 1000));
    const long long prefix_arg = args.integer("prefix", 0, std::numeric_limits<std::int32_t>::max());

    auto threads = limit_threads(n_threads);
    const auto model = load_model(path, quantize);
    const int ctx = model->config().context_length;
    for (const auto m : sizes)
        if (m > ctx - 1)
            throw InputError("--tokens: " + std::to_string(m) + " is out of range (an integer from 1 to " +
                             std::to_string(ctx - 1) + ", the model's context)");
    const long long max_m = *std::max_element(sizes.begin(), sizes.end());
    // The KV cache is sized from these: checked against the model's context before anything is allocated.
    if (prefix_arg > ctx - 1 - max_m)
        throw InputError("--prefix: " + std::to_string(prefix_arg) +
                         " is out of range (an integer from 0 to " + std::to_string(ctx - 1 - max_m) +
                         ", the context left after the largest --tokens)");
    const int prefix = static_cast<int>(prefix_arg);
    KvCache cache = model->make_cache(prefix + static_cast<int>(max_m) + 1);
    const ForwardInputs inputs(*model, cache, sizes, prefix);
    // A hybrid's recurrent state is read and written back by every forward: its traffic counts with the
    // weights' (a lower bound: each GDN layer's state, 2 MB at the 4B shape, is read and written once).
    const double wbytes = static_cast<double>(model->weight_bytes()) +
                          2.0 * static_cast<double>(model->recurrent_state_bytes());
    std::vector<double> bw_runs;
    const auto times = time_forwards(*model, cache, inputs, reps, bw_runs);  // frees its probe on return
    const double bw = median(bw_runs);
    nlohmann::json rows = nlohmann::json::array();
    double t1 = 0;
    for (std::size_t i = 0; i < sizes.size(); ++i) {
        const long long m = sizes[i];
        const double ms = median(times[i]) * 1e3;
        if (m == 1) t1 = ms;
        rows.push_back({{"tokens", m},
                        {"ms", ms},
                        {"tokens_per_s", m / (ms / 1e3)},
                        {"weight_bytes", wbytes},
                        {"achieved_gbs", wbytes / (ms / 1e3) / 1e9},
                        {"cost_vs_m1", t1 > 0 ? ms / t1 : 0.0}});
    }
    const auto rollback = time_rollback(*model, cache, inputs, reps);
    const long long rss = resident_kib();
    const double kv_bytes = static_cast<double>(cache.bytes());
    nlohmann::json out = {{"model", path},
                          {"kernels", active_kernels()},
                          {"read_bandwidth_gbs", bw},
                          {"read_bandwidth_runs_gbs", bw_runs},
                          {"weight_bytes", wbytes},
                          {"recurrent_state_bytes", static_cast<double>(model->recurrent_state_bytes())},
                          {"kv_cache_bytes", kv_bytes},
                          {"resident_bytes", rss * 1024.0},
                          {"resident_vs_weights_plus_kv", rss * 1024.0 / (wbytes + kv_bytes)},
                          {"decode_bandwidth_bound_tokens_per_s", bw * 1e9 / wbytes},
                          {"rows", rows}};
    if (!rollback.empty()) out["rollback"] = rollback;
    if (json.json) {
        emit_json(json, out.dump(1));
        return 0;
    }
    print_forward_table(out, bw, wbytes, rss);
    for (const auto& [m, r] : rollback.items())
        std::printf(
            "rollback of a %s-token round keeping %d: replay %.3f ms; copying the recurrent state once: %.3f "
            "ms\n",
            m.c_str(), r["kept"].get<int>(), r["replay_ms"].get<double>(), r["state_copy_ms"].get<double>());
    return 0;
}

}  // namespace

int cmd_bench(int argc, char** argv) {
    if (argc < 1 || std::string(argv[0]) == "--help" || std::string(argv[0]) == "-h") {
        std::printf(
            "usage: ternspec bench forward|spec|serve [options]   (ternspec bench forward --help, bench spec "
            "--help, bench serve --help)\n");
        return argc < 1 ? 1 : 0;
    }
    const std::string what = argv[0];
    if (what == "forward") return bench_forward(argc - 1, argv + 1);
    if (what == "spec") return bench_spec(argc - 1, argv + 1);
    if (what == "serve") return bench_serve(argc - 1, argv + 1);
    throw InputError("unknown benchmark " + what + " (forward, spec, serve)");
}

}  // namespace ternspec::cli
