"""Trains an EAGLE-3 head from the features `ternspec distill` writes (docs/distill.md): the target's tapped
hidden states, each token's embedding and the target's top-k next-token distribution, computed by the C++
runtime for any target it runs (Qwen3 and the hybrids alike). Self-distillation: the head learns the target's
own predictions. Multi-step ("training-time test") as train_eagle.py; quantisation-aware (ternary weights,
int8 activations) unless --no-ternary. Resumable: the checkpoint lives in the features folder. Progress is one
JSON object per line on stdout.

  OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 train/distill_eagle.py --features DIR --out HEAD --steps 2000
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import resume  # noqa: E402
from distill_data import Progress, batch, draft_index, draft_vocabulary, load_features, masked_losses, schedule  # noqa: E402
from step import optimizer_step, tick  # noqa: E402
from train_eagle import EagleHead, export_head, init_from  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--features", required=True, help="the folder `ternspec distill` wrote (meta.json, *.f16, *.i32)")
    ap.add_argument("--out", required=True, help="head folder to export (config.json, model.safetensors)")
    ap.add_argument("--steps", type=int, default=2000, help="optimiser steps in all, resumed ones included")
    ap.add_argument("--steps-ttt", type=int, default=3, help="draft steps unrolled in training")
    ap.add_argument("--draft-vocab", type=int, default=2048)
    ap.add_argument("--intermediate", type=int, default=0, help="the head's FFN width (default: 2 x hidden)")
    ap.add_argument("--batch", type=int, default=12)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    ap.add_argument("--no-ternary", action="store_true", help="float head (default: ternary, as the runtime packs it)")
    ap.add_argument("--init-from", default="", help="start from this head folder (and keep its draft vocabulary)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("distill_eagle: --device cuda, but this PyTorch sees no CUDA device")
    device = "cuda" if args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available()) else "cpu"
    torch.manual_seed(0)
    meta, data = load_features(args.features)
    if meta.get("drafter", "eagle") != "eagle":
        sys.exit(f"distill_eagle: {args.features} holds {meta['drafter']} features; run distill --draft eagle")
    n, W, H, V = meta["windows_done"], meta["window"], meta["hidden_size"], meta["vocab_size"]
    K = args.steps_ttt
    seq = W - K - 1
    if seq < 4:
        sys.exit(f"distill_eagle: windows of {W} tokens leave no sequence for {K} unrolled steps")
    held = max(1, n // 20)  # the last windows: held out, for the agreement figure
    if n - held < 4:
        sys.exit(f"distill_eagle: {n} windows of features; at least 5 are needed")
    ternary = not args.no_ternary
    inter = args.intermediate or 2 * H
    # The draft vocabulary: the tokens the target most often predicts first, then the most frequent inputs.
    keep, draft_of = draft_vocabulary(data, n - held, V, args.draft_vocab, device)
    if args.init_from:
        init_cfg = json.load(open(os.path.join(args.init_from, "config.json")))
        inter = init_cfg["intermediate_size"]
    head = EagleHead(H, inter, meta["num_attention_heads"], meta["num_key_value_heads"], meta["head_dim"],
                     len(keep), meta["rms_norm_eps"], meta["rope_theta"], ternary).to(device)
    ck_path = os.path.join(args.features, "eagle_head" + ("-ternary" if ternary else "") + ".pt")
    if args.init_from and not os.path.exists(ck_path):
        keep = init_from(head, args.init_from)
        draft_of = draft_index(keep, V, device)
    vd = len(keep)
    opt = torch.optim.AdamW(head.parameters(), lr=args.lr, weight_decay=0.0, betas=(0.9, 0.95))
    step, elapsed, hist, runs = resume.resume(ck_path, "head", head, opt, device)
    gen = np.random.default_rng(7 + step)
    t_last, progress = time.time(), Progress(step, args.steps, args.batch * seq)
    print(json.dumps({"event": "start", "device": device, "windows": n, "held_out": held, "window": W,
                      "head_params_m": round(sum(p.numel() for p in head.parameters()) / 1e6, 3), "draft_vocab": vd,
                      "layers": meta["layers"], "ternary": ternary, "from_step": step, "steps": args.steps}),
          flush=True)
    weights = [1.0, 0.8, 0.64, 0.5, 0.4, 0.32, 0.26, 0.2][:K]
    while step < args.steps:
        feats, embs, targets, masks = batch(data, gen.integers(0, n - held, args.batch), seq, K, draft_of, vd, device)
        schedule(opt, args.lr, step, args.steps)
        outs = head.unroll(feats, embs, K)
        loss = sum(w * x for w, x in zip(weights, masked_losses(outs, targets, masks)))
        optimizer_step(opt, loss, head)
        step += 1
        elapsed, t_last = tick(elapsed, t_last)
        progress.record(step, loss.item(), elapsed, hist)
        if step % 100 == 0:
            resume.save(ck_path, "head", head, opt, step, elapsed, hist, runs)
    resume.save(ck_path, "head", head, opt, step, elapsed, hist, runs)
    # Held-out agreement: how often the head's first-step top-1 is the target's top-1 (in the draft vocabulary).
    with torch.no_grad():
        feats, embs, targets, masks = batch(data, np.arange(n - held, n), seq, K, draft_of, vd, device)
        outs = head.unroll(feats, embs, K)
        agree = [((outs[k].argmax(-1) == targets[k].argmax(-1)).float() * masks[k]).sum().item() /
                 max(1.0, masks[k].sum().item()) for k in range(K)]
    export_head(args.out, head, torch.tensor(keep - np.arange(vd), dtype=torch.int64),
                torch.zeros(V, dtype=torch.bool).index_fill_(0, torch.tensor(keep), True),
                {k: meta[k] for k in ("hidden_size", "num_attention_heads", "num_key_value_heads", "head_dim",
                                      "vocab_size", "rope_theta", "rms_norm_eps")},
                inter, meta["layers"], ternary,
                {"source": "ternspec distill", "target": meta["model"], "corpus": meta["corpus"], "steps": step,
                 "minutes": elapsed / 60, "ttt_steps": K, "batch": args.batch, "seq": seq, "windows": n,
                 "held_out_windows": held, "held_out_top1_agreement_per_step": agree, "runs": runs, "history": hist})
    print(json.dumps({"event": "done", "out": args.out, "steps": step, "minutes": round(elapsed / 60, 2),
                      "held_out_top1_agreement_per_step": [round(a, 4) for a in agree]}), flush=True)


if __name__ == "__main__":
    main()
