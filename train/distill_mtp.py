"""Trains MTP modules (the sidecar of docs/mtp.md) from the features `ternspec distill --draft mtp` writes
(docs/distill.md): the target's final pre-norm hidden state, each token's embedding, the target's head rows
and its top-k next-token distribution, computed by the C++ runtime for a Qwen3 target. Self-distillation:
module d at row j reads the previous state (the target's hidden state at j for d = 1, module d-1's output
after) and the embedding of t[j+d], and learns the target's distribution at position j+d. Every matrix is
ternary-aware (absmean per 128, int8 activations). The sidecar scores a draft vocabulary (`draft_vocab`,
the tokens the target most often predicts first) with the target's own head rows. Resumable: the checkpoint
lives in the features folder. Progress is one JSON object per line on stdout.

  OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 train/distill_mtp.py --features DIR --out SIDECAR --steps 2000
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import resume  # noqa: E402
from distill_data import Progress, batch, draft_vocabulary, load_features, masked_losses, schedule  # noqa: E402
from export import write_safetensors  # noqa: E402
from model import Config, freeze_to_ternary, int8_activations, rope_tables, ste  # noqa: E402
from step import optimizer_step, tick  # noqa: E402
from train_mtp import MtpModule, hf_tensors  # noqa: E402


def unroll(modules, prev, embs, head, cos, sin):
    outs = []
    for d, m in enumerate(modules):
        prev = m(prev, embs[d], cos, sin)
        h = m.shared_head_norm(prev)
        outs.append(F.linear(ste(h, int8_activations(h)), head))
    return outs


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--features", required=True, help="the folder `ternspec distill --draft mtp` wrote")
    ap.add_argument("--out", required=True, help="sidecar folder to export (config.json, model.safetensors)")
    ap.add_argument("--steps", type=int, default=2000, help="optimiser steps in all, resumed ones included")
    ap.add_argument("--depth", type=int, default=3, help="number of modules D")
    ap.add_argument("--draft-vocab", type=int, default=2048)
    ap.add_argument("--batch", type=int, default=12)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("distill_mtp: --device cuda, but this PyTorch sees no CUDA device")
    device = "cuda" if args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available()) else "cpu"
    torch.manual_seed(0)
    meta, data = load_features(args.features)
    if meta.get("drafter") != "mtp":
        sys.exit(f"distill_mtp: {args.features} holds {meta.get('drafter')} features; run distill --draft mtp")
    n, W, H, V, L = meta["windows_done"], meta["window"], meta["hidden_size"], meta["vocab_size"], meta["num_hidden_layers"]
    D = args.depth
    T = W - D - 1
    if T < 4:
        sys.exit(f"distill_mtp: windows of {W} tokens leave no sequence for {D} modules")
    held = max(1, n // 20)
    if n - held < 4:
        sys.exit(f"distill_mtp: {n} windows of features; at least 5 are needed")
    head_all = np.memmap(os.path.join(args.features, "head.f16"), dtype="<f2", mode="r", shape=(V, H))
    cfg = Config(vocab_size=V, hidden_size=H, intermediate_size=meta["intermediate_size"], num_hidden_layers=L,
                 num_attention_heads=meta["num_attention_heads"], num_key_value_heads=meta["num_key_value_heads"],
                 head_dim=meta["head_dim"], rope_theta=meta["rope_theta"], rms_norm_eps=meta["rms_norm_eps"])
    keep, draft_of = draft_vocabulary(data, n - held, V, args.draft_vocab, device)
    vd = len(keep)
    head = torch.from_numpy(np.asarray(head_all[keep], dtype=np.float32)).to(device)
    modules = nn.ModuleList(MtpModule(cfg) for _ in range(D)).to(device)
    opt = torch.optim.AdamW(modules.parameters(), lr=args.lr, weight_decay=0.0, betas=(0.9, 0.95))
    ck_path = os.path.join(args.features, "mtp_modules.pt")
    step, elapsed, hist, runs = resume.resume(ck_path, "modules", modules, opt, device)
    gen = np.random.default_rng(11 + step)
    cos, sin = rope_tables(cfg, T, device)
    t_last, progress = time.time(), Progress(step, args.steps, args.batch * T)
    print(json.dumps({"event": "start", "device": device, "windows": n, "held_out": held, "window": W,
                      "head_params_m": round(sum(p.numel() for p in modules.parameters()) / 1e6, 3), "draft_vocab": vd,
                      "layers": meta["layers"], "ternary": True, "from_step": step, "steps": args.steps}), flush=True)
    while step < args.steps:
        prev, embs, targets, masks = batch(data, gen.integers(0, n - held, args.batch), T, D, draft_of, vd, device)
        schedule(opt, args.lr, step, args.steps)
        outs = unroll(modules, prev, embs, head, cos, sin)
        loss = sum(masked_losses(outs, targets, masks))
        optimizer_step(opt, loss, modules)
        step += 1
        elapsed, t_last = tick(elapsed, t_last)
        progress.record(step, loss.item(), elapsed, hist)
        if step % 100 == 0:
            resume.save(ck_path, "modules", modules, opt, step, elapsed, hist, runs)
    resume.save(ck_path, "modules", modules, opt, step, elapsed, hist, runs)
    # Export: exact ternary weights with fp16 scales, norms rounded to fp16 (as train_mtp.py exports).
    freeze_to_ternary(modules)
    with torch.no_grad():
        prev, embs, targets, masks = batch(data, np.arange(n - held, n), T, D, draft_of, vd, device)
        outs = unroll(modules, prev, embs, head, cos, sin)
        agree = [((outs[d].argmax(-1) == targets[d].argmax(-1)).float() * masks[d]).sum().item() /
                 max(1.0, masks[d].sum().item()) for d in range(D)]
    os.makedirs(args.out, exist_ok=True)
    tensors = hf_tensors(modules, L)
    tensors["draft_vocab"] = torch.tensor(keep, dtype=torch.int64)
    write_safetensors(os.path.join(args.out, "model.safetensors"), tensors, {"format": "pt"})
    config = {"architectures": ["Qwen3MTPSidecar"], "model_type": "qwen3_mtp", "num_nextn_predict_layers": D,
              "num_hidden_layers": L, "hidden_size": H, "intermediate_size": cfg.intermediate_size,
              "num_attention_heads": cfg.num_attention_heads, "num_key_value_heads": cfg.num_key_value_heads,
              "head_dim": cfg.head_dim, "vocab_size": V, "rope_theta": cfg.rope_theta,
              "rms_norm_eps": cfg.rms_norm_eps, "shared_embedding": True, "shared_lm_head": True,
              "torch_dtype": "float16",
              "quantization": {"ternary_group_size": 128, "activations": "int8 per token (absmax)"}}
    with open(os.path.join(args.out, "config.json"), "w") as fh:
        json.dump(config, fh, indent=2)
    with open(os.path.join(args.out, "training.json"), "w") as fh:
        json.dump({"source": "ternspec distill", "target": meta["model"], "corpus": meta["corpus"], "steps": step,
                   "minutes": elapsed / 60, "depth": D, "batch": args.batch, "seq": T, "windows": n,
                   "held_out_windows": held, "held_out_top1_agreement_per_module": agree, "runs": runs,
                   "history": hist}, fh, indent=1)
    print(json.dumps({"event": "done", "out": args.out, "steps": step, "minutes": round(elapsed / 60, 2),
                      "held_out_top1_agreement_per_step": [round(a, 4) for a in agree]}), flush=True)


if __name__ == "__main__":
    main()
