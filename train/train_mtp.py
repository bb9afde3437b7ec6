"""Trains multi-token-prediction (MTP) modules for the shipped ternary model, target frozen; resumable,
CPU or CUDA; exports the sidecar format of docs/mtp.md (config.json + model.safetensors).

Module d (1-based) at row j reads the previous state (the target's final pre-norm hidden state at j for
d = 1, module d-1's output at j after) and the embedding of token t[j+d], and predicts t[j+d+1]:
    z = eh_proj(concat(enorm(embed(t[j+d])), hnorm(prev)))      embedding first, as vLLM's DeepSeek MTP
    out = block(z)                                              one ternary Qwen3 decoder layer, causal over j
    logits = lm_head(shared_head.norm(out))                     the target's tied embedding as head
The loss is the cross-entropy against the target's own next-token distribution at position j+d (what
greedy verification accepts). Every linear layer is ternary-aware (absmean per 128, int8 activations),
so the runtime packs the modules with the target's kernels.

  OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 train/train_mtp.py --target models/tern-pystd-7m \
      --work build-train --out models/tern-pystd-7m-mtp --minutes 50
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import resume  # noqa: E402
import windows  # noqa: E402
from export import load_target_hf, write_safetensors  # noqa: E402
from model import Block, RMSNorm, TernaryLinear, freeze_to_ternary, int8_activations, latent_from_ternary, rope_tables, ste  # noqa: E402
from step import optimizer_step, tick  # noqa: E402


class MtpModule(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        H = cfg.hidden_size
        self.enorm = RMSNorm(H, cfg.rms_norm_eps)
        self.hnorm = RMSNorm(H, cfg.rms_norm_eps)
        self.eh_proj = TernaryLinear(2 * H, H)
        self.block = Block(cfg)
        self.shared_head_norm = RMSNorm(H, cfg.rms_norm_eps)

    def forward(self, prev, emb, cos, sin):
        z = self.eh_proj(torch.cat([self.enorm(emb), self.hnorm(prev)], -1))
        return self.block(z, cos, sin)


def head_logits(module, out, emb_table):
    h = module.shared_head_norm(out)
    return F.linear(ste(h, int8_activations(h)), emb_table)


def unroll(modules, target_hidden, x, T, emb_table, cos, sin):
    """target_hidden: [B, >=T, H]; x: [B, T + D + 1] tokens. Returns per-module logits [B, T, V]."""
    prev, outs = target_hidden[:, :T], []
    for d, m in enumerate(modules, start=1):
        prev = m(prev, emb_table[x[:, d:d + T]], cos, sin)
        outs.append(head_logits(m, prev, emb_table))
    return outs


def init_from(modules, folder, n_layers):
    """A trained sidecar's weights as the start of this run (fine-tuning for a continued target)."""
    from export import read_safetensors
    sd = read_safetensors(os.path.join(folder, "model.safetensors"))
    names = hf_tensors(modules, n_layers)
    if set(names) != set(sd):
        sys.exit(f"--init-from {folder}: its tensors differ from a depth-{len(modules)} sidecar for this target")
    with torch.no_grad():
        for d, m in enumerate(modules):
            for n, t in m.state_dict().items():
                hf = n[len("block."):] if n.startswith("block.") else n.replace("shared_head_norm.", "shared_head.norm.")
                w = sd[f"model.layers.{n_layers + d}.{hf}"].float()
                t.copy_(latent_from_ternary(w) if w.dim() == 2 else w)


def hf_tensors(modules, n_layers):
    """DeepSeek-V3 naming: module d is model.layers.{n_layers + d - 1}; block tensors keep Qwen3 names."""
    out = {}
    for d, m in enumerate(modules):
        p = f"model.layers.{n_layers + d}."
        for n, t in m.state_dict().items():
            if n.startswith("block."):
                n = n[len("block."):]
            elif n.startswith("shared_head_norm."):
                n = "shared_head.norm." + n[len("shared_head_norm."):]
            out[p + n] = t.detach().cpu().to(torch.float16)
    return out


