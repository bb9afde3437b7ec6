"""Trains an EAGLE-3 head for the shipped ternary model; resumable, CPU or CUDA; exports the published
checkpoint format (config.json + model.safetensors: fc, midlayer.*, norm, lm_head, d2t, t2d).

Data: the frozen target's own hidden states over the training split (never the validation modules).
Multi-step ("training-time test"): step 1 reads fused target features; step k > 1 reads the head's own
output of step k - 1, and its attention sees the step-1 keys of earlier rows plus its own chain of steps
(the diagonal), which is what the runtime drafter sees when it drafts k tokens ahead.

  OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 train/train_eagle.py --work build-train --out models/NAME-eagle3
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
from export import write_safetensors  # noqa: E402
import resume  # noqa: E402
import windows  # noqa: E402
from model import Config, Qwen3Ternary, RMSNorm, TernaryLinear, latent_from_ternary, rotate_half, ternary_weight  # noqa: E402
from step import optimizer_step, tick  # noqa: E402


class QuantLinear(TernaryLinear):
    """A ternary head layer in training: ternary weights per group of 128 and int8 activations per token,
    straight-through, exactly as the runtime's packed kernels compute it (quantisation-aware training)."""


def linear(ternary):
    return (lambda i, o, bias=False: QuantLinear(i, o)) if ternary else nn.Linear


class EagleHead(nn.Module):
    def __init__(self, H, inter, heads, kv_heads, head_dim, draft_vocab, eps=1e-6, theta=10000.0, ternary=False):
        super().__init__()
        self.H, self.nh, self.nkv, self.hd, self.theta = H, heads, kv_heads, head_dim, theta
        Linear = linear(ternary)
        self.fc = Linear(3 * H, H, bias=False)
        self.input_layernorm = RMSNorm(H, eps)
        self.hidden_norm = RMSNorm(H, eps)
        self.post_attention_layernorm = RMSNorm(H, eps)
        self.q_proj = Linear(2 * H, heads * head_dim, bias=False)
        self.k_proj = Linear(2 * H, kv_heads * head_dim, bias=False)
        self.v_proj = Linear(2 * H, kv_heads * head_dim, bias=False)
        self.o_proj = Linear(heads * head_dim, H, bias=False)
        self.gate_proj = Linear(H, inter, bias=False)
        self.up_proj = Linear(H, inter, bias=False)
        self.down_proj = Linear(inter, H, bias=False)
        self.norm = RMSNorm(H, eps)
        self.lm_head = Linear(H, draft_vocab, bias=False)

    def rope(self, x, positions):
        inv = 1.0 / (self.theta ** (torch.arange(0, self.hd, 2, device=x.device).float() / self.hd))
        ang = positions.float()[:, None] * inv[None, :]
        ang = torch.cat([ang, ang], -1)
        return x * ang.cos() + rotate_half(x) * ang.sin()

    def qkv(self, g, emb, positions):
        B, T, _ = g.shape
        x = torch.cat([self.input_layernorm(emb), self.hidden_norm(g)], -1)
        q = self.q_proj(x).view(B, T, self.nh, self.hd).transpose(1, 2)
        k = self.k_proj(x).view(B, T, self.nkv, self.hd).transpose(1, 2)
        v = self.v_proj(x).view(B, T, self.nkv, self.hd).transpose(1, 2)
        return self.rope(q, positions), self.rope(k, positions), v

    def rest(self, g, att):
        B, T = g.shape[:2]
        h = g + self.o_proj(att.transpose(1, 2).reshape(B, T, -1))
        n = self.post_attention_layernorm(h)
        return h + self.down_proj(F.silu(self.gate_proj(n)) * self.up_proj(n))

    def unroll(self, feats, embs, steps):
        """feats: [B,T,3H] fused later; embs[k]: [B,T,H] embeddings of the step-k input tokens.
        Returns the list of draft logits per step ([B,T,Vd]); row j of step k sits at position j+k-1."""
        B, T, _ = feats.shape
        rep = self.nh // self.nkv
        g = self.fc(feats)
        keys, vals, outs = [], [], []
        base = torch.arange(T, device=feats.device)
        causal = torch.ones(T, T, dtype=torch.bool, device=feats.device).triu(1)
        for k in range(steps):
            q, kk, vv = self.qkv(g, embs[k], base + k)
            keys.append(kk.repeat_interleave(rep, 1))
            vals.append(vv.repeat_interleave(rep, 1))
            scale = 1.0 / math.sqrt(self.hd)
            s1 = (q @ keys[0].transpose(-1, -2)) * scale
            s1 = s1.masked_fill(causal, float("-inf"))
            diag = [(q * keys[m]).sum(-1, keepdim=True) * scale for m in range(1, k + 1)]
            p = torch.cat([s1] + diag, -1).softmax(-1)
            att = p[..., :T] @ vals[0]
            for i, m in enumerate(range(1, k + 1)):
                att = att + p[..., T + i:T + i + 1] * vals[m]
            g = self.rest(g, att)
            outs.append(self.lm_head(self.norm(g)))
        return outs


