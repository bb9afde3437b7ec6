#!/usr/bin/env bash
# The suffix drafter against ArcticInference's SuffixDecoding, replayed on the same greedy streams of the
# shipped model (docs/suffix.md). Held-out prompts come from validation modules bench/workloads does not
# use; the tuning streams (bench/suffix/streams-*.jsonl) are the ones the defaults were chosen on.
#
#   scripts/suffix_compare.sh [ARCTIC_DIR]
#
# ARCTIC_DIR: a checkout of ArcticInference's csrc/suffix_decoding (not in this repository); without it
# only ternspec's rows are written. Results go to docs/bench/suffix-*.json.
set -euo pipefail
cd "$(dirname "$0")/.."
arctic=${1:-}
build=${BUILD:-build-suffix}  # BUILD=build reuses an existing build folder
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release \
  ${arctic:+-DTERNSPEC_ARCTIC_SRC="$(realpath "$arctic")"} >/dev/null
cmake --build "$build" --target suffix_replay bench_suffix -j"$(nproc)" >/dev/null
replay="$build/bench/suffix_replay"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 scripts/make_workloads.py --held-out "$work/prompts"
for w in completion editing; do
  "$replay" record -m models/tern-pystd-7m --prompts "$work/prompts/$w.jsonl" -n 256 -o "$work/$w.jsonl"
done
held=("$work/editing.jsonl" "$work/completion.jsonl")
tune=(bench/suffix/streams-editing.jsonl bench/suffix/streams-completion.jsonl)
a=${arctic:+--arctic}
"$replay" run --streams "${held[@]}" -k 4,8,16 $a --json docs/bench/suffix-heldout-chain.json
"$replay" run --streams "${held[@]}" -k 8,16 --tree 16 $a --json docs/bench/suffix-heldout-tree.json
"$replay" run --streams "${tune[@]}" -k 4,8,16 $a --json docs/bench/suffix-tuning-chain.json
# What each change bought, on the held-out streams: SuffixDecoding's rules on this implementation (every
# match length, its estimate and length cap), then the draft continuing through loops, then the match prior
# in place of the cap (the defaults).
"$replay" run --streams "${held[@]}" -k 4,8,16 --draft-opt match_prior=0,max_spec_factor=1,overlap=0 \
  --json docs/bench/suffix-heldout-ablation-arctic-rules.json
"$replay" run --streams "${held[@]}" -k 4,8,16 --draft-opt match_prior=0,max_spec_factor=1 \
  --json docs/bench/suffix-heldout-ablation-overlap.json
"$build/bench/bench_suffix" --benchmark_repetitions=5 --benchmark_report_aggregates_only=true \
  --benchmark_out=docs/bench/suffix-costs.json --benchmark_out_format=json
