#!/usr/bin/env bash
# `ternspec distill` on the shipped 7M model, for the figures in docs/distill.md: a corpus of training-split
# standard-library modules (train/corpus.py's split; the validation modules stay out), about BYTES bytes of
# it, distilled into an EAGLE-3 head with STEPS steps on THREADS threads. Resumable: run it again to go on.
#   scripts/distill_shipped.sh [OUT]          (after scripts/setup.sh and scripts/setup_train.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-build-distill/head}
bytes=${BYTES:-1200000}
mkdir -p "$(dirname "$out")"
corpus="$(dirname "$out")/corpus.txt"
# Training-split modules in a fixed order until BYTES, one after another in one text file.
/usr/bin/python3 - "$corpus" "$bytes" <<'PY'
import sys
sys.path.insert(0, "train")
import corpus
out, limit = sys.argv[1], int(sys.argv[2])
train, _ = corpus.split()
n = 0
with open(out, "w") as fh:
    for m in train:
        t = corpus.read_text(m)
        if t is None or n + len(t) > limit:
            continue
        fh.write(t + "\n")
        n += len(t)
print(f"corpus: {n} bytes of training-split modules in {out}", file=sys.stderr)
PY
OMP_WAIT_POLICY=PASSIVE build/ternspec distill -m models/tern-pystd-7m --corpus "$corpus" -o "$out" \
  --tokens "${TOKENS:-300000}" --steps "${STEPS:-2000}" --layers 1,3,5 -t "${THREADS:-1}"