def load_target(work, device, folder=None):
    """The frozen target: a shipped HF folder (exact ternary weights) or the training checkpoint in `work`."""
    if folder:
        from export import load_target_hf
        m = load_target_hf(folder)
        return m.to(device).eval(), m.cfg
    ck = torch.load(os.path.join(work, "checkpoint.pt"), map_location="cpu")
    cfg = Config(**ck["config"])
    m = Qwen3Ternary(cfg)
    m.load_state_dict(ck["model"])
    m.freeze_ternary()
    return m.to(device).eval(), cfg


HF_NAMES = {"fc.weight": "fc.weight", "norm.weight": "norm.weight", "lm_head.weight": "lm_head.weight"}
for _n in ("input_layernorm", "hidden_norm", "post_attention_layernorm"):
    HF_NAMES[f"{_n}.weight"] = f"midlayer.{_n}.weight"
for _n in ("q_proj", "k_proj", "v_proj", "o_proj"):
    HF_NAMES[f"{_n}.weight"] = f"midlayer.self_attn.{_n}.weight"
for _n in ("gate_proj", "up_proj", "down_proj"):
    HF_NAMES[f"{_n}.weight"] = f"midlayer.mlp.{_n}.weight"


def init_from(head, folder):
    """A trained head's weights (the published checkpoint format) as the start of this run; returns its
    draft vocabulary (target ids), which this run keeps."""
    from export import read_safetensors
    sd = read_safetensors(os.path.join(folder, "model.safetensors"))
    ternary = {f"{n}.weight" for n, m in head.named_modules() if isinstance(m, QuantLinear)}
    with torch.no_grad():
        for name, p in head.named_parameters():
            key = HF_NAMES[name]
            if key not in sd:  # vLLM-speculators names the decoder layer layers.0, SpecForge midlayer
                key = key.replace("midlayer.", "layers.0.")
            w = sd[key].float()
            p.copy_(latent_from_ternary(w) if name in ternary else w)
    if "d2t" not in sd:  # a head over the whole vocabulary
        return np.arange(sd["lm_head.weight"].shape[0])
    d2t = sd["d2t"].long()
    return (torch.arange(len(d2t)) + d2t).numpy()


