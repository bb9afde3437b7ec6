"""Trains Qwen3.5's own MTP layer (llama.cpp's `nextn` layer) for the shipped hybrid, target frozen; resumable,
CPU or CUDA; exports an MTP-only qwen35 GGUF (F32, exact ternary values) that `ternspec convert` packs.

The layer is what llama.cpp's src/models/qwen35.cpp runs (graph_mtp), at row j:
    h = output_norm(target's final state at j)                   the target's h_nextn
    z = eh_proj(concat(enorm(embed(t[j+1])), hnorm(h)))           embedding first
    out = gated-attention block(z)                                one ternary Qwen3.5 full-attention layer
    logits = lm_head(shared_head_norm(out))                       the target's tied embedding as head
predicting t[j+2]. At inference the layer is applied again to its own output (after shared_head_norm) for
deeper drafts; training here is the first step only, teacher-forced, as a file's MTP layer is trained. The loss
is the cross-entropy against the target's own next-token distribution (what greedy verification accepts).

  OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 train/train_nextn.py --target models/tern-pystd-hybrid \
      --work build-train-hybrid --out build-train-hybrid/nextn.gguf --minutes 40 --threads 1
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
import gguf_io as g  # noqa: E402
import resume  # noqa: E402
import windows  # noqa: E402
from export import load_target_hf  # noqa: E402
from model import RMSNorm, TernaryLinear, freeze_to_ternary, int8_activations, ste  # noqa: E402
from model_hybrid import HybridBlock, rope_tables  # noqa: E402
from step import optimizer_step, tick  # noqa: E402


class NextnLayer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        H = cfg.hidden_size
        self.enorm = RMSNorm(H, cfg.rms_norm_eps)
        self.hnorm = RMSNorm(H, cfg.rms_norm_eps)
        self.eh_proj = TernaryLinear(2 * H, H)
        self.block = HybridBlock(cfg, linear=False)
        self.shared_head_norm = RMSNorm(H, cfg.rms_norm_eps)

    def forward(self, h, emb, cos, sin):
        """h: the state after the target's output norm (or this layer's shared_head_norm); emb: embeddings."""
        z = self.eh_proj(torch.cat([self.enorm(emb), self.hnorm(h)], -1))
        return self.block(z, cos, sin)

    def logits(self, out, emb_table):
        h = self.shared_head_norm(out)
        return F.linear(ste(h, int8_activations(h)), emb_table)


def step_logits(layer, target, hidden, x, T, emb, cos, sin):
    """Row j of T: the target's state at j and token x[j + 1]; logits for x[j + 2]."""
    return layer.logits(layer(target.norm(hidden[:, :T]), emb[x[:, 1:T + 1]], cos, sin), emb)


@torch.no_grad()
def agreement(layer, target, data, T, device, n_windows=64):
    """Top-1 agreement with the target's greedy choice over validation windows."""
    hits = count = 0
    emb = target.embedding()
    cos, sin = rope_tables(target.cfg, T, device)
    step = (len(data) - T - 3) // n_windows
    for w in range(0, n_windows, 8):
        rows = [torch.from_numpy(data[i * step:i * step + T + 2].astype(np.int64)) for i in range(w, min(n_windows, w + 8))]
        x = torch.stack(rows).to(device)
        logits, hidden = target(x, return_hidden=True)
        out = step_logits(layer, target, hidden[-1], x, T, emb, cos, sin)
        hits += (out.argmax(-1) == logits[:, 1:1 + T].argmax(-1)).sum().item()
        count += x.shape[0] * T
    return hits / count


def gguf_tensors(layer, L):
    """The layer under llama.cpp's names (blk.L.*, nextn.* for the MTP parts), as row-major float arrays."""
    sd = {k: v.detach().float().cpu() for k, v in layer.state_dict().items()}
    b = f"blk.{L}."
    names = {"enorm.weight": "nextn.enorm.weight", "hnorm.weight": "nextn.hnorm.weight",
             "eh_proj.weight": "nextn.eh_proj.weight", "shared_head_norm.weight": "nextn.shared_head_norm.weight",
             "block.input_layernorm.weight": "attn_norm.weight",
             "block.post_attention_layernorm.weight": "post_attention_norm.weight",
             "block.self_attn.q_proj.weight": "attn_q.weight", "block.self_attn.k_proj.weight": "attn_k.weight",
             "block.self_attn.v_proj.weight": "attn_v.weight", "block.self_attn.o_proj.weight": "attn_output.weight",
             "block.self_attn.q_norm.weight": "attn_q_norm.weight", "block.self_attn.k_norm.weight": "attn_k_norm.weight",
             "block.mlp.gate_proj.weight": "ffn_gate.weight", "block.mlp.up_proj.weight": "ffn_up.weight",
             "block.mlp.down_proj.weight": "ffn_down.weight"}
    if set(sd) != set(names):
        sys.exit(f"nextn export: unexpected parameters {sorted(set(sd) ^ set(names))}")
    return {b + names[k]: v.numpy() for k, v in sd.items()}


