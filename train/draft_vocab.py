"""Adds a draft vocabulary to an MTP sidecar: the N most frequent target tokens of the training split, most
frequent first, as the I64 tensor `draft_vocab` (docs/mtp.md). The modules' shared head then scores those N
rows only: at Qwen3's 151,936 tokens the full head is most of what an MTP module reads per drafted token.

  /usr/bin/python3 train/draft_vocab.py SIDECAR --data WORK/train.npy --size 2048 --out OUT
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
    ap.add_argument("sidecar")
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
