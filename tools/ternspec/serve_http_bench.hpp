#pragma once
// `ternspec bench serve --http`: a `ternspec serve` child process measured from the client side, over
// loopback HTTP: throughput, time to first token and inter-token latency at several numbers of concurrent
// streaming clients, with and without speculation, interleaved in one run; medians over repetitions.
#include <optional>
#include <string>
#include <vector>

namespace ternspec::cli {

// `bench serve`'s arguments, parsed once (serve_bench.cpp) for both of its modes.
struct ServeBenchOptions {
    std::string model, prompts, json_out, draft_model_arg;  // draft_model_arg: --draft-model as given
    bool quantize = false, http = false;
    int threads = 0;                    // -t; 0: no limit
    std::vector<std::string> drafters;  // none first, then the rest as given
    int n_predict = 64, k = 3, reps = 3, parallel = 4, prompt_tokens = 0;
    std::vector<int> clients;  // --http
};

int bench_serve_http(const ServeBenchOptions& o, int argc, char** argv);

}  // namespace ternspec::cli