def write_nextn_gguf(layer, cfg, target_gguf, path):
    """An MTP-only qwen35 file: the target GGUF's metadata (shape, tokenizer), block_count + 1, one nextn layer."""
    meta = g.read_metadata(target_gguf)
    A = "qwen35."
    L = meta[A + "block_count"][1]
    if L != cfg.num_hidden_layers:
        sys.exit(f"{target_gguf}: {L} layers, the target folder has {cfg.num_hidden_layers}")
    meta[A + "block_count"] = (g.U32, L + 1)
    meta[A + "nextn_predict_layers"] = (g.U32, 1)
    meta[A + "vocab_size"] = (g.U32, cfg.vocab_size)
    meta["general.name"] = (g.STR, "tern-pystd-hybrid nextn layer")
    g.write_f32(path, meta, gguf_tensors(layer, L))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--target", required=True, help="the hybrid target's HF folder (exact ternary weights)")
    ap.add_argument("--target-gguf", default="", help="its qwen35 GGUF (metadata source; default: FOLDER/NAME.gguf)")
    ap.add_argument("--work", required=True, help="folder with train.npy / val.npy; the checkpoint goes here")
    ap.add_argument("--out", required=True, help="the F32 MTP-only GGUF to write")
    ap.add_argument("--minutes", type=float, default=40)
    ap.add_argument("--batch", type=int, default=12)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--extra-data", default="", help="another token stream to draw windows from (make_selfdistill.py)")
    ap.add_argument("--extra-share", type=float, default=0.5, help="share of each batch drawn from --extra-data")
    args = ap.parse_args()
    target_gguf = args.target_gguf or os.path.join(args.target, os.path.basename(os.path.normpath(args.target)) + ".gguf")
    if not os.path.exists(target_gguf):
        sys.exit(f"{target_gguf}: no such file (--target-gguf)")
    torch.set_num_threads(args.threads)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(0)
    target = load_target_hf(args.target).to(device).eval()
    if not hasattr(target.cfg, "full_attention_interval"):
        sys.exit(f"{args.target}: not a Qwen3.5 hybrid (nextn layers are Qwen3.5's)")
    for p in target.parameters():
        p.requires_grad_(False)
    cfg = target.cfg
    layer = NextnLayer(cfg).to(device)
    # Warm start: the block begins as the target's last full-attention layer (its output feeds the same head).
    full = [i for i in range(cfg.num_hidden_layers) if not cfg.is_linear(i)]
    layer.block.load_state_dict(target.layers[full[-1]].state_dict())
    for sub in layer.modules():
        if isinstance(sub, TernaryLinear):
            sub.frozen = False
    data = np.load(os.path.join(args.work, "train.npy"))
    val = np.load(os.path.join(args.work, "val.npy"))
    sources = windows.streams(data, args.extra_data, args.extra_share)
    opt = torch.optim.AdamW(layer.parameters(), lr=args.lr, weight_decay=0.0, betas=(0.9, 0.95))
    ck_path = os.path.join(args.work, "nextn_checkpoint.pt")
    step, elapsed, hist, runs = resume.resume(ck_path, "layer", layer, opt, device)
    save = lambda: resume.save(ck_path, "layer", layer, opt, step, elapsed, hist, runs)  # noqa: E731
    gen = torch.Generator().manual_seed(17 + step)
    T = args.seq
    emb = target.embedding()
    cos, sin = rope_tables(cfg, T, device)
    budget = args.minutes * 60
    print(f"nextn: {sum(p.numel() for p in layer.parameters()) / 1e6:.2f} M params, {device}", flush=True)
    t_last = time.time()
    while elapsed < budget:
        x = windows.sample(sources, args.batch, T + 2, gen).to(device)
        with torch.no_grad():
            logits, hidden = target(x, return_hidden=True)
            tprobs = F.softmax(logits[:, 1:1 + T].float(), -1)
        frac = min(1.0, elapsed / budget)
        lr = args.lr * min(1.0, (step + 1) / 100) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))
        for gr in opt.param_groups:
            gr["lr"] = lr
        out = step_logits(layer, target, hidden[-1], x, T, emb, cos, sin)
        loss = -(tprobs * F.log_softmax(out.float(), -1)).sum(-1).mean()
        optimizer_step(opt, loss, layer)
        step += 1
        elapsed, t_last = tick(elapsed, t_last)
        if step % 20 == 0:
            acc = (out.argmax(-1) == tprobs.argmax(-1)).float().mean().item()
            hist.append({"step": step, "minutes": elapsed / 60, "loss": loss.item(), "top1_agreement": acc})
            print(f"nextn step {step} loss {loss.item():.3f} agreement {acc:.3f} lr {lr:.2e} "
                  f"{elapsed / 60:.1f}/{args.minutes:.0f} min", flush=True)
        if step % 200 == 0:
            save()
    save()
    freeze_to_ternary(layer)  # exact ternary x fp16 scales, norms in fp16: what the runtime packs
    layer.eval()
    val_agree = agreement(layer, target, val, T, device)
    print(f"validation top-1 agreement: {val_agree:.3f}", flush=True)
    write_nextn_gguf(layer, cfg, target_gguf, args.out)
    with open(os.path.splitext(args.out)[0] + ".training.json", "w") as fh:
        json.dump({"steps": step, "minutes": elapsed / 60, "batch": args.batch, "seq": T,
                   "tokens_seen": step * args.batch * T, "device": device, "threads": args.threads,
                   "validation_top1_agreement": val_agree, "runs": runs, "history": hist}, fh, indent=1)
    print(f"wrote {args.out}", flush=True)


if __name__ == "__main__":
    main()
