#pragma once
// `ternspec bench serve`: the same requests served three ways in one process (one at a time; N at a time
// with one batched verification per round; N at a time with drafting overlapped with verification), for
// each drafter, as throughput ratios against one-at-a-time plain decoding, checking every output.
namespace ternspec::cli {

int bench_serve(int argc, char** argv);

}  // namespace ternspec::cli
