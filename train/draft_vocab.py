"""Gives a drafter a draft vocabulary: the N most frequent target tokens of the training split. The head then
scores those N rows only: at Qwen3's 151,936 tokens a full-vocabulary head is most of what a drafter reads
per drafted token.
- An MTP sidecar gets the I64 tensor `draft_vocab` (most frequent first; docs/mtp.md).
- An EAGLE-3 head whose checkpoint has none (draft_vocab_size = vocab_size) keeps the N rows of lm_head and
  gets d2t/t2d as the published checkpoints carry them (docs/eagle.md).

  /usr/bin/python3 train/draft_vocab.py SIDECAR_OR_HEAD --data WORK/train.npy --size 2048 --out OUT
"""
import argparse
import json
import os
import shutil
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export import read_safetensors, write_safetensors  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sidecar", help="an MTP sidecar or an EAGLE-3 head folder")
    ap.add_argument("--data", required=True, help="token ids of the training split (.npy)")
    ap.add_argument("--size", type=int, required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    with open(os.path.join(args.sidecar, "config.json")) as fh:
        cfg = json.load(fh)
    vocab = cfg["vocab_size"]
    if not 0 < args.size <= vocab:
        sys.exit(f"--size must be between 1 and {vocab}")
    data = np.load(args.data)
    counts = np.bincount(data, minlength=vocab)
    ids = np.argsort(-counts, kind="stable")[: args.size]
    coverage = counts[ids].sum() / counts.sum()
    tensors = read_safetensors(os.path.join(args.sidecar, "model.safetensors"))
    tensors = {k: v.to(torch.float16) if v.is_floating_point() else v for k, v in tensors.items()}
    if "Eagle3" in cfg.get("architectures", [""])[0]:
        if cfg.get("draft_vocab_size", vocab) != vocab or "d2t" in tensors:
            sys.exit(f"{args.sidecar}: the head already has a draft vocabulary of {cfg.get('draft_vocab_size')}")
        keep = np.sort(ids)  # d2t holds offsets in increasing draft-id order
        tensors["lm_head.weight"] = tensors["lm_head.weight"][torch.tensor(keep)]
        tensors["d2t"] = torch.tensor(keep - np.arange(len(keep)), dtype=torch.int64)
        t2d = torch.zeros(vocab, dtype=torch.bool)
        t2d[torch.tensor(keep)] = True
        tensors["t2d"] = t2d
    else:
        tensors["draft_vocab"] = torch.tensor(ids, dtype=torch.int64)
    os.makedirs(args.out, exist_ok=True)
    write_safetensors(os.path.join(args.out, "model.safetensors"), tensors, {"format": "pt"})
    cfg["draft_vocab_size"] = int(args.size)
    cfg["draft_vocab_coverage"] = float(coverage)
    with open(os.path.join(args.out, "config.json"), "w") as fh:
        json.dump(cfg, fh, indent=2)
    for extra in ("training.json", "MODEL_CARD.md"):
        if os.path.exists(os.path.join(args.sidecar, extra)) and args.out != args.sidecar:
            shutil.copy(os.path.join(args.sidecar, extra), os.path.join(args.out, extra))
    print(f"{args.out}: draft vocabulary of {args.size} tokens covers {coverage:.1%} of the training split")


if __name__ == "__main__":
    main()
