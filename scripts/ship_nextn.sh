#!/usr/bin/env bash
# Turns train/train_nextn.py's output into models/tern-pystd-hybrid-nextn: Qwen3.5's MTP layer for the shipped
# hybrid, packed as mainline Q2_0 in an MTP-only qwen35 GGUF (what `--draft mtp --draft-model` reads and
# `convert --mtp-in-file` stores in a target file), its training record, greedy acceptance on both workloads
# beside ternspec's three MTP modules (docs/bench/spec-hybrid-nextn-*.json), and a card written from those files.
#   scripts/ship_nextn.sh build-train-hybrid
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:?training folder}
out=models/tern-pystd-hybrid-nextn
target=models/tern-pystd-hybrid/tern-pystd-hybrid.gguf
mkdir -p "$out"
build/ternspec convert "$target" "$work/nextn-packed.gguf" --type q2_0 --mtp "$work/nextn.gguf"
mv "$work/nextn-packed.mtp.gguf" "$out/tern-pystd-hybrid.mtp.gguf"
rm "$work/nextn-packed.gguf"
cp "$work/nextn.training.json" "$out/training.json"
for w in completion editing; do
  build/ternspec bench spec -m "$target" --prompts bench/workloads/$w.jsonl --draft mtp,mtp#nextn \
    --draft-model "mtp=models/tern-pystd-hybrid-mtp,mtp#nextn=$out/tern-pystd-hybrid.mtp.gguf" -k 1,3,6 --tree 8 \
    -n 96 --reps 1 -t 2 --json docs/bench/spec-hybrid-nextn-$w.json --plot docs/bench/spec-hybrid-nextn-$w.svg
done
/usr/bin/python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
tr = json.load(open(f"{out}/training.json"))
c = json.load(open("models/tern-pystd-hybrid/config.json"))
lines = ["# tern-pystd-hybrid-nextn", "",
         "Qwen3.5's own MTP layer (llama.cpp's `nextn` layer, `docs/mtp.md`) trained for `tern-pystd-hybrid`: what a",
         "Bonsai 2 file carries after its stack, here for the shipped 7M hybrid. `tern-pystd-hybrid.mtp.gguf` is an",
         "MTP-only `qwen35` GGUF (mainline Q2_0): `--draft mtp --draft-model` it, or store it in the target file with",
         "`ternspec convert TARGET OUT --mtp tern-pystd-hybrid.mtp.gguf --mtp-in-file` and `--draft mtp` needs no file.", "",
         "## Shape",
         f"- One gated-attention Qwen3.5 block (hidden {c['hidden_size']}, SwiGLU {c['intermediate_size']}, "
         f"{c['num_attention_heads']}/{c['num_key_value_heads']} heads of {c['head_dim']}, RoPE as the target's attention) at "
         f"`blk.{c['num_hidden_layers']}`, with",
         "  `nextn.{eh_proj, enorm, hnorm, shared_head_norm}`; embedding and LM head shared with the target.",
         "- Applied recursively at inference, as llama.cpp and vLLM do: depth 1 reads the target's normalised final",
         "  state, deeper drafts the layer's own output after `shared_head_norm`.",
         "- Every matrix exactly ternary per group of 128 (fp16 scales).", "",
         "## Training", "```sh"]
lines += [r["command"] for r in tr["runs"]]
lines += ["scripts/ship_nextn.sh build-train-hybrid", "```",
          f"- {tr['steps']} steps of batch {tr['batch']} x {tr['seq']} positions ({tr['tokens_seen'] / 1e6:.2f} M), "
          f"{tr['minutes']:.0f} minutes on {tr['threads']} CPU thread(s) ({tr['device']}); the block warm-started from "
          "the target's last full-attention layer.",
          "- Loss: cross-entropy against the target's next-token distribution, depth 1 only (teacher-forced).",
          f"- Validation top-1 agreement with the target (depth 1): {tr['validation_top1_agreement']:.3f}.", "",
          "## Acceptance, measured (`ternspec bench spec`, greedy, 7M shape)", "",
          "| workload | drafter | draft | τ | acceptance | per-position acceptance | speed-up (7M) |",
          "|---|---|---|---:|---:|---|---:|"]
for w in ("completion", "editing"):
    d = json.load(open(f"docs/bench/spec-hybrid-nextn-{w}.json"))
    for r in d["rows"]:
        c = r["config"]
        if c["drafter"] == "none":
            continue
        name = "nextn layer" if c["drafter"] == "mtp#nextn" else "ternspec's 3 MTP modules"
        shape = f"k={c['k']}" + (f" tree={c['tree']}" if c["tree"] else "")
        pos = " ".join(f"{p:.2f}" for p in r["per_position_acceptance"])
        lines.append(f"| {w} | {name} | {shape} | {r['tau']:.2f} | {100 * r['acceptance_rate']:.1f}% | {pos} | "
                     f"{r['speedup_vs_none']:.2f}x |")
lines += ["", "Commands: `docs/bench/spec-hybrid-nextn-*.json` (`command`). At real shapes: docs/benchmarks.md."]
open(f"{out}/MODEL_CARD.md", "w").write("\n".join(lines) + "\n")
PY
echo "wrote $out"
