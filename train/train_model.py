"""Trains the shipped ternary models on the stdlib corpus: Qwen3 (`--arch qwen3`) or the Qwen3.5 hybrid of
Gated DeltaNet and gated attention (`--arch qwen35`); resumable, CPU or CUDA.

  OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 train/train_model.py --work build-train --threads 2 --steps N
  ... --export models/NAME   (after training: freeze to exact ternary values and write the HF folder)
  ... --arch qwen35 --init-from models/tern-pystd-7m   (a hybrid whose embeddings, MLPs, norms and full-attention
      layers start from the Qwen3 model's; its Gated DeltaNet layers start fresh)
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bpe  # noqa: E402
import corpus  # noqa: E402
from export import export_hf, export_hybrid_hf  # noqa: E402
from model import Config, Qwen3Ternary, latent_from_ternary  # noqa: E402
from model_hybrid import HybridConfig, Qwen35Ternary  # noqa: E402
from step import optimizer_step, tick  # noqa: E402


def build_data(work, tok_path):
    """Token streams for train/validation, files joined by <|endoftext|>; cached as .npy."""
    paths = {s: os.path.join(work, f"{s}.npy") for s in ("train", "val")}
    meta_path = os.path.join(work, "data.json")
    if all(os.path.exists(p) for p in paths.values()) and os.path.exists(meta_path):
        with open(meta_path) as fh:
            meta = json.load(fh)
        return {s: np.load(p) for s, p in paths.items()}, meta
    with open(tok_path, encoding="utf-8") as fh:
        tok = json.load(fh)
    enc = bpe.Encoder(tok)
    eot = next(a["id"] for a in tok["added_tokens"] if a["content"] == "<|endoftext|>")
    train_mods, val_mods = corpus.split()
    meta = {"val_modules": val_mods}
    out = {}
    for split, mods in (("train", train_mods), ("val", val_mods)):
        ids, nbytes = [], 0
        for m in mods:
            text = corpus.read_text(m)
            if text is None:
                continue
            ids.extend(enc.encode(text))
            ids.append(eot)
            nbytes += len(text.encode("utf-8"))
        out[split] = np.array(ids, dtype=np.uint16)
        np.save(paths[split], out[split])
        meta[f"{split}_tokens"], meta[f"{split}_bytes"] = len(ids), nbytes
        print(f"data: {split}: {len(mods)} modules, {nbytes} bytes, {len(ids)} tokens", flush=True)
    with open(meta_path, "w") as fh:
        json.dump(meta, fh, indent=1)
    return out, meta


def batches(data, batch, seq, gen):
    starts = torch.randint(0, len(data) - seq - 1, (batch,), generator=gen)
    x = torch.stack([torch.from_numpy(data[s:s + seq + 1].astype(np.int64)) for s in starts.tolist()])
    return x[:, :-1], x[:, 1:]


@torch.no_grad()
def evaluate(model, data, seq, device, max_windows=None):
    """Mean cross-entropy (nats/token) over non-overlapping windows of the validation stream."""
    model.eval()
    n = (len(data) - 1) // seq
    if max_windows:
        n = min(n, max_windows)
    total, count = 0.0, 0
    for i in range(0, n, 8):
        rows = [torch.from_numpy(data[j * seq:j * seq + seq + 1].astype(np.int64)) for j in range(i, min(n, i + 8))]
        x = torch.stack(rows).to(device)
        logits = model(x[:, :-1])
        total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), x[:, 1:].reshape(-1), reduction="sum").item()
        count += x[:, 1:].numel()
    model.train()
    return total / count, count


@torch.no_grad()
def warm_start(model, folder):
    """Latent weights from a shipped folder that quantise back to exactly its ternary x scale values."""
    from export import load_target_hf
    src = load_target_hf(folder)
    if src.cfg.hidden_size != model.cfg.hidden_size or src.cfg.num_hidden_layers != model.cfg.num_hidden_layers:
        sys.exit(f"--init-from {folder}: its shape differs from the requested model")
    state = src.state_dict()
    fresh = []
    for name, p in model.named_parameters():
        w = state.get(name)
        if w is None:  # a hybrid's Gated DeltaNet layer, which a Qwen3 source does not have
            fresh.append(name)
            continue
        w = w.float()
        if w.dim() == 2:
            w = latent_from_ternary(w)
        if name.endswith("self_attn.q_proj.weight") and p.shape[0] == 2 * w.shape[0]:
            # Qwen3.5's q_proj emits [query | gate] per head: the query half from the source, the gate as initialised
            d = model.cfg.head_dim
            p.view(-1, 2, d, p.shape[1])[:, 0].copy_(w.view(-1, d, w.shape[1]))
            continue
        p.copy_(w)
    print(f"warm start from {folder}" + (f"; {len(fresh)} tensors start fresh" if fresh else ""), flush=True)


def make_model(args, vocab):
    if args.arch == "qwen3":
        cfg = Config(vocab_size=vocab, hidden_size=args.hidden, intermediate_size=args.intermediate,
                     num_hidden_layers=args.layers, num_attention_heads=args.heads, num_key_value_heads=args.kv_heads,
                     rope_theta=args.rope_theta)
        return cfg, Qwen3Ternary(cfg)
    cfg = HybridConfig(vocab_size=vocab, hidden_size=args.hidden, intermediate_size=args.intermediate,
                       num_hidden_layers=args.layers, num_attention_heads=args.heads, num_key_value_heads=args.kv_heads,
                       rope_theta=args.rope_theta, full_attention_interval=args.full_attention_interval,
                       linear_num_key_heads=args.linear_key_heads, linear_num_value_heads=args.linear_value_heads)
    return cfg, Qwen35Ternary(cfg)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", required=True, help="folder for tokenizer, data cache, checkpoint and log")
    ap.add_argument("--steps", type=int, default=6000)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--layers", type=int, default=6)
    ap.add_argument("--intermediate", type=int, default=768)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--kv-heads", type=int, default=2)
    ap.add_argument("--eval-every", type=int, default=250)
    ap.add_argument("--ckpt-minutes", type=float, default=10)
    ap.add_argument("--stop-after-minutes", type=float, default=0, help="save and exit after this long (0: run to the end)")
    ap.add_argument("--export", help="freeze to exact ternary values and write the HF folder here, then exit")
    ap.add_argument("--context", type=int, default=0, help="context length written to the exported config (default: the config's)")
    ap.add_argument("--init-from", help="start a new run from a shipped HF folder's exact ternary weights (continued training)")
    ap.add_argument("--rope-theta", type=float, default=10000.0)
    ap.add_argument("--arch", choices=("qwen3", "qwen35"), default="qwen3")
    ap.add_argument("--full-attention-interval", type=int, default=3, help="qwen35: every Nth layer is full attention")
    ap.add_argument("--linear-key-heads", type=int, default=2, help="qwen35: Gated DeltaNet key heads")
    ap.add_argument("--linear-value-heads", type=int, default=4, help="qwen35: Gated DeltaNet value heads")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    os.makedirs(args.work, exist_ok=True)
    tok_path = os.path.join(args.work, "tokenizer.json")
    if not os.path.exists(tok_path):
        sys.exit(f"{tok_path} missing: run train/bpe.py --out {tok_path} first")
    data, meta = build_data(args.work, tok_path)
    with open(tok_path, encoding="utf-8") as fh:
        vocab = len(json.load(fh)["model"]["vocab"]) + len(bpe.SPECIAL_TOKENS)
    torch.manual_seed(0)
    cfg, model = make_model(args, vocab)
    model = model.to(device)
    ckpt_path = os.path.join(args.work, "checkpoint.pt")
    if args.init_from and not os.path.exists(ckpt_path):
        warm_start(model, args.init_from)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95))
    step, history, elapsed = 0, [], 0.0
    gen = torch.Generator().manual_seed(1234)
    if os.path.exists(ckpt_path):
        ck = torch.load(ckpt_path, map_location=device)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        step, history, elapsed = ck["step"], ck["history"], ck["elapsed"]
        gen.set_state(ck["gen"])
        print(f"resumed at step {step} ({elapsed / 60:.1f} min trained)", flush=True)
    nparams = sum(p.numel() for p in model.parameters())
    bytes_per_token = meta["val_bytes"] / meta["val_tokens"]

    if args.export:
        if args.context:
            cfg.max_position_embeddings = args.context
        model.freeze_ternary()
        loss, n = evaluate(model, data["val"], args.seq, device)
        bpb = loss * n / (n * bytes_per_token) / math.log(2)
        (export_hf if args.arch == "qwen3" else export_hybrid_hf)(model, tok_path, args.export)
        summary = {"torch": torch.__version__, "step": step, "params": nparams, "val_loss": loss, "val_ppl": math.exp(loss), "val_bpb": bpb,
                   "train_minutes": elapsed / 60, "history": history, "config": cfg.to_dict(),
                   "train_tokens_seen": step * args.batch * args.seq, "data": {k: v for k, v in meta.items() if k != "val_modules"}}
        with open(os.path.join(args.export, "training.json"), "w") as fh:
            json.dump(summary, fh, indent=1)
        print(f"exported {args.export}: val ppl {math.exp(loss):.3f} bpb {bpb:.4f} (exact ternary weights)", flush=True)
        return

    print(f"model: {nparams / 1e6:.2f} M params, {device}, {args.threads} threads; "
          f"{len(data['train'])} train tokens, {bytes_per_token:.2f} bytes/token", flush=True)

    def save():
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step, "history": history,
                    "elapsed": elapsed, "gen": gen.get_state(), "config": cfg.to_dict()}, ckpt_path + ".tmp")
        os.replace(ckpt_path + ".tmp", ckpt_path)

    if args.init_from and step == 0:
        vl, _ = evaluate(model, data["val"], args.seq, device, max_windows=16)
        print(f"eval before continued training: val loss {vl:.4f} bpb {vl / bytes_per_token / math.log(2):.4f} "
              f"({args.seq}-token windows)", flush=True)
    t_start = time.time()
    last_save = time.time()
    t_log = time.time()
    t_window = t_start  # start of the current 25-step throughput window
    while step < args.steps:
        lr = args.lr * min(1.0, (step + 1) / args.warmup) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / args.steps)))
        for g in opt.param_groups:
            g["lr"] = lr
        x, y = batches(data["train"], args.batch, args.seq, gen)
        x, y = x.to(device), y.to(device)
        loss = F.cross_entropy(model(x).reshape(-1, cfg.vocab_size).float(), y.reshape(-1))
        optimizer_step(opt, loss, model)
        step += 1
        elapsed, t_log = tick(elapsed, t_log)
        now = t_log
        if step % 25 == 0:
            tps = 25 * args.batch * args.seq / max(1e-9, now - t_window)
            t_window = now
            eta = (args.steps - step) * args.batch * args.seq / max(tps, 1) / 60
            print(f"step {step}/{args.steps} loss {loss.item():.4f} lr {lr:.2e} {tps:.0f} tok/s eta {eta:.0f} min", flush=True)
        if step % args.eval_every == 0 or step == args.steps:
            vl, n = evaluate(model, data["val"], args.seq, device, max_windows=64)
            bpb = vl / bytes_per_token / math.log(2)
            history.append({"step": step, "train_loss": loss.item(), "val_loss": vl, "val_bpb": bpb, "minutes": elapsed / 60})
            print(f"eval step {step}: val loss {vl:.4f} ppl {math.exp(vl):.2f} bpb {bpb:.4f}", flush=True)
        if now - last_save > args.ckpt_minutes * 60 or step == args.steps:
            save()
            last_save = now
        if args.stop_after_minutes and now - t_start > args.stop_after_minutes * 60:
            save()
            print(f"stopping after {args.stop_after_minutes} min at step {step}", flush=True)
            return
    save()
    print("training done", flush=True)


if __name__ == "__main__":
    main()
