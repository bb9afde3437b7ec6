"""Writes models/NAME/MODEL_CARD.md from the files the shipping script produced: training.json (from the
export), perplexity_check.json (ternspec vs PyTorch) and the greedy continuations (ternspec generate --json).
No figure in the card is typed by hand.

  /usr/bin/python3 train/model_card.py models/NAME build-train
"""
import json
import os
import sys


def main():
    out, work = sys.argv[1], sys.argv[2]
    name = os.path.basename(out.rstrip("/"))
    t = json.load(open(os.path.join(out, "training.json")))
    p = json.load(open(os.path.join(out, "perplexity_check.json")))
    c = t["config"]
    n_params = t["params"]
    hist = t["history"]
    sizes = {f: os.path.getsize(os.path.join(out, f)) for f in os.listdir(out) if os.path.isfile(os.path.join(out, f))}
    lines = [
        f"# {name}",
        "",
        "A small ternary Qwen3-architecture model that ternspec trains, ships and tests on. Every linear layer",
        "and the tied embedding/LM head is {-1, 0, +1} × one scale per group of 128, trained with",
        "quantisation-aware training (absmean scales, straight-through estimator, int8 per-token activations).",
        "The model is trained only on Python's standard library, so it writes Python and nothing else.",
        "",
        "## Files",
        "| file | bytes |",
        "|---|---:|",
    ] + [f"| `{f}` | {sizes[f]} |" for f in sorted(sizes)] + [
        "",
        f"- `model.safetensors`: the \"-unpacked\" layout. F16 values that are exactly ternary × fp16 scale per group",
        "  of 128, so ternspec packs them losslessly. `tests/test_model.cpp` reads the file and checks this.",
        f"- `{name}.gguf`: made from the folder by `ternspec convert models/{name} models/{name}/{name}.gguf --type q2_0` (mainline llama.cpp's Q2_0, group 64; llama.cpp loads it).",
        "",
        "## Architecture",
        f"- Qwen3: {c['num_hidden_layers']} layers, hidden {c['hidden_size']}, SwiGLU {c['intermediate_size']}, "
        f"{c['num_attention_heads']} query heads / {c['num_key_value_heads']} KV heads of {c['head_dim']}, RMSNorm with "
        f"per-head q/k norms, RoPE θ = {c['rope_theta']:g}, tied embeddings.",
        f"- Vocabulary: {c['vocab_size']} tokens (byte-level BPE, Qwen2's pre-tokenizer regex, plus `<|endoftext|>`, "
        "`<|im_start|>` and `<|im_end|>`).",
        f"- {n_params / 1e6:.2f} M parameters.",
        f"- Context: trained on 256-token windows; the config says {c['max_position_embeddings']} (measured below).",
        "",
        "## Data",
        "- Training: the Python 3.11 standard library as Debian's `libpython3.11-stdlib` and `libpython3.11-testsuite`",
        f"  install it, {t['data']['train_bytes']} bytes, {t['data']['train_tokens']} tokens.",
        f"- Validation: {t['data']['val_bytes']} bytes, {t['data']['val_tokens']} tokens: a fixed hash-chosen 1 in 25 of the",
        "  modules (`train/corpus.py`), never trained on.",
        "",
        "## Training",
        f"- {t['step']} steps of 16 × 256 tokens ({t['train_tokens_seen'] / 1e6:.1f} M tokens seen).",
        "- AdamW (lr 3e-3, β = (0.9, 0.95), weight decay 0.05), warm-up then cosine decay.",
        f"- Time: {t['train_minutes']:.0f} minutes on 2 CPU cores (x86-64, PyTorch {t.get('torch', 'from Debian')}), "
        "sharing the machine with other work.",
        "",
        "Commands, as run:",
        "```sh",
        "bash scripts/setup_train.sh                                         # Debian's python3-torch, numpy, regex",
        "/usr/bin/python3 train/bpe.py --vocab-size 8192 --out build-train/tokenizer.json",
        "OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 train/train_model.py --work build-train --steps 2000 --threads 2   # resumed once with --steps 1700",
        f"bash scripts/ship_model.sh build-train {name}",
        "```",
        "",
        "Validation during training (64 windows of 256 tokens at each evaluation):",
        "",
        "| step | minutes | val loss (nats/token) | val bits/byte |",
        "|---:|---:|---:|---:|",
    ] + [f"| {h['step']} | {h['minutes']:.0f} | {h['val_loss']:.3f} | {h['val_bpb']:.3f} |" for h in hist] + [
        "",
        "## Results (all validation windows of 256 tokens, exported exact-ternary weights)",
        f"- PyTorch: perplexity {p['pytorch_val_ppl']:.3f}, **{p['pytorch_bits_per_byte']:.4f} bits per byte**.",
        f"- ternspec (`{p['command']}`): perplexity {p['ternspec_val_ppl_hf']:.3f} from the HF folder and "
        f"{p['ternspec_val_ppl_gguf']:.3f} from the GGUF, {p['ternspec_bits_per_byte']:.4f} bits per byte.",
        f"- Difference: {100 * p['relative_difference']:.2f}% (the requirement is under 1%).",
    ]
    ctx = os.path.join(work, "context_check.json")
    if os.path.exists(ctx):
        cc = json.load(open(ctx))
        verdict = ("lower: positions past 255, never seen in training, still help" if cc["ppl_512"] < cc["ppl_256"]
                   else "higher: positions past 255, never seen in training, hurt")
        lines += [f"- Window length: perplexity {cc['ppl_256']:.3f} with 256-token windows and {cc['ppl_512']:.3f} with 512, {verdict}."]
    lines += ["", "## Greedy continuations of held-out code",
              "`ternspec generate -m models/%s -f models/%s/examples/promptN.py -n 64` on the first lines of three validation modules:" % (name, name), ""]
    for i in range(3):
        path = os.path.join(work, f"continuation{i}.json")
        if not os.path.exists(path):
            continue
        r = json.load(open(path))
        prompt = open(os.path.join(out, "examples", f"prompt{i}.py")).read()
        tail = "\n".join(prompt.rstrip("\n").split("\n")[-6:])
        lines += [f"**Prompt {i}** (last lines of the prompt, then the model's 64 tokens after `▶`):", "```python",
                  tail + "\n▶" + r["text"], "```", ""]
    lines += ["## Limits",
              "- A 7M-parameter model that has read about 30 MB of code: it writes plausible Python, not correct Python.",
              "- It has seen no chat data. `--chat` formats the prompt but means nothing to this model.",
              "- Trained on 256-token windows. Past 512 tokens nothing was measured, so the config stops there.",
              "- Greedy decoding of a model this small falls into loops (above): the suffix and n-gram drafters",
              "  exploit them, so their speed-ups here are higher than they would be on a strong model."]
    with open(os.path.join(out, "MODEL_CARD.md"), "w") as fh:
        fh.write("\n".join(lines) + "\n")
    print(f"wrote {out}/MODEL_CARD.md")


if __name__ == "__main__":
    main()
