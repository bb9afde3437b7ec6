#!/usr/bin/env bash
# bench/suffix/suffix_replay agrees with real decoding: replaying the recorded greedy streams through the
# suffix drafter gives exactly the tau and accepted count `ternspec decode --draft suffix` measures on the
# same prompts (so docs/suffix.md's numbers are what decoding would see), for chains and a tree; and a
# malformed streams file is an error naming the file and line.
set -u
ternspec=$1
replay=$2
root=$3
tmp=$4
mkdir -p "$tmp"
fail=0
m=$root/models/tern-pystd-7m
head -4 "$root/bench/workloads/editing.jsonl" > "$tmp/prompts.jsonl"
"$replay" record -m "$m" --prompts "$tmp/prompts.jsonl" -n 96 -o "$tmp/streams.jsonl" 2> /dev/null \
  || { echo "FAIL: record"; fail=1; }
for budget in "4 0" "8 0" "4 6"; do
  set -- $budget
  [ "$2" = 0 ] && tree=() || tree=(--tree "$2")
  "$ternspec" decode -m "$m" --draft suffix -k "$1" "${tree[@]}" --prompts "$tmp/prompts.jsonl" -n 96 --json \
    2> /dev/null | tail -1 > "$tmp/decode.json" || { echo "FAIL: decode k=$1 tree=$2"; fail=1; }
  "$replay" run --streams "$tmp/streams.jsonl" -k "$1" "${tree[@]}" --repeat 1 --json "$tmp/replay.json" \
    > /dev/null || { echo "FAIL: replay k=$1 tree=$2"; fail=1; }
  /usr/bin/python3 - "$tmp" "$1" "$2" <<'PY' || fail=1
import json, sys
tmp, k, tree = sys.argv[1:]
d = json.load(open(f"{tmp}/decode.json"))["total"]
r = json.load(open(f"{tmp}/replay.json"))["rows"][0]
ok = abs(d["tau"] - r["tau"]) < 1e-12 and d["accepted"] == r["accepted"] and d["round_emitted"] == r["emitted"]
print(("ok" if ok else "FAIL") + f": k={k} tree={tree} decode tau {d['tau']:.4f} accepted {d['accepted']}, "
      f"replay tau {r['tau']:.4f} accepted {r['accepted']}")
sys.exit(0 if ok and r["tau"] > 1.5 else 1)
PY
done
printf '{"prompt_ids": [1, 2], "output_ids": [3, 4]}\n{"prompt_ids": [1], "output_ids": "x"}\n' > "$tmp/bad.jsonl"
err=$("$replay" run --streams "$tmp/bad.jsonl" 2>&1 > /dev/null)
[ $? = 1 ] && [[ "$err" == *"bad.jsonl:2"* ]] || { echo "FAIL: malformed streams file: $err"; fail=1; }
exit $fail
