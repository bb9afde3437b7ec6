#!/usr/bin/env bash
# Turns a finished training run into models/NAME: the Hugging Face folder (exact ternary weights in F16),
# the GGUF made from it by `ternspec convert`, a perplexity check of the runtime against PyTorch on the
# validation modules, and the model card's measured figures and greedy continuations.
#   scripts/ship_model.sh build-train tern-pystd-7m
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:?training folder}
name=${2:?model name}
out=models/$name
py=/usr/bin/python3
export OMP_WAIT_POLICY=PASSIVE OPENBLAS_NUM_THREADS=1
$py train/train_model.py --work "$work" --export "$out" --threads 2 --context "${CONTEXT:-512}"
build/ternspec convert "$out" "$out/$name.gguf" --type q2_0
(cd train && $py make_val_text.py "../$work/val.txt")
build/ternspec perplexity -m "$out" -f "$work/val.txt" --ctx 256 --json > "$work/perplexity_hf.json"
build/ternspec perplexity -m "$out/$name.gguf" -f "$work/val.txt" --ctx 256 --json > "$work/perplexity_gguf.json"
$py - "$out" "$work" <<'PY'
import json, sys
out, work = sys.argv[1], sys.argv[2]
torch = json.load(open(f"{out}/training.json"))
rt = json.load(open(f"{work}/perplexity_hf.json"))
gg = json.load(open(f"{work}/perplexity_gguf.json"))
diff = abs(rt["perplexity"] - torch["val_ppl"]) / torch["val_ppl"]
check = {"pytorch_val_ppl": torch["val_ppl"], "ternspec_val_ppl_hf": rt["perplexity"], "ternspec_val_ppl_gguf": gg["perplexity"],
         "relative_difference": diff, "ternspec_bits_per_byte": rt["bits_per_byte"], "pytorch_bits_per_byte": torch["val_bpb"],
         "command": "build/ternspec perplexity -m %s -f %s/val.txt --ctx 256 --json" % (out, work)}
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
for i in 0 1 2; do
  build/ternspec generate -m "$out" -f "$out/examples/prompt$i.py" -n 64 --json > "$work/continuation$i.json"
done
# Context check: the same text in windows of 256 and 512 tokens (the model was trained on 256).
build/ternspec perplexity -m "$out" -f "$work/val.txt" --ctx 512 --json > "$work/perplexity_512.json"
$py -c "import json,sys; a=json.load(open('$work/perplexity_hf.json')); b=json.load(open('$work/perplexity_512.json')); json.dump({'ppl_256': a['perplexity'], 'ppl_512': b['perplexity']}, open('$work/context_check.json','w'))"
$py train/model_card.py "$out" "$work"
du -sh "$out"