@torch.no_grad()
def agreement(modules, target, data, T, device, n_windows=64):
    """Top-1 agreement of each module with the target's greedy choice over validation windows."""
    D = len(modules)
    hits, count = [0] * D, 0
    emb = target.embedding()
    cos, sin = rope_tables(target.cfg, T, device)
    step = (len(data) - T - D - 2) // n_windows
    for w in range(0, n_windows, 8):
        rows = [torch.from_numpy(data[i * step:i * step + T + D + 1].astype(np.int64)) for i in range(w, min(n_windows, w + 8))]
        x = torch.stack(rows).to(device)
        logits, hidden = target(x, return_hidden=True)
        outs = unroll(modules, hidden[-1], x, T, emb, cos, sin)
        for d in range(D):
            hits[d] += (outs[d].argmax(-1) == logits[:, d + 1:d + 1 + T].argmax(-1)).sum().item()
        count += x.shape[0] * T
    return [h / count for h in hits]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--target", required=True, help="the target's HF folder (exact ternary weights)")
    ap.add_argument("--work", required=True, help="folder with train.npy / val.npy; the checkpoint goes here")
    ap.add_argument("--out", required=True, help="sidecar folder to export to")
    ap.add_argument("--depth", type=int, default=3, help="number of MTP modules D")
    ap.add_argument("--minutes", type=float, default=50)
    ap.add_argument("--batch", type=int, default=12)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--extra-data", default="", help="another token stream to draw windows from (make_selfdistill.py)")
    ap.add_argument("--extra-share", type=float, default=0.5, help="share of each batch drawn from --extra-data")
    ap.add_argument("--init-from", default="", help="start from this trained sidecar folder (same target shape and depth)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(0)
    target = load_target_hf(args.target).to(device).eval()
    for p in target.parameters():
        p.requires_grad_(False)
    cfg = target.cfg
    modules = nn.ModuleList(MtpModule(cfg) for _ in range(args.depth)).to(device)
    # Warm start: every module's block begins as the target's last block (its output feeds the same head):
    # all of it on a Qwen3 target; on a hybrid, whose last block is gated attention, the tensors of the same
    # name and shape (the FFN and the norms).
    last = target.layers[-1].state_dict()
    for m in modules:
        own = m.block.state_dict()
        m.block.load_state_dict({k: v for k, v in last.items() if k in own and own[k].shape == v.shape},
                                strict=False)
        for sub in m.block.modules():
            if isinstance(sub, TernaryLinear):
                sub.frozen = False
    data = np.load(os.path.join(args.work, "train.npy"))
    val = np.load(os.path.join(args.work, "val.npy"))
    sources = windows.streams(data, args.extra_data, args.extra_share)
    opt = torch.optim.AdamW(modules.parameters(), lr=args.lr, weight_decay=0.0, betas=(0.9, 0.95))
    ck_path = os.path.join(args.work, "mtp_checkpoint.pt")
    if args.init_from and not os.path.exists(ck_path):
        init_from(modules, args.init_from, cfg.num_hidden_layers)
    step, elapsed, hist, runs = resume.resume(ck_path, "modules", modules, opt, device)
    save = lambda: resume.save(ck_path, "modules", modules, opt, step, elapsed, hist, runs)  # noqa: E731
    gen = torch.Generator().manual_seed(11 + step)
    D, T = args.depth, args.seq
    emb = target.embedding()
    cos, sin = rope_tables(cfg, T, device)
    budget = args.minutes * 60
    print(f"mtp: {D} modules, {sum(p.numel() for p in modules.parameters()) / 1e6:.2f} M params, {device}", flush=True)
    t_last = time.time()
    while elapsed < budget:
        x = windows.sample(sources, args.batch, T + D + 1, gen).to(device)
        with torch.no_grad():
            logits, hidden = target(x, return_hidden=True)
            tprobs = [F.softmax(logits[:, d + 1:d + 1 + T].float(), -1) for d in range(D)]
        frac = min(1.0, elapsed / budget)
        lr = args.lr * min(1.0, (step + 1) / 100) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))
        for gr in opt.param_groups:
            gr["lr"] = lr
        outs = unroll(modules, hidden[-1], x, T, emb, cos, sin)
        losses = [-(tprobs[d] * F.log_softmax(outs[d].float(), -1)).sum(-1).mean() for d in range(D)]
        loss = sum(losses)
        optimizer_step(opt, loss, modules)
        step += 1
        elapsed, t_last = tick(elapsed, t_last)
        if step % 20 == 0:
            accs = [(outs[d].argmax(-1) == tprobs[d].argmax(-1)).float().mean().item() for d in range(D)]
            hist.append({"step": step, "minutes": elapsed / 60, "loss_per_module": [l.item() for l in losses],
                         "top1_agreement_per_module": accs})
            print(f"mtp step {step} loss {[round(l.item(), 3) for l in losses]} agreement {[round(a, 3) for a in accs]} "
                  f"lr {lr:.2e} {elapsed / 60:.1f}/{args.minutes:.0f} min", flush=True)
        if step % 200 == 0:
            save()
    save()
    # Export: exact ternary weights with fp16 scales, norms rounded to fp16, as the target's own export.
    freeze_to_ternary(modules)
    modules.eval()
    val_agree = agreement(modules, target, val, T, device)
    print(f"validation top-1 agreement per module: {[round(a, 3) for a in val_agree]}", flush=True)
    os.makedirs(args.out, exist_ok=True)
    write_safetensors(os.path.join(args.out, "model.safetensors"), hf_tensors(modules, cfg.num_hidden_layers), {"format": "pt"})
    config = {"architectures": ["Qwen3MTPSidecar"], "model_type": "qwen3_mtp", "num_nextn_predict_layers": D,
              "num_hidden_layers": cfg.num_hidden_layers, "hidden_size": cfg.hidden_size,
              "intermediate_size": cfg.intermediate_size, "num_attention_heads": cfg.num_attention_heads,
              "num_key_value_heads": cfg.num_key_value_heads, "head_dim": cfg.head_dim, "vocab_size": cfg.vocab_size,
              "rope_theta": cfg.rope_theta, "rms_norm_eps": cfg.rms_norm_eps, "shared_embedding": True,
              "shared_lm_head": True, "torch_dtype": "float16",
              "quantization": {"ternary_group_size": 128, "activations": "int8 per token (absmax)"}}
    with open(os.path.join(args.out, "config.json"), "w") as fh:
        json.dump(config, fh, indent=2)
    with open(os.path.join(args.out, "training.json"), "w") as fh:
        json.dump({"steps": step, "minutes": elapsed / 60, "depth": D, "batch": args.batch, "seq": T,
                   "tokens_seen": step * args.batch * T, "device": device, "threads": args.threads,
                   "validation_top1_agreement_per_module": val_agree, "runs": runs, "history": hist}, fh, indent=1)
    print(f"exported {args.out}", flush=True)


if __name__ == "__main__":
    main()
