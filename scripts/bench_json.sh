#!/usr/bin/env bash
# Structured output's cost, measured (issue #37): the token mask per row; speculation's speed-up with and
# without a JSON schema on the same prompts (shipped 7M model, every drafter); and the cost per decode step at
# the Qwen3-1.7B shape (plain decoding of a synthetic target with Qwen3's vocabulary, with and without the
# schema). Run on an otherwise idle machine; about 10 minutes on 2 cores.
#   scripts/bench_json.sh            (after scripts/setup.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
t=build/ternspec
big=${BIG:-/tmp/qwen3-1.7b.gguf}
schema=bench/workloads/json-schema-package.json
models="eagle=models/tern-pystd-7m-eagle3,mtp=models/tern-pystd-7m-mtp"
[ -f "$big" ] || $t synth "$big" --shape qwen3-1.7b --type q2_0_g128
build/bench/bench_json_mask --benchmark_format=json --benchmark_repetitions=3 \
  --benchmark_report_aggregates_only=true > docs/bench/json-mask.json
# Constrained and free runs alternate, twice each, so the machine's phases touch both alike.
for rep in 1 2; do
  for mode in schema free; do
    extra=(); [ $mode = schema ] && extra=(--json-schema-file $schema)
    $t bench spec -m models/tern-pystd-7m --prompts bench/workloads/json.jsonl --draft suffix,ngram,eagle,mtp \
      --draft-model "$models" -k 3,6 -n 96 --reps 3 --threads 2 "${extra[@]}" \
      --json docs/bench/spec-json-$mode-$rep.json
    $t bench spec -m "$big" --prompts bench/workloads/json.jsonl --draft none -n 24 --reps 3 --threads 2 \
      "${extra[@]}" --json docs/bench/decode-json-1.7b-$mode-$rep.json
  done
done
/usr/bin/python3 scripts/bench_report.py
