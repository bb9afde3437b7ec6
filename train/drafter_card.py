"""Writes MODEL_CARD.md for a drafter this repository trains (EAGLE-3 head or MTP modules) from its
training.json and the `ternspec bench spec` JSON files, so no figure is typed by hand.

  /usr/bin/python3 train/drafter_card.py eagle models/tern-pystd-7m-eagle3 docs/bench
  /usr/bin/python3 train/drafter_card.py mtp models/tern-pystd-7m-mtp docs/bench [build-train]
  /usr/bin/python3 train/drafter_card.py eagle models/tern-pystd-hybrid-eagle3 docs/bench build-train-hybrid \
      --target=tern-pystd-hybrid --files='spec-hybrid-*.json'
"""
import glob
import json
import os
import sys


def shape_lines(kind, cfg):
    if kind == "eagle":
        return [f"- One Llama-style layer: hidden {cfg['hidden_size']}, SwiGLU {cfg['intermediate_size']}, "
                f"{cfg['num_attention_heads']}/{cfg['num_key_value_heads']} heads of {cfg['head_dim']}.",
                f"- fc fuses the target's layers {cfg['eagle_config']['eagle_aux_hidden_state_layer_ids']}: the residual "
                "stream *entering* those layers.",
                f"- Draft vocabulary: the {cfg['draft_vocab_size']} most frequent training tokens (`d2t`/`t2d`).",
                ("- Trained quantisation-aware and stored as exact ternary values (bf16 trit x scale, groups of 128); "
                 "ternspec packs it with the target's kernels at load."
                 if cfg.get("quantization") else "- Stored as BF16; ternspec quantises it to int8 per row at load.")]
    return [f"- {cfg['num_nextn_predict_layers']} MTP modules (DeepSeek-V3 style, `docs/mtp.md`), layers "
            f"{cfg['num_hidden_layers']}..{cfg['num_hidden_layers'] + cfg['num_nextn_predict_layers'] - 1} after the target's stack.",
            f"- Each: enorm/hnorm, eh_proj [{cfg['hidden_size']}, {2 * cfg['hidden_size']}], one Qwen3 layer (hidden "
            f"{cfg['hidden_size']}, SwiGLU {cfg['intermediate_size']}, {cfg['num_attention_heads']}/{cfg['num_key_value_heads']} "
            f"heads of {cfg['head_dim']}), own shared_head.norm; embedding and LM head shared with the target.",
            "- Every matrix exactly ternary per group of 128 (fp16 scales), packed with the target's kernels."]


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    opts = dict(a[2:].split("=", 1) for a in sys.argv[1:] if a.startswith("--"))
    kind, out, bench = args[0], args[1], args[2]
    sys.argv = [sys.argv[0]] + args
    # --label=eagle#ternary: the bench rows of that configuration; --files=GLOB: which bench JSON files.
    drafter = opts.get("label", {"eagle": "eagle", "mtp": "mtp"}[kind])
    files = opts.get("files", "spec-*.json")
    t = json.load(open(os.path.join(out, "training.json")))
    cfg = json.load(open(os.path.join(out, "config.json")))
    last = t["history"][-1] if t["history"] else {}
    what = "An EAGLE-3 draft head" if kind == "eagle" else "Multi-token-prediction modules"
    fmt = "the published EAGLE-3 checkpoint format (`docs/eagle.md`)" if kind == "eagle" else "the sidecar format of `docs/mtp.md`"
    target = opts.get("target", "tern-pystd-7m")
    lines = [f"# {os.path.basename(out.rstrip('/'))}", "", f"{what} for `{target}`, in {fmt}.", "", "## Shape"]
    lines += shape_lines(kind, cfg)
    lines += ["", "## Training", "Commands, in order (each resumes the previous one's checkpoint):", "```sh"]
    work = sys.argv[4] if len(sys.argv) > 4 else "build-train"
    sd = os.path.join(work, "selfdistill.json")
    distill = json.load(open(sd)) if os.path.exists(sd) else None
    for r in t.get("runs", []):
        # The self-distillation record in `work` goes before the first run that reads it.
        if distill and f"--extra-data {work}/selfdistill.npy" in r["command"]:
            lines.append(f"/usr/bin/python3 {distill['command']}   # {distill['prompts']} prompts, {distill['tokens']} tokens")
            distill = None
        cmd, _, note = r["command"].partition(" (")
        lines.append(f"OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 {cmd}" + (f"   # {note.rstrip(')')}" if note else ""))
    lines += ["```",
              "`make_selfdistill.py` writes the target's own greedy continuations of training-split prompts; "
              "`--extra-data` draws that share of each batch from them.",
              f"- Data: the frozen target's hidden states on random {t['seq']}-token windows of the training split "
              "(never the validation modules).",
              f"- {t['steps']} steps of batch {t['batch']}, {t['tokens_seen'] / 1e6:.2f} M positions, "
              f"{t['minutes']:.0f} minutes on this machine's CPU (2 cores shared by the jobs running)."]
    if kind == "eagle":
        lines.append(f"- {t['ttt_steps']} draft steps unrolled in the last run (training-time test).")
        lines.append("- Top-1 agreement with the target at the end of training, per draft step (last batch): "
                     + ", ".join(f"{a:.2f}" for a in last.get("top1_agreement_per_step", [])) + ".")
    else:
        lines.append("- Loss: cross-entropy against the target's own next-token distribution, module d at row j on "
                     "position j + d.")
        lines.append("- Top-1 agreement with the target on the validation modules, per module (teacher-forced): "
                     + ", ".join(f"{a:.3f}" for a in t["validation_top1_agreement_per_module"]) + ".")
    files = sorted(glob.glob(os.path.join(bench, files)))
    projected = any(r.get("projected_speedup") for f in files for r in json.load(open(f))["rows"])
    lines += ["", "## Acceptance and cost, measured (`ternspec bench spec`, greedy; docs/benchmarks.md)", "",
              "Cost per drafted token: drafting seconds (observe + propose) per drafted token, over the seconds of one "
              "target forward of plain decoding in the same run."
              + (" Projected 1.7B: this run's draft sizes and acceptance priced with the synthetic Qwen3-1.7B's "
                 "measured t(M); drafting cost is not included there." if projected else ""), "",
              "| workload | draft | τ | acceptance | per-position acceptance | cost/draft token | speed-up (7M) |"
              + (" projected 1.7B |" if projected else ""),
              "|---|---|---:|---:|---|---:|---:|" + ("---:|" if projected else "")]
    for f in files:
        j = json.load(open(f))
        none = next(r for r in j["rows"] if r["config"]["drafter"] == "none")
        t_forward = none["seconds"]["verify"] / max(1, none["target_forwards"])
        for r in j["rows"]:
            c = r["config"]
            if c["drafter"] != drafter:
                continue
            label = f"k={c['k'] or 'auto'}" + (f" tree={c['tree']}" if c["tree"] else "")
            pp = " ".join(f"{a:.2f}" for a in r["per_position_acceptance"][:8])
            cost = r["seconds"]["draft"] / r["drafted"] / t_forward if r["drafted"] else 0.0
            lines.append(f"| {os.path.basename(f)[5:-5]} | {label} | {r['tau']:.2f} | {100 * r['acceptance_rate']:.1f}% | {pp} | "
                         f"{cost:.2f} | {r['speedup_vs_none']:.2f}× |"
                         + (f" {r.get('projected_speedup', 0):.2f}× |" if projected else ""))
    lines.append("")
    lines.append(("The projected column prices drafting at zero; m" if projected else "M") +
                 "easured speed-ups at real shapes (synthetic targets, acceptance replayed from this pair) are in "
                 "docs/benchmarks.md (bench spec --replay).")
    with open(os.path.join(out, "MODEL_CARD.md"), "w") as fh:
        fh.write("\n".join(lines) + "\n")
    print(f"wrote {out}/MODEL_CARD.md")


if __name__ == "__main__":
    main()
