"""Bits per byte of a training checkpoint against the shipped model, on the same validation windows.

  OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 train/eval_checkpoint.py --work build-train2k \
      --shipped models/tern-pystd-7m --out docs/training/ctx2048-continued-eval.json
Windows: the first 32 of 2,048 tokens and the first 128 of 512 tokens of the validation stream.
"""
import argparse
import json
import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model import Config, Qwen3Ternary  # noqa: E402
from train_model import evaluate, warm_start  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", required=True)
    ap.add_argument("--shipped", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--whole", action="store_true", help="every 2,048-token window of the validation stream too")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    val = np.load(os.path.join(args.work, "val.npy"))
    with open(os.path.join(args.work, "data.json")) as fh:
        meta = json.load(fh)
    bytes_per_token = meta["val_bytes"] / meta["val_tokens"]
    ck = torch.load(os.path.join(args.work, "checkpoint.pt"), map_location="cpu")
    cfg = Config(**ck["config"])
    out = {"checkpoint_step": ck["step"], "train_minutes": ck["elapsed"] / 60}
    for name in ("shipped", "checkpoint"):
        m = Qwen3Ternary(cfg)
        if name == "shipped":
            warm_start(m, args.shipped)
        else:
            m.load_state_dict(ck["model"])
        for seq, windows in ((2048, 32), (512, 128)) + (((2048, None),) if args.whole else ()):
            loss, _ = evaluate(m, val, seq, "cpu", max_windows=windows)
            key = f"{name}_bpb_{seq}" + ("_whole_validation" if windows is None else "")
            out[key] = loss / bytes_per_token / math.log(2)
            print(name, seq, windows, loss, out[key], flush=True)
    with open(args.out, "w") as fh:
        json.dump(out, fh, indent=1)


if __name__ == "__main__":
    main()
