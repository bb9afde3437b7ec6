#!/usr/bin/env bash
# Turns the hybrid's training run into models/tern-pystd-hybrid: the Hugging Face folder (exact ternary
# weights in F16; whole-validation evaluation in PyTorch), the qwen35 GGUF (an F32 file written by
# train/export_gguf_hybrid.py in llama.cpp's conventions, packed to mainline Q2_0 by `ternspec convert`), and a
# perplexity check of the runtime against PyTorch on the same validation windows.
#   scripts/ship_hybrid.sh build-train-hybrid [STEPS]
# STEPS: the --steps the run was started with (its learning-rate schedule; the export does not train).
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:?training folder}
steps=${2:-1200}
name=tern-pystd-hybrid
out=models/$name
py=/usr/bin/python3
seq=512
export OMP_WAIT_POLICY=PASSIVE OPENBLAS_NUM_THREADS=1
rm -rf "$out" && mkdir -p "$out"
$py train/train_model.py --arch qwen35 --work "$work" --seq "$seq" --batch 8 --steps "$steps" --threads 2 \
  --export "$out" --context 2048
$py train/export_gguf_hybrid.py "$out" "$work/$name-f32.gguf" --name "$name"
build/ternspec convert "$work/$name-f32.gguf" "$out/$name.gguf" --type q2_0
(cd train && $py make_val_text.py "../$work/val.txt")
build/ternspec perplexity -m "$out/$name.gguf" -f "$work/val.txt" --ctx "$seq" --json > "$work/perplexity_gguf.json"
$py - "$out" "$work" "$seq" "$name" <<'PY'
import json, sys
out, work, seq, name = sys.argv[1:5]
torch = json.load(open(f"{out}/training.json"))
gg = json.load(open(f"{work}/perplexity_gguf.json"))
diff = abs(gg["perplexity"] - torch["val_ppl"]) / torch["val_ppl"]
check = {"pytorch_val_ppl": torch["val_ppl"], "ternspec_val_ppl_gguf": gg["perplexity"], "relative_difference": diff,
         "ternspec_bits_per_byte": gg["bits_per_byte"], "pytorch_bits_per_byte": torch["val_bpb"], "windows": int(seq),
         "command": f"build/ternspec perplexity -m {out}/{name}.gguf -f {work}/val.txt --ctx {seq} --json"}
json.dump(check, open(f"{out}/perplexity_check.json", "w"), indent=1)
print(json.dumps(check, indent=1))
if diff > 0.01:
    sys.exit(f"perplexity differs by {100 * diff:.2f}% (> 1%)")
PY
