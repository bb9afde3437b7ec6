#pragma once
// `ternspec bench serve --http`: a `ternspec serve` child process measured from the client side, over
// loopback HTTP: throughput, time to first token and inter-token latency at several numbers of concurrent
// streaming clients, with and without speculation, interleaved in one run; medians over repetitions.
#include "tools/ternspec/args.hpp"

namespace ternspec::cli {

int bench_serve_http(const Args& args, int argc, char** argv);

}  // namespace ternspec::cli
