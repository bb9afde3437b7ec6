#!/usr/bin/env bash
# Speculative decoding measured end to end at Qwen3's 1.7B, 4B and 8B shapes (Ternary-Bonsai keeps them):
# synthetic ternary targets with drafters at their real sizes (EAGLE-3 heads of the published shape, ternary
# and int8; three MTP modules), every stage run for real, acceptance replayed round by round from the shipped
# 7M model and its trained drafters decoding the same prompts (bench spec --replay). Draft vocabularies of
# 16,384 tokens: they cover 99.3% of the Qwen3 tokens of Python source (docs/bench/qwen3-vocab-coverage.json).
# Targets in the group-128 Q2_0 layout of the published Ternary-Bonsai files (mainline q2_0, group 64, costs
# more per multi-token forward on this machine: t(4)/t(1) 2.25 against 1.81 in one run). Run on an otherwise
# idle machine (about 40 minutes on 2 cores); writes docs/bench/replay-*.json.
#   scripts/bench_bonsai.sh [SYNTH_DIR] [SHAPES]     (SHAPES: some of "1.7b 4b 8b", the default all three)
set -euo pipefail
cd "$(dirname "$0")/.."
t=build/ternspec
dir=${1:-/tmp/ternspec-synth}
shapes=${2:-1.7b 4b 8b}
mkdir -p "$dir"
trained="eagle=models/tern-pystd-7m-eagle3-ternary,eagle#int8=models/tern-pystd-7m-eagle3,mtp=models/tern-pystd-7m-mtp"
for shape in $shapes; do
  m=$dir/qwen3-$shape.gguf
  [ -f "$m.done" ] || { $t synth "$m" --shape qwen3-$shape --type q2_0_g128 --eagle3 --eagle-draft-vocab 16384 --mtp 3 \
    --mtp-draft-vocab 16384 && touch "$m.done"; }
done
run() {  # shape workload requests n k drafters
  case " $shapes " in *" $1 "*) ;; *) return 0 ;; esac
  local m=$dir/qwen3-$1.gguf
  head -"$3" bench/workloads/$2.jsonl > "$dir/$2-$3.jsonl"
  $t bench spec -m "$m" --replay models/tern-pystd-7m --replay-draft-model "$trained" \
    --draft-model "eagle=$dir/qwen3-$1.eagle3-ternary.gguf,eagle#int8=$dir/qwen3-$1.eagle3-int8.gguf,mtp=$dir/qwen3-$1.mtp.gguf" \
    --prompts "$dir/$2-$3.jsonl" -n "$4" -k "$5" --draft "$6" --reps 3 --threads 2 \
    --json docs/bench/replay-qwen3-$1-$2.json
}
run 1.7b completion 12 64 3,auto eagle,eagle#int8,mtp,suffix
run 1.7b editing 12 64 3,auto suffix,eagle
run 4b completion 8 48 3 eagle,eagle#int8,mtp,suffix
run 4b editing 8 48 3 suffix
run 8b completion 6 48 3 eagle,mtp,suffix
run 8b editing 6 48 3 suffix
/usr/bin/python3 scripts/bench_report.py
