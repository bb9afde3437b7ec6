"""Writes models/NAME/MODEL_CARD.md from the files the shipping script produced: training.json (from the
export), perplexity_check.json (ternspec vs PyTorch) and the greedy continuations (ternspec generate --json).
No figure in the card is typed by hand.

  /usr/bin/python3 train/model_card.py models/NAME build-train
"""
import json
import os
import sys


def training_section(t, name):
    """How the weights were made: one run from scratch, or a base run then a continued one (warm_start)."""
    def table(hist, seq):
        return ["", f"Validation during training (the first 64 windows of {seq} tokens of the validation stream; "
                "the whole split is under Results):", "",
                "| step | minutes | val loss (nats/token) | val bits/byte |", "|---:|---:|---:|---:|"] + [
            f"| {h['step']} | {h['minutes']:.0f} | {h['val_loss']:.3f} | {h['val_bpb']:.3f} |" for h in hist]
    base = t.get("warm_start", t)
    continued = base is not t
    stage1 = (f"{base['step']} steps of 16 × 256 tokens from scratch ({base['train_tokens_seen'] / 1e6:.1f} M tokens "
              f"seen), AdamW (lr 3e-3, β = (0.9, 0.95), weight decay 0.05), warm-up then cosine decay, "
              f"{base['train_minutes']:.0f} minutes.")
    machine = f"- On 2 CPU cores (x86-64, PyTorch {t.get('torch', 'from Debian')}), sharing the machine with other work."
    commands = ["", "Commands, as run:", "```sh",
                "bash scripts/setup_train.sh                                         # Debian's python3-torch, numpy, regex",
                "/usr/bin/python3 train/bpe.py --vocab-size 8192 --out build-train/tokenizer.json",
                "OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 train/train_model.py --work build-train --steps 2000 --threads 2   # resumed once with --steps 1700"]
    if not continued:
        return (["## Training", f"- {stage1}", machine] + commands +
                [f"bash scripts/ship_model.sh build-train {name}", "```"] + table(t["history"], 256))
    ctx = t["config"]["max_position_embeddings"]
    per_step = t["train_tokens_seen"] // t["step"]
    lines = ["## Training", f"- Stage 1: {stage1}",
             f"- Stage 2: continued from stage 1's exact ternary weights for a {ctx}-token context: {t['step']} steps of "
             f"{per_step} tokens ({t['train_tokens_seen'] / 1e6:.1f} M tokens seen) in windows of {ctx}, lr 3e-4 with 30 "
             f"warm-up steps then cosine decay, {t['train_minutes']:.0f} minutes (1–2 threads beside other work; stopped "
             f"at step {t['step']} of the planned 612).", machine] + commands
    lines += ["# stage 2 (build-train2k holds the same tokenizer and data files):",
              "OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 train/train_model.py --work build-train2k --init-from models/tern-pystd-7m \\",
              "    --seq 2048 --batch 2 --steps 612 --lr 3e-4 --warmup 30 --threads 1 --eval-every 120   # resumed after each session",
              "OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 train/train_model.py --work build-train2k --seq 2048 --batch 2 --steps 612 \\",
              "    --threads 2 --export build-train2k/export-step536 --context 2048",
              "CONTEXT=2048 SEQ=2048 EXPORTED=build-train2k/export-step536 BASE=<stage 1's training.json> \\",
              f"    bash scripts/ship_model.sh build-train2k {name}", "```"]
    lines += ["", "To continue from these weights on a fresh machine (the data files are rebuilt from the corpus in minutes):",
              "```sh", "mkdir -p W && cp models/%s/tokenizer.json W/" % name,
              "OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 train/train_model.py --work W --init-from models/%s --seq 2048 --batch 2 \\" % name,
              "    --steps N --lr 3e-4 --warmup 30 --threads 2", "```"]
    lines += table(base["history"], 256) + table(t["history"], ctx)
    return lines


