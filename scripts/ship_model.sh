#!/usr/bin/env bash
# Turns a finished training run into models/NAME: the Hugging Face folder (exact ternary weights in F16),
# the GGUF made from it by `ternspec convert`, a perplexity check of the runtime against PyTorch on the
# validation modules, and the model card's measured figures and continuations.
#   scripts/ship_model.sh build-train tern-pystd-7m
#   CONTEXT=2048 SEQ=2048 EXPORTED=build-train2k/export-step536 BASE=models/tern-pystd-7m/training.json \
#     scripts/ship_model.sh build-train2k tern-pystd-7m      (the 2,048-token continued run, as shipped)
# CONTEXT: the context written to the config; SEQ: the window length PyTorch evaluated the validation at (the
# runtime's perplexity uses the same windows); EXPORTED: a folder `train_model.py --export` already wrote (the
# whole-validation evaluation takes about 15 minutes); BASE: the training.json of the model a continued run
# started from, kept in the new one as "warm_start".
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:?training folder}
name=${2:?model name}
out=models/$name
py=/usr/bin/python3
context=${CONTEXT:-512}
seq=${SEQ:-256}
export OMP_WAIT_POLICY=PASSIVE OPENBLAS_NUM_THREADS=1
base_json=""
# BASE may sit inside the folder this replaces: copied aside first.
if [ -n "${BASE:-}" ]; then base_json=$(mktemp) && trap 'rm -f "$base_json"' EXIT && cp "$BASE" "$base_json"; fi
if [ -n "${EXPORTED:-}" ]; then
  rm -rf "$out" && mkdir -p "$out" && cp "$EXPORTED"/* "$out"/
else
  $py train/train_model.py --work "$work" --export "$out" --threads 2 --context "$context"
fi
if [ -n "$base_json" ]; then
  $py -c "import json,sys; t=json.load(open(sys.argv[1])); t['warm_start']=json.load(open(sys.argv[2])); json.dump(t, open(sys.argv[1],'w'), indent=1)" \
    "$out/training.json" "$base_json"
fi
build/ternspec convert "$out" "$out/$name.gguf" --type q2_0
(cd train && $py make_val_text.py "../$work/val.txt")
build/ternspec perplexity -m "$out" -f "$work/val.txt" --ctx "$seq" --json > "$work/perplexity_hf.json"
build/ternspec perplexity -m "$out/$name.gguf" -f "$work/val.txt" --ctx "$seq" --json > "$work/perplexity_gguf.json"
$py - "$out" "$work" "$seq" <<'PY'
import json, sys
out, work, seq = sys.argv[1], sys.argv[2], sys.argv[3]
torch = json.load(open(f"{out}/training.json"))
rt = json.load(open(f"{work}/perplexity_hf.json"))
gg = json.load(open(f"{work}/perplexity_gguf.json"))
diff = abs(rt["perplexity"] - torch["val_ppl"]) / torch["val_ppl"]
check = {"pytorch_val_ppl": torch["val_ppl"], "ternspec_val_ppl_hf": rt["perplexity"], "ternspec_val_ppl_gguf": gg["perplexity"],
         "relative_difference": diff, "ternspec_bits_per_byte": rt["bits_per_byte"], "pytorch_bits_per_byte": torch["val_bpb"],
         "windows": int(seq), "command": "build/ternspec perplexity -m %s -f %s/val.txt --ctx %s --json" % (out, work, seq)}
json.dump(check, open(f"{out}/perplexity_check.json", "w"), indent=1)
print(json.dumps(check, indent=1))
if diff > 0.01:
    sys.exit(f"perplexity differs by {100 * diff:.2f}% (> 1%)")
PY
mkdir -p "$out/examples"
$py - "$out" <<'PY'
# Three held-out prompts for the card; prompt0 is also the README's first command.
import json, sys
rows = [json.loads(l) for l in open("bench/workloads/completion.jsonl")]
for i, r in enumerate(rows[:3]):
    open(f"{sys.argv[1]}/examples/prompt{i}.py", "w").write(r["prompt"])
PY
# Greedy, then sampled with a fixed seed (greedy decoding of a model this small loops; the card shows both).
for i in 0 1 2; do
  build/ternspec generate -m "$out" -f "$out/examples/prompt$i.py" -n 64 --json > "$work/continuation$i.json"
  build/ternspec generate -m "$out" -f "$out/examples/prompt$i.py" -n 64 --temp 0.7 --seed 1 --json > "$work/sampled$i.json"
done
# Context check: the same text in windows of a quarter of the context and of all of it.
short=$((context / 4))
build/ternspec perplexity -m "$out" -f "$work/val.txt" --ctx "$short" --json > "$work/perplexity_short.json"
if [ "$context" = "$seq" ]; then cp "$work/perplexity_hf.json" "$work/perplexity_full.json"
else build/ternspec perplexity -m "$out" -f "$work/val.txt" --ctx "$context" --json > "$work/perplexity_full.json"; fi
$py -c "import json,sys; w=sys.argv[1]; json.dump({'windows': [[json.load(open(f'{w}/perplexity_{k}.json'))[f] for f in ('ctx', 'perplexity')] for k in ('short', 'full')]}, open(f'{w}/context_check.json','w'))" "$work"
$py train/model_card.py "$out" "$work"
du -sh "$out"
