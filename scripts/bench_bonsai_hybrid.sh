#!/usr/bin/env bash
# Speculative decoding measured end to end on the Qwen3.5 hybrid target at Bonsai 2's 4B shape: a synthetic
# ternary target (24 Gated DeltaNet + 8 gated attention layers) with drafters at their real sizes (a ternary
# EAGLE-3 head of the published shape, three MTP modules), every stage run for real (the recurrent state's
# rollback by replay included, chains and trees), acceptance replayed round by round from the shipped hybrid
# model and its trained drafters decoding the same prompts (bench spec --replay). MTP twice: ternspec's three
# modules (a qwen3 file of Qwen3 layers), and Qwen3.5's own nextn layer (what a Bonsai 2 file carries,
# applied recursively), with the full head as a file carries it and with a 16,384-token draft vocabulary
# (mtp#nextn-dv). Run on an otherwise idle machine (about 60 minutes on 2 cores with REPS 2); writes
# docs/bench/replay-qwen3.5-4b-*.json.
#   scripts/bench_bonsai_hybrid.sh [SYNTH_DIR] [REPS]
set -euo pipefail
cd "$(dirname "$0")/.."
t=build/ternspec
dir=${1:-/tmp/ternspec-synth}
reps=${2:-3}
mkdir -p "$dir"
m=$dir/qwen3.5-4b.gguf
[ -f "$m.done" ] || { $t synth "$m" --shape qwen3.5-4b --type tq2_0 --eagle3 --eagle-draft-vocab 16384 --mtp 3 \
  --mtp-draft-vocab 16384 && touch "$m.done"; }
# Qwen3.5's nextn layer at the 4B shape: synth writes it beside a target it then discards (same seed, same shape).
for dv in 0 16384; do
  out=$dir/qwen3.5-4b.nextn$([ $dv = 0 ] || echo -dv).gguf
  [ -f "$out" ] || { $t synth "$dir/nextn-tmp.gguf" --shape qwen3.5-4b --type tq2_0 --mtp 1 --nextn --mtp-draft-vocab $dv \
    && mv "$dir/nextn-tmp.mtp.gguf" "$out" && rm "$dir/nextn-tmp.gguf"; }
done
nextn=models/tern-pystd-hybrid-nextn/tern-pystd-hybrid.mtp.gguf
trained="eagle=models/tern-pystd-hybrid-eagle3,mtp=models/tern-pystd-hybrid-mtp,mtp#nextn=$nextn,mtp#nextn-dv=$nextn"
run() {  # workload requests n k drafters [tree]
  head -"$2" bench/workloads/$1.jsonl > "$dir/hybrid-$1-$2.jsonl"
  $t bench spec -m "$m" --replay models/tern-pystd-hybrid/tern-pystd-hybrid.gguf --replay-draft-model "$trained" \
    --draft-model "eagle=$dir/qwen3.5-4b.eagle3-ternary.gguf,mtp=$dir/qwen3.5-4b.mtp.gguf,mtp#nextn=$dir/qwen3.5-4b.nextn.gguf,mtp#nextn-dv=$dir/qwen3.5-4b.nextn-dv.gguf" \
    --prompts "$dir/hybrid-$1-$2.jsonl" -n "$3" -k "$4" --draft "$5" ${6:+--tree $6} --reps "$reps" --threads 2 \
    --json docs/bench/replay-qwen3.5-4b-$1.json
}
run completion 6 48 3,auto suffix,eagle,mtp,mtp#nextn,mtp#nextn-dv 8
run editing 4 48 3 suffix 8
/usr/bin/python3 scripts/bench_report.py
