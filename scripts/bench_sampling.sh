#!/usr/bin/env bash
# Speculative sampling with the shipped drafters at temperatures 0 (greedy), 0.3, 0.7 and 1.0: tau,
# acceptance and speed-up against plain sampling, each temperature in one run (bench spec interleaves
# every drafter with plain decoding); soft drafts (the default) and one-hot drafts (soft_drafts=0). On
# bench/workloads' completion prompts and on held-out ones (scripts/make_workloads.py --held-out).
# Writes docs/bench/sampling-*.json; scripts/sampling_report.py prints the tables in docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${BIN:-build/ternspec}
m=models/tern-pystd-7m
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 scripts/make_workloads.py --held-out "$work" > /dev/null
common=(-m "$m" -n 96 -k 4 --draft eagle,mtp,suffix --seed 3 --reps 3 --threads "$(nproc)"
  --draft-model "eagle=$m-eagle3,mtp=$m-mtp")
for w in workloads heldout; do
  prompts=bench/workloads/completion.jsonl
  [ "$w" = heldout ] && prompts=$work/completion.jsonl
  for t in 0 0.3 0.7 1.0; do
    "$bin" bench spec "${common[@]}" --prompts "$prompts" --temp "$t" --json "docs/bench/sampling-$w-t$t.json" > /dev/null
    [ "$t" = 0 ] && continue
    "$bin" bench spec "${common[@]}" --prompts "$prompts" --temp "$t" --draft-opt soft_drafts=0 \
      --json "docs/bench/sampling-$w-t$t-onehot.json" > /dev/null
  done
done
