#!/usr/bin/env bash
# Regenerates every benchmark figure in docs/ (docs/bench/*.json -> docs/benchmarks.md) and the trained
# drafters' cards. Run on an otherwise idle machine; it takes about half an hour on 2 cores, plus about 40
# minutes for the Qwen3 shapes (scripts/bench_bonsai.sh; BONSAI=0 leaves them out).
#   scripts/bench_all.sh            (after scripts/setup.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
t=build/ternspec
big=/tmp/qwen3-1.7b.gguf
models="eagle=models/tern-pystd-7m-eagle3,mtp=models/tern-pystd-7m-mtp"
[ -f "$big" ] || $t synth "$big" --shape qwen3-1.7b --type q2_0_g128
$t bench forward -m "$big" --tokens 1,2,4,8,16 --reps 7 --json > docs/bench/forward-qwen3-1.7b.json
# The AVX2 path too, where the machine would pick AVX-512 VNNI: the project's reference machine has AVX2 only.
TERNSPEC_KERNELS=avx2 $t bench forward -m "$big" --tokens 1,2,4,8,16 --reps 7 --json \
  > docs/bench/forward-qwen3-1.7b-avx2.json
for w in completion editing repeated; do
  $t bench spec -m models/tern-pystd-7m --prompts bench/workloads/$w.jsonl --draft suffix,ngram,eagle,mtp \
    --draft-model "$models" -k 3,6,auto --tree 8 -n 96 --reps 7 --threads 2 --project "$big" \
    --json docs/bench/spec-$w.json --plot docs/bench/spec-$w.svg
done
$t bench serve -m models/tern-pystd-7m --prompts bench/workloads/completion.jsonl --draft suffix,eagle,mtp \
  --draft-model "$models" -k 3 --parallel 4 -n 64 --reps 7 --threads 2 --json docs/bench/serve-completion.json
$t bench serve -m "$big" --prompts bench/workloads/completion.jsonl --draft none -n 16 --parallel 4 --reps 3 \
  --prompt-tokens 32 --threads 2 --json docs/bench/serve-qwen3-1.7b.json
if [ "${BONSAI:-1}" = 1 ]; then scripts/bench_bonsai.sh; else /usr/bin/python3 scripts/bench_report.py; fi
# The drafters' cards; build-train2k holds the self-distillation record of their last runs.
/usr/bin/python3 train/drafter_card.py eagle models/tern-pystd-7m-eagle3 docs/bench build-train2k
/usr/bin/python3 train/drafter_card.py mtp models/tern-pystd-7m-mtp docs/bench build-train2k
