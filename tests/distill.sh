#!/usr/bin/env bash
# `ternspec distill` end to end on the shipped model: features from a small corpus (this repository's
# training scripts), a few training steps with Debian's PyTorch, a head that `decode --draft eagle` loads and
# drafts with, output equal to plain decoding; a second run resumes both steps; each missing piece is an
# error naming it (exit 1, one line).
set -u
bin=$1
src=$2
tmp=$3
rm -rf "$tmp"
mkdir -p "$tmp"
fail=0
m=$src/models/tern-pystd-7m
corpus=(--corpus "$src/train/train_eagle.py" --corpus "$src/train/model.py" --corpus "$src/train/export.py")
check_error() {  # expected substring, then the command
  local want=$1; shift
  timeout 120 "$bin" "$@" > /dev/null 2> "$tmp/err"
  local rc=$?
  if [ "$rc" -ne 1 ] || [ "$(wc -l < "$tmp/err")" -ne 1 ] || ! grep -q -- "$want" "$tmp/err"; then
    echo "FAIL: ternspec $* -> rc $rc: $(cat "$tmp/err")"; fail=1
  fi
}
# One run: about 11,500 corpus tokens (some 88 windows of 132), 20 steps.
"$bin" distill -m "$m" "${corpus[@]}" -o "$tmp/head" --tokens 20000 --steps 20 --layers 1,3,5 -t 2 \
  > "$tmp/run1.json" 2> "$tmp/run1.log" || { echo "FAIL: distill: $(tail -3 "$tmp/run1.log")"; exit 1; }
for f in config.json model.safetensors training.json; do
  [ -s "$tmp/head/$f" ] || { echo "FAIL: the head has no $f"; fail=1; }
done
grep -q "step 20/20" "$tmp/run1.log" || { echo "FAIL: no training progress line: $(cat "$tmp/run1.log")"; fail=1; }
/usr/bin/python3 - "$tmp/run1.json" "$tmp/head/config.json" <<'PY' || fail=1
import json, sys
r, c = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
ok = r["steps"] == 20 and r["target_tokens"] % 132 == 0 and r["target_tokens"] >= 50 * 132 \
    and r["target_tokens_per_s"] > 0 \
    and len(r["held_out_top1_agreement_per_step"]) == 3 \
    and c["eagle_config"]["eagle_aux_hidden_state_layer_ids"] == [1, 3, 5] \
    and c["quantization"]["ternary_group_size"] == 128 and c["vocab_size"] == 8195
print("" if ok else f"FAIL: distill's report or config: {r} {c}")
sys.exit(0 if ok else 1)
PY
# The head drafts, and speculative output equals plain output.
p='def parse(self, text):\n    '
"$bin" generate -m "$m" -p "$p" -e -n 48 --json > "$tmp/plain.json" 2> /dev/null
"$bin" decode -m "$m" --draft eagle -md "$tmp/head" -k 3 -p "$p" -e -n 48 --json > "$tmp/spec.json" 2> /dev/null \
  || { echo "FAIL: decode with the distilled head"; fail=1; }
/usr/bin/python3 - "$tmp/plain.json" "$tmp/spec.json" <<'PY' || fail=1
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:])
ok = a["text"] == b["text"] and b["stats"]["drafted"] > 0
print("" if ok else f"FAIL: distilled head: drafted {b['stats']['drafted']}, equal {a['text'] == b['text']}")
sys.exit(0 if ok else 1)
PY
# Resuming: the features are found (no window computed again) and training goes on from step 20.
"$bin" distill -m "$m" "${corpus[@]}" -o "$tmp/head" --tokens 20000 --steps 30 --layers 1,3,5 -t 2 \
  > "$tmp/run2.json" 2> "$tmp/run2.log" || { echo "FAIL: resumed distill: $(tail -3 "$tmp/run2.log")"; fail=1; }
windows=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["target_tokens"] // 132)' "$tmp/run1.json")
grep -q "($windows resumed)" "$tmp/run2.log" || { echo "FAIL: features not resumed: $(cat "$tmp/run2.log")"; fail=1; }
grep -q "from step 20" "$tmp/run2.log" || { echo "FAIL: training not resumed: $(cat "$tmp/run2.log")"; fail=1; }
# Starting from a published-format head (vLLM-speculators' names, SGLang's layer convention): the features
# tap the layers its config means (SGLang's 0,2,4 are the streams entering 1,3,5), and the head keeps
# drafting well from the first steps.
head=$tmp/published
mkdir -p "$head"
/usr/bin/python3 - "$src/models/tern-pystd-7m-eagle3" "$head" <<'PY'
import json, os, sys
sys.path.insert(0, os.path.join(os.path.dirname(sys.argv[1]), "..", "train"))
from export import read_safetensors, write_safetensors
src, dst = sys.argv[1:]
c = json.load(open(os.path.join(src, "config.json")))
c["eagle_config"] = {"eagle_aux_hidden_state_layer_ids": [0, 2, 4], "eagle_aux_hidden_state_layer_convention": "sglang"}
json.dump(c, open(os.path.join(dst, "config.json"), "w"))
sd = read_safetensors(os.path.join(src, "model.safetensors"))
write_safetensors(os.path.join(dst, "model.safetensors"), {k.replace("midlayer.", "layers.0."): v for k, v in sd.items()},
                  {"format": "pt"})
