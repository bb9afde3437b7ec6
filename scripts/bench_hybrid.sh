#!/usr/bin/env bash
# The Qwen3.5 hybrid target at Bonsai 2's 4B shape (synthetic ternary weights; cost does not depend on their
# values): ternspec's forward for M = 1..16 tokens against the read bandwidth measured in the same run, in
# TQ2_0, PQ2_0 and PTQ1_0 files and with the Hadamard rotation declared (block 512, as Bonsai 2 4B); and
# llama.cpp (npm node-llama-cpp's prebuilt CPU build) on the same TQ2_0 file, decode and an 8-token forward.
# Runs alternate ternspec and llama.cpp REPS times so drift on this shared machine touches both; medians go
# to docs/bench/hybrid-4b.json. Run on an otherwise idle machine (about 20 minutes on 2 cores).
#   scripts/bench_hybrid.sh [SYNTH_DIR] [REPS]
set -euo pipefail
cd "$(dirname "$0")/.."
t=build/ternspec
dir=${1:-/tmp/ternspec-synth}
reps=${2:-3}
mkdir -p "$dir" docs/bench
for v in tq2_0 pq2_0 ptq1_0; do
  [ -f "$dir/h4b_$v.gguf.done" ] || { $t synth "$dir/h4b_$v.gguf" --shape qwen3.5-4b --type $v && touch "$dir/h4b_$v.gguf.done"; }
done
[ -f "$dir/h4b_rot.gguf.done" ] || { $t synth "$dir/h4b_rot.gguf" --shape qwen3.5-4b --type pq2_0 --hadamard 512 && touch "$dir/h4b_rot.gguf.done"; }
out=$dir/hybrid-runs
rm -rf "$out" && mkdir -p "$out"
for r in $(seq 1 "$reps"); do
  for v in tq2_0 pq2_0 ptq1_0 rot; do
    $t bench forward -m "$dir/h4b_$v.gguf" --tokens 1,2,4,8,16 --reps 5 --threads 2 --json -o "$out/ternspec-$v-$r.json"
  done
  node tests/llama_ref/llama_forward.mjs "$dir/h4b_tq2_0.gguf" 2 5 8 > "$out/llama-$r.json"
done
/usr/bin/python3 - "$out" "$reps" > docs/bench/hybrid-4b.json <<'PY'
import json, statistics, sys
out, reps = sys.argv[1], int(sys.argv[2])
med = statistics.median
res = {"command": "scripts/bench_hybrid.sh", "reps": reps, "ternspec": {}, "llama_cpp": {}}
for v in ("tq2_0", "pq2_0", "ptq1_0", "rot"):
    runs = [json.load(open(f"{out}/ternspec-{v}-{r}.json")) for r in range(1, reps + 1)]
    rows = {}
    for row in runs[0]["rows"]:
        m = row["tokens"]
        rows[m] = {"ms": med([x["ms"] for run in runs for x in run["rows"] if x["tokens"] == m])}
    bw = med([run["read_bandwidth_gbs"] for run in runs])
    rollback = {m: {"kept": runs[0]["rollback"][m]["kept"],
                    "replay_ms": med([run["rollback"][m]["replay_ms"] for run in runs]),
                    "state_copy_ms": med([run["rollback"][m]["state_copy_ms"] for run in runs])}
                for m in runs[0].get("rollback", {})}
    res["ternspec"][v] = {"bytes_per_forward": runs[0]["weight_bytes"], "read_bandwidth_gbs": bw,
                          "read_bandwidth_runs_gbs": [b for run in runs for b in run["read_bandwidth_runs_gbs"]],
                          "recurrent_state_bytes": runs[0]["recurrent_state_bytes"], "rows": rows,
                          "decode_share_of_bound": (runs[0]["weight_bytes"] / (bw * 1e9)) / (rows[1]["ms"] / 1e3),
                          "rollback": rollback}
lla = [json.load(open(f"{out}/llama-{r}.json")) for r in range(1, reps + 1)]
res["llama_cpp"] = {"decode_ms": med([x["decode_ms"] for x in lla]), "forward_8_ms": med([x["forward_m_ms"] for x in lla])}
t = res["ternspec"]["tq2_0"]["rows"]
res["tq2_0_vs_llama_cpp"] = {"decode": res["llama_cpp"]["decode_ms"] / t[1]["ms"],
                             "forward_8": res["llama_cpp"]["forward_8_ms"] / t[8]["ms"]}
print(json.dumps(res, indent=1))
PY
cat docs/bench/hybrid-4b.json
