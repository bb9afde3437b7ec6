"""What train/distill_eagle.py and train/distill_mtp.py share: the feature files `ternspec distill` writes
(docs/distill.md), the batches and draft vocabulary cut from them, the masked loss, the schedule, and the
progress line."""
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F


def load_features(folder):
    """meta.json and the arrays, memory-mapped, cut to the complete windows."""
    path = os.path.join(folder, "meta.json")
    if not os.path.exists(path):
        sys.exit(f"distill: {path} is missing: run `ternspec distill` (or its feature step) first")
    meta = json.load(open(path))
    if meta.get("format") != "ternspec-distill-features" or meta.get("version") != 1:
        sys.exit(f"distill: {path} is not version 1 of ternspec-distill-features")
    n, W, H, K = meta["windows_done"], meta["window"], meta["hidden_size"], meta["top_k"]

    def arr(name, dtype, *shape):
        return np.memmap(os.path.join(folder, name), dtype=dtype, mode="r", shape=(n, W) + shape)

    return meta, {"tokens": arr("tokens.i32", "<i4"), "features": arr("features.f16", "<f2", len(meta["layers"]) * H),
                  "embeddings": arr("embeddings.f16", "<f2", H), "topk_ids": arr("topk_ids.i32", "<i4", K),
                  "topk_probs": arr("topk_probs.f16", "<f2", K)}


def batch(data, rows, seq, steps, draft_of, vd, device):
    """feats [B,seq,taps x H] (the tapped hidden states); embs[k] [B,seq,H]; targets[k] [B,seq,Vd] (the target's top-k over the draft vocabulary,
    renormalised) and their row masks: step k, row j predicts the target's distribution at position j + k + 1."""
    rows = np.sort(rows)
    feats = torch.from_numpy(np.asarray(data["features"][rows, :seq], dtype=np.float32)).to(device)
    emb = torch.from_numpy(np.asarray(data["embeddings"][rows], dtype=np.float32)).to(device)
    ids = torch.from_numpy(np.asarray(data["topk_ids"][rows], dtype=np.int64)).to(device)
    probs = torch.from_numpy(np.asarray(data["topk_probs"][rows], dtype=np.float32)).to(device)
    embs, targets, masks = [], [], []
    for k in range(steps):
        embs.append(emb[:, k + 1:k + 1 + seq])
        d = draft_of[ids[:, k + 1:k + 1 + seq]]  # -1 outside the draft vocabulary
        p = probs[:, k + 1:k + 1 + seq] * (d >= 0)
        dense = torch.zeros(len(rows), seq, vd, device=device)
        dense.scatter_add_(-1, d.clamp(min=0), p)
        mass = dense.sum(-1, keepdim=True)
        targets.append(dense / mass.clamp(min=1e-9))
        masks.append((mass.squeeze(-1) > 0).float())
    return feats, embs, targets, masks


def draft_vocabulary(data, n_train, vocab, size, device):
    """(keep, draft_of): the tokens the target most often predicts first, then the most frequent inputs, over
    the training windows; draft_of maps a target id to its draft index, -1 outside."""
    top1 = np.asarray(data["topk_ids"][:n_train, :, 0]).ravel()
    counts = np.bincount(top1, minlength=vocab) * 4 + np.bincount(np.asarray(data["tokens"][:n_train]).ravel(),
                                                                  minlength=vocab)
    keep = np.sort(np.argsort(-counts, kind="stable")[: min(size, vocab)])
    return keep, draft_index(keep, vocab, device)


def draft_index(keep, vocab, device):
    draft_of = torch.full((vocab,), -1, dtype=torch.int64)
    draft_of[torch.tensor(keep)] = torch.arange(len(keep))
    return draft_of.to(device)


def masked_losses(outs, targets, masks):
    """Per step: cross-entropy against the target's renormalised top-k, over the rows that have any."""
    return [(-(t * F.log_softmax(o.float(), -1)).sum(-1) * m).sum() / m.sum().clamp(min=1)
            for o, t, m in zip(outs, targets, masks)]


def schedule(opt, base, step, steps):
    """Warm-up over 100 steps, then cosine to a tenth of `base` at `steps`; returns the rate set."""
    lr = base * min(1.0, (step + 1) / 100) * (0.1 + 0.9 * 0.5 * (1 + np.cos(np.pi * step / max(1, steps))))
    for gr in opt.param_groups:
        gr["lr"] = lr
    return lr


class Progress:
    """One JSON line on stdout every 10 steps and at the last (what `ternspec distill` shows)."""

    def __init__(self, step, steps, tokens_per_step):
        self.step0, self.steps, self.tokens_per_step, self.t0 = step, steps, tokens_per_step, time.time()

    def record(self, step, loss, elapsed, hist):
        if step % 10 and step != self.steps:
            return
        rate = (step - self.step0) / max(1e-9, time.time() - self.t0)
        rec = {"event": "step", "step": step, "steps": self.steps, "loss": round(loss, 4),
               "steps_per_s": round(rate, 3), "tokens_per_s": round(rate * self.tokens_per_step, 1),
               "eta_s": round((self.steps - step) / max(rate, 1e-9), 1), "minutes": round(elapsed / 60, 2)}
        hist.append(rec)
        print(json.dumps(rec), flush=True)
