#pragma once
// `ternspec bench spec`: every drafter over the same requests in one process, interleaved repetitions,
// speed-ups as ratios against `none` measured in the same run, and a check that greedy outputs match.
namespace ternspec::cli {

int bench_spec(int argc, char** argv);

}  // namespace ternspec::cli