PY
"$bin" distill -m "$m" "${corpus[@]}" -o "$tmp/tuned" --tokens 20000 --steps 5 --init-from "$head" --no-ternary -t 2 \
  > "$tmp/run3.json" 2> "$tmp/run3.log" || { echo "FAIL: distill --init-from: $(tail -3 "$tmp/run3.log")"; fail=1; }
"$bin" decode -m "$m" --draft eagle -md "$tmp/tuned" -k 3 -p "$p" -e -n 48 --json > "$tmp/tuned.json" 2> /dev/null
/usr/bin/python3 - "$tmp/tuned/config.json" "$tmp/plain.json" "$tmp/tuned.json" <<'PY' || fail=1
import json, sys
c, a, b = (json.load(open(f)) for f in sys.argv[1:])
ok = c["eagle_config"]["eagle_aux_hidden_state_layer_ids"] == [1, 3, 5] and a["text"] == b["text"] \
    and b["stats"]["accepted"] > 0
print("" if ok else f"FAIL: --init-from: layers {c['eagle_config']}, accepted {b['stats']['accepted']}")
sys.exit(0 if ok else 1)
PY
check_error "taps other layers" distill -m "$m" "${corpus[@]}" -o "$tmp/z" --init-from "$head" --layers 2,3,4
# The hybrid target (Gated DeltaNet layers): its taps come from the same forward, and its head decodes
# losslessly too.
hm=$src/models/tern-pystd-hybrid/tern-pystd-hybrid.gguf
"$bin" distill -m "$hm" --corpus "$src/train/model.py" --corpus "$src/train/export.py" -o "$tmp/hybrid" --tokens 8000 \
  --steps 3 -t 2 > /dev/null 2> "$tmp/run4.log" || { echo "FAIL: distill on the hybrid: $(tail -3 "$tmp/run4.log")"; fail=1; }
"$bin" generate -m "$hm" -p "$p" -e -n 32 --json > "$tmp/hplain.json" 2> /dev/null
"$bin" decode -m "$hm" --draft eagle -md "$tmp/hybrid" -k 3 -p "$p" -e -n 32 --json > "$tmp/hspec.json" 2> /dev/null
/usr/bin/python3 - "$tmp/hplain.json" "$tmp/hspec.json" <<'PY' || fail=1
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:])
ok = a["text"] == b["text"] and b["stats"]["drafted"] > 0
print("" if ok else f"FAIL: hybrid head: drafted {b['stats']['drafted']}, equal {a['text'] == b['text']}")
sys.exit(0 if ok else 1)
PY
# MTP modules: features of the final hidden state and the head rows, a sidecar with a draft vocabulary that
# `decode --draft mtp` loads, drafts with, and decodes losslessly with.
"$bin" distill -m "$m" --draft mtp --mtp-depth 2 "${corpus[@]}" -o "$tmp/sidecar" --tokens 20000 --steps 10 -t 2 \
  > "$tmp/run5.json" 2> "$tmp/run5.log" || { echo "FAIL: distill --draft mtp: $(tail -3 "$tmp/run5.log")"; fail=1; }
"$bin" decode -m "$m" --draft mtp -md "$tmp/sidecar" -k 2 -p "$p" -e -n 48 --json > "$tmp/mtp.json" 2> /dev/null \
  || { echo "FAIL: decode with the distilled sidecar"; fail=1; }
/usr/bin/python3 - "$tmp/plain.json" "$tmp/mtp.json" "$tmp/sidecar/config.json" <<'PY' || fail=1
import json, sys
a, b, c = (json.load(open(f)) for f in sys.argv[1:])
ok = a["text"] == b["text"] and b["stats"]["drafted"] > 0 and c["num_nextn_predict_layers"] == 2
print("" if ok else f"FAIL: distilled sidecar: drafted {b['stats']['drafted']}, equal {a['text'] == b['text']}, {c}")
sys.exit(0 if ok else 1)
PY
# Each missing or wrong piece, named.
check_error "is for --draft eagle" distill -m "$m" "${corpus[@]}" -o "$tmp/x" --draft mtp --layers 1,3,5
check_error "Qwen3 targets only" distill -m "$hm" "${corpus[@]}" -o "$tmp/x" --draft mtp
check_error "distill trains eagle heads or mtp sidecars" distill -m "$m" "${corpus[@]}" -o "$tmp/x" --draft ngram
check_error "--corpus $tmp/nope.txt: no such file" distill -m "$m" --corpus "$tmp/nope.txt" -o "$tmp/x"
printf 'def f():\n    return 1\n' > "$tmp/small.py"
check_error "at least 8 are needed" distill -m "$m" --corpus "$tmp/small.py" -o "$tmp/small" --layers 1,3,5
check_error "PyTorch or NumPy is missing for /bin/false" distill -m "$m" "${corpus[@]}" -o "$tmp/x" --python /bin/false
check_error "its window differs" distill -m "$m" "${corpus[@]}" -o "$tmp/head" --window 64 --layers 1,3,5 --tokens 20000
check_error "layers: 9 is outside 0..5" distill -m "$m" "${corpus[@]}" -o "$tmp/y" --layers 1,3,9
exit $fail
