#!/usr/bin/env bash
# `bench spec --replay`: (1) replaying a trained pair onto itself reproduces its own acceptance exactly
# (tau, drafted and accepted counts, per-position acceptance), so nothing is lost or invented in the replay;
# (2) replayed onto a synthetic target with real-shape drafters (ternary EAGLE head, MTP modules with a
# draft vocabulary) the outputs match plain decoding and the acceptance is still the trained pair's.
set -u
bin=$1
models=$2
tmp=$3
mkdir -p "$tmp"
fail=0
m=$models/tern-pystd-7m
drafts="eagle=$models/tern-pystd-7m-eagle3,mtp=$models/tern-pystd-7m-mtp"
head -2 "$models/../bench/workloads/completion.jsonl" > "$tmp/prompts.jsonl"
common=(--prompts "$tmp/prompts.jsonl" -n 40 -k 3 --reps 1 --draft eagle,mtp,suffix --tree 6 --threads 2)
"$bin" bench spec -m "$m" "${common[@]}" --draft-model "$drafts" --json "$tmp/plain.json" > /dev/null 2>&1 \
  || { echo "FAIL: plain bench spec"; fail=1; }
"$bin" bench spec -m "$m" "${common[@]}" --draft-model "$drafts" --replay "$m" --replay-draft-model "$drafts" \
  --json "$tmp/self.json" > /dev/null 2>&1 || { echo "FAIL: self replay"; fail=1; }
"$bin" synth "$tmp/t.gguf" --shape tiny --vocab 8195 --eagle3 --eagle-draft-vocab 512 --mtp 3 \
  --mtp-draft-vocab 512 2> /dev/null || { echo "FAIL: synth with drafters"; fail=1; }
for eagle in ternary int8; do
  "$bin" bench spec -m "$tmp/t.gguf" "${common[@]}" \
    --draft-model "eagle=$tmp/t.eagle3-$eagle.gguf,mtp=$tmp/t.mtp.gguf" --replay "$m" \
    --replay-draft-model "$drafts" --json "$tmp/synth-$eagle.json" > /dev/null 2>&1 \
    || { echo "FAIL: replay onto the synthetic target ($eagle head)"; fail=1; }
done
/usr/bin/python3 - "$tmp" <<'PY' || fail=1
import json, sys
tmp = sys.argv[1]
def rows(name):
    j = json.load(open(f"{tmp}/{name}.json"))
    assert j["measured"] is True, name
    return {(r["config"]["drafter"], r["config"]["k"], r["config"]["tree"]): r for r in j["rows"]}
plain = rows("plain")
keys = ("emitted", "target_forwards", "drafted", "accepted", "per_position_acceptance", "accepted_length_histogram", "draft_size_histogram")
ok = True
for other in ("self", "synth-ternary", "synth-int8"):
    rep = rows(other)
    for cfg, r in plain.items():
        for k in keys:
            if r.get(k) != rep[cfg].get(k):
                print(f"FAIL: {other} {cfg} {k}: {rep[cfg].get(k)} replayed, {r.get(k)} in the trained pair's own run")
                ok = False
        if not rep[cfg]["matches_none"]:
            print(f"FAIL: {other} {cfg} differs from plain decoding"); ok = False
        if other.startswith("synth") and cfg[0] in ("eagle", "mtp") and not rep[cfg]["draft_bytes_per_token"] > 0:
            print(f"FAIL: {other} {cfg}: no drafting bytes counted"); ok = False
# A drafter that drafted must have accepted something, or the comparison above proves little.
for cfg, r in plain.items():
    if cfg[0] != "none" and not r["accepted"] > 0:
        print(f"FAIL: {cfg} accepted nothing"); ok = False
sys.exit(0 if ok else 1)
PY
exit $fail