def export_head(out, head, d2t, t2d, target, intermediate, layers, ternary, record):
    """The published checkpoint format (config.json, model.safetensors with d2t/t2d) and training.json.
    `target`: the target's hidden_size, heads, kv heads, head_dim, vocab_size, rope_theta, rms_norm_eps."""
    os.makedirs(out, exist_ok=True)
    sd = head.state_dict()
    # Ternary heads leave as exact trit x bf16-scale values: the runtime finds every group in {-s, 0, +s}.
    tensors = {HF_NAMES[k]: (ternary_weight(v.detach().float(), torch.bfloat16) if ternary and v.dim() == 2
                             else v.detach()).cpu().to(torch.bfloat16) for k, v in sd.items()}
    tensors.update({"d2t": d2t, "t2d": t2d})
    write_safetensors(os.path.join(out, "model.safetensors"), tensors, {"format": "pt"})
    cfg = {"architectures": ["LlamaForCausalLMEagle3"], "model_type": "llama", "hidden_size": target["hidden_size"],
           "intermediate_size": intermediate, "num_attention_heads": target["num_attention_heads"],
           "num_key_value_heads": target["num_key_value_heads"], "head_dim": target["head_dim"],
           "vocab_size": target["vocab_size"], "draft_vocab_size": int(len(d2t)),
           "target_hidden_size": target["hidden_size"], "rope_theta": target["rope_theta"],
           "rms_norm_eps": target["rms_norm_eps"], "eagle_config": {"eagle_aux_hidden_state_layer_ids": layers,
                                                                     "eagle_aux_hidden_state_layer_convention": "vllm"},
           "torch_dtype": "bfloat16"}
    if ternary:
        cfg["quantization"] = {"ternary_group_size": 128, "activations": "int8 per token (absmax)"}
    with open(os.path.join(out, "config.json"), "w") as fh:
        json.dump(cfg, fh, indent=2)
    with open(os.path.join(out, "training.json"), "w") as fh:
        json.dump(record, fh, indent=1)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", required=True, help="the target's training folder (checkpoint.pt, train.npy)")
    ap.add_argument("--out", required=True, help="checkpoint folder to export to")
    ap.add_argument("--minutes", type=float, default=25)
    ap.add_argument("--steps-ttt", type=int, default=3, help="draft steps unrolled in training")
    ap.add_argument("--draft-vocab", type=int, default=2048)
    ap.add_argument("--layers", default="1,3,5", help="aux layer ids: the residual stream entering these target layers")
    ap.add_argument("--batch", type=int, default=12)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--intermediate", type=int, default=512)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--extra-data", default="", help="another token stream to draw windows from (make_selfdistill.py)")
    ap.add_argument("--extra-share", type=float, default=0.5, help="share of each batch drawn from --extra-data")
    ap.add_argument("--target", default="", help="the target's shipped HF folder (default: --work's checkpoint.pt)")
    ap.add_argument("--ternary", action="store_true",
                    help="quantisation-aware training: ternary weights per group of 128, int8 activations; exported "
                         "exactly ternary, so the runtime packs the head with the target's kernels")
    ap.add_argument("--init-from", default="", help="start from this trained head folder (and keep its draft vocabulary)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(0)
    target, tcfg = load_target(args.work, device, args.target)
    for p in target.parameters():
        p.requires_grad_(False)
    data = np.load(os.path.join(args.work, "train.npy"))
    layers = [int(x) for x in args.layers.split(",")]
    sources = windows.streams(data, args.extra_data, args.extra_share)
    # Reduced vocabulary: the most frequent training tokens; draft id i is target id i + d2t[i].
    counts = np.bincount(data, minlength=tcfg.vocab_size)
    keep = np.sort(np.argsort(-counts, kind="stable")[: args.draft_vocab])
    if args.init_from:
        with open(os.path.join(args.init_from, "config.json")) as fh:
            init_cfg = json.load(fh)
        args.intermediate, args.draft_vocab = init_cfg["intermediate_size"], init_cfg["draft_vocab_size"]
    head = EagleHead(tcfg.hidden_size, args.intermediate, tcfg.num_attention_heads, tcfg.num_key_value_heads,
                     tcfg.head_dim, args.draft_vocab, tcfg.rms_norm_eps, tcfg.rope_theta, args.ternary).to(device)
    ck_path = os.path.join(args.work, "eagle_checkpoint" + ("-ternary" if args.ternary else "") + ".pt")
    if args.init_from and not os.path.exists(ck_path):
        keep = init_from(head, args.init_from)
    d2t = torch.tensor(keep - np.arange(len(keep)), dtype=torch.int64)
    t2d = torch.zeros(tcfg.vocab_size, dtype=torch.bool)
    t2d[torch.tensor(keep)] = True
    keep_t = torch.tensor(keep, device=device)
    opt = torch.optim.AdamW(head.parameters(), lr=args.lr, weight_decay=0.0, betas=(0.9, 0.95))
    step, elapsed, hist, runs = resume.resume(ck_path, "head", head, opt, device)
    gen = torch.Generator().manual_seed(7 + step)
    K = args.steps_ttt
    budget = args.minutes * 60
    t_last = time.time()
    print(f"eagle: head {sum(p.numel() for p in head.parameters()) / 1e6:.2f} M params, draft vocab {len(keep)}, "
          f"layers {layers}, {K} steps, {device}", flush=True)
    while elapsed < budget:
        x = windows.sample(sources, args.batch, args.seq + K + 1, gen).to(device)
        with torch.no_grad():
            logits, hidden = target(x, return_hidden=True)
            feats = torch.cat([hidden[l] for l in layers], -1)[:, :args.seq]
            emb = target.embedding()
            embs = [emb[x[:, k + 1:k + 1 + args.seq]] for k in range(K)]
            # Step k, row j predicts what the target predicts at position j + k + 1.
            tprobs = [F.softmax(logits[:, k + 1:k + 1 + args.seq].float(), -1)[..., keep_t] for k in range(K)]
        frac = min(1.0, elapsed / budget)
        lr = args.lr * min(1.0, (step + 1) / 100) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))
        for gr in opt.param_groups:
            gr["lr"] = lr
        outs = head.unroll(feats, embs, K)
        losses, accs = [], []
        for k in range(K):
            p = tprobs[k] / tprobs[k].sum(-1, keepdim=True).clamp(min=1e-9)
            losses.append(-(p * F.log_softmax(outs[k], -1)).sum(-1).mean())
            accs.append((outs[k].argmax(-1) == tprobs[k].argmax(-1)).float().mean().item())
        loss = sum(w * l for w, l in zip([1.0, 0.8, 0.64, 0.5, 0.4][:K], losses))
        optimizer_step(opt, loss, head)
        step += 1
        elapsed, t_last = tick(elapsed, t_last)
        if step % 20 == 0:
            hist.append({"step": step, "minutes": elapsed / 60, "loss": loss.item(), "top1_agreement_per_step": accs})
            print(f"eagle step {step} loss {loss.item():.3f} top-1 agreement per step {[round(a, 3) for a in accs]} "
                  f"lr {lr:.2e} {elapsed / 60:.1f}/{args.minutes:.0f} min", flush=True)
        if step % 200 == 0:
            resume.save(ck_path, "head", head, opt, step, elapsed, hist, runs)
    resume.save(ck_path, "head", head, opt, step, elapsed, hist, runs)
    export_head(args.out, head, d2t, t2d,
                {"hidden_size": tcfg.hidden_size, "num_attention_heads": tcfg.num_attention_heads,
                 "num_key_value_heads": tcfg.num_key_value_heads, "head_dim": tcfg.head_dim,
                 "vocab_size": tcfg.vocab_size, "rope_theta": tcfg.rope_theta, "rms_norm_eps": tcfg.rms_norm_eps},
                args.intermediate, layers, args.ternary,
                {"steps": step, "minutes": elapsed / 60, "ttt_steps": K, "batch": args.batch, "seq": args.seq,
                 "tokens_seen": step * args.batch * args.seq, "runs": runs, "history": hist})
    print(f"exported {args.out}", flush=True)


if __name__ == "__main__":
    main()
