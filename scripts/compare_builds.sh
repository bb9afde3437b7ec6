#!/usr/bin/env bash
# Speed of two ternspec builds on the shipped model, interleaved (a pair per repetition, so the machine's
# slow and fast phases touch both alike): bench forward t(1), t(4), t(8) and decode tokens/s with no drafter
# and with the suffix drafter; medians over the repetitions.
#   scripts/compare_builds.sh OLD_TERNSPEC NEW_TERNSPEC [REPS]
set -euo pipefail
cd "$(dirname "$0")/.."
old=$1 new=$2 reps=${3:-5}
out=$(mktemp -d)
model=models/tern-pystd-7m prompt=models/tern-pystd-7m/examples/prompt1.py
for i in $(seq "$reps"); do
  for which in old new; do
    b=$old; [ "$which" = new ] && b=$new
    "$b" bench forward -m $model --tokens 1,4,8 --reps 15 -t 2 --json > "$out/fw-$which-$i.json"
    "$b" decode -m $model --draft none -f $prompt -n 160 -t 2 --json > "$out/dn-$which-$i.json"
    "$b" decode -m $model --draft suffix -k 8 -f $prompt -n 160 -t 2 --json > "$out/ds-$which-$i.json"
  done
done
/usr/bin/python3 - "$out" "$reps" << 'PY'
import json, statistics as st, sys
out, reps = sys.argv[1], int(sys.argv[2])
load = lambda kind, which, i: json.load(open(f"{out}/{kind}-{which}-{i}.json"))
for which in ("old", "new"):
    fw = [load("fw", which, i) for i in range(1, reps + 1)]
    ms = [round(st.median(j["rows"][k]["ms"] for j in fw), 3) for k in range(3)]
    bw = st.median(j["read_bandwidth_gbs"] for j in fw)
    # Older builds print one request's stats under "stats", newer ones under "total".
    tps = {kind: st.median((load(kind, which, i).get("total") or load(kind, which, i)["stats"])["decode_tokens_per_s"]
                           for i in range(1, reps + 1)) for kind in ("dn", "ds")}
    print(f"{which}: t(1,4,8) {ms} ms, read bandwidth {bw:.1f} GB/s, decode none {tps['dn']:.0f} tok/s, "
          f"suffix k=8 {tps['ds']:.0f} tok/s")
PY
