#!/usr/bin/env bash
# llama.cpp's own speculation (node-llama-cpp's InputLookupTokenPredictor: prompt-lookup drafts) on the shipped
# Qwen3 and hybrid models, against plain greedy decoding of the same prompts: speed and whether the text stays the
# same; and ternspec's model-free drafters on the same prompts (bench spec: speed-up and "matches none"). One
# thread each (the 7M models are compute-bound: the speed ratios say little about large models; the text
# comparison is the point). Writes docs/bench/llama-lookup.json.
#   scripts/bench_llama_lookup.sh [PROMPTS] [MAX_TOKENS]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${2:-48}
prompts=$(mktemp --suffix=.jsonl)
head -4 "${1:-bench/workloads/editing.jsonl}" > "$prompts"
out=$(mktemp -d)
for m in tern-pystd-7m/tern-pystd-7m.gguf tern-pystd-hybrid/tern-pystd-hybrid.gguf; do
  name=$(basename "$m" .gguf)
  (cd tests/llama_ref && node llama_lookup.mjs "../../models/$m" "$prompts" "$n" 1) > "$out/llama-$name.json"
  build/ternspec bench spec -m "models/$m" --prompts "$prompts" --draft ngram,suffix -k 3 -n "$n" --reps 3 -t 1 \
    --json "$out/ternspec-$name.json" > /dev/null 2>&1
done
/usr/bin/python3 - "$out" "${1:-bench/workloads/editing.jsonl}" "$n" > docs/bench/llama-lookup.json << 'PY'
import json, sys
out, workload, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
res = {"command": f"scripts/bench_llama_lookup.sh {workload} {n}", "prompts": f"the first 4 of {workload}", "models": {}}
for name in ("tern-pystd-7m", "tern-pystd-hybrid"):
    l = json.load(open(f"{out}/llama-{name}.json"))
    t = json.load(open(f"{out}/ternspec-{name}.json"))
    rows = {r["config"]["drafter"]: r for r in t["rows"]}
    res["models"][name] = {
        "llama_cpp_lookup": {k: l[k] for k in ("plain_ms", "lookup_ms", "lookup_speedup", "predictions", "same_text",
                                               "texts_differing")},
        "ternspec": {d: {"speedup": rows[d]["speedup_vs_none"], "tau": rows[d]["tau"], "matches_none": rows[d]["matches_none"]}
                     for d in ("ngram", "suffix")},
    }
print(json.dumps(res, indent=1))
PY
cat docs/bench/llama-lookup.json