def continuations(out, work, name):
    lines = ["", "## Continuations of held-out code",
             f"`ternspec generate -m models/{name} -f models/{name}/examples/promptN.py -n 64`, greedy and then with "
             "`--temp 0.7 --seed 1`, on the first lines of three validation modules:", ""]
    for i in range(3):
        prompt_path = os.path.join(out, "examples", f"prompt{i}.py")
        if not os.path.exists(prompt_path):
            continue
        tail = "\n".join(open(prompt_path).read().rstrip("\n").split("\n")[-6:])
        for kind, label in (("continuation", "greedy"), ("sampled", "temperature 0.7, seed 1")):
            path = os.path.join(work, f"{kind}{i}.json")
            if os.path.exists(path):
                text = json.load(open(path))["text"]
                lines += [f"**Prompt {i}, {label}** (last lines of the prompt, then the model's 64 tokens after `▶`):",
                          "```python", tail + "\n▶" + text, "```", ""]
    return lines


def main():
    out, work = sys.argv[1], sys.argv[2]
    name = os.path.basename(out.rstrip("/"))
    t = json.load(open(os.path.join(out, "training.json")))
    p = json.load(open(os.path.join(out, "perplexity_check.json")))
    windows = p.get("windows", 256)
    c = t["config"]
    n_params = t["params"]
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
        "- `model.safetensors`: the \"-unpacked\" layout. F16 values that are exactly ternary × fp16 scale per group",
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
        f"- Context: {c['max_position_embeddings']} tokens (the config's `max_position_embeddings`; measured below).",
        "",
        "## Data",
        "- Training: the Python 3.11 standard library as Debian's `libpython3.11-stdlib` and `libpython3.11-testsuite`",
        f"  install it, {t['data']['train_bytes']} bytes, {t['data']['train_tokens']} tokens.",
        f"- Validation: {t['data']['val_bytes']} bytes, {t['data']['val_tokens']} tokens: a fixed hash-chosen 1 in 25 of the",
        "  modules (`train/corpus.py`), never trained on.",
        "",
    ] + training_section(t, name) + [
        "",
        f"## Results (all validation windows of {windows} tokens, exported exact-ternary weights)",
        f"- PyTorch: perplexity {p['pytorch_val_ppl']:.3f}, **{p['pytorch_bits_per_byte']:.4f} bits per byte**.",
        f"- ternspec (`{p['command']}`): perplexity {p['ternspec_val_ppl_hf']:.3f} from the HF folder and "
        f"{p['ternspec_val_ppl_gguf']:.3f} from the GGUF, {p['ternspec_bits_per_byte']:.4f} bits per byte.",
        f"- Difference: {100 * p['relative_difference']:.2f}% (the requirement is under 1%).",
    ]
    ctx = os.path.join(work, "context_check.json")
    if os.path.exists(ctx):
        (short, ppl_short), (full, ppl_full) = json.load(open(ctx))["windows"]
        verdict = "longer windows help: the model uses context" if ppl_full < ppl_short else "longer windows hurt"
        lines += [f"- Window length: perplexity {ppl_short:.3f} with {short}-token windows and {ppl_full:.3f} with {full}, {verdict}."]
    lines += continuations(out, work, name)
    lines += ["## Limits",
              "- A 7M-parameter model that has read about 30 MB of code: it writes plausible Python, not correct Python.",
              "  It exists to exercise the runtime; for real use point ternspec at a Ternary-Bonsai file (README).",
              "- It has seen no chat data. `--chat` formats the prompt but means nothing to this model.",
              f"- Nothing past {c['max_position_embeddings']} tokens was trained or measured, so the config stops there.",
              "- Greedy decoding of a model this small falls into loops (above): the suffix and n-gram drafters",
              "  exploit them, so their greedy speed-ups here are higher than they would be on a strong model.",
              "  Sampling (temperature 0.7, above) does not loop."]
    with open(os.path.join(out, "MODEL_CARD.md"), "w") as fh:
        fh.write("\n".join(lines) + "\n")
    print(f"wrote {out}/MODEL_CARD.md")


if __name__ == "__main__":
    main()
