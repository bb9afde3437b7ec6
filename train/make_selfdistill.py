"""Self-distillation data for the drafters: the shipped model's own greedy continuations of prompts taken
from the training split (never the validation modules), written as a token stream like train.npy.
Drafters verify against exactly these outputs at inference, so training on them (mixed with the corpus)
aligns the drafter with what it will be asked to predict.

  /usr/bin/python3 train/make_selfdistill.py --model models/tern-pystd-7m --work build-train --prompts 1500
"""
import argparse
import json
import os
import random
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bpe  # noqa: E402
import corpus  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--prompts", type=int, default=1500)
    ap.add_argument("--tokens", type=int, default=160, help="greedy tokens generated per prompt")
    ap.add_argument("--ternspec", default="build/ternspec")
    args = ap.parse_args()
    train, _ = corpus.split()
    rng = random.Random(13)
    texts = [t for t in (corpus.read_text(m) for m in rng.sample(train, min(len(train), 3 * args.prompts))) if t and len(t) > 400]
    prompts = []
    for t in texts[: args.prompts]:
        # A prompt of 200..600 characters from the file's start or a random line, cut at a line end.
        start = 0 if rng.random() < 0.5 else t.rfind("\n", 0, rng.randrange(len(t) // 2)) + 1
        cut = t[start:start + rng.randrange(200, 600)]
        prompts.append(cut[: cut.rfind("\n") + 1] or cut)
    req = os.path.join(args.work, "selfdistill_prompts.jsonl")
    with open(req, "w") as fh:
        for p in prompts:
            fh.write(json.dumps({"prompt": p}) + "\n")
    out = subprocess.run([args.ternspec, "decode", "-m", args.model, "--draft", "none", "--prompts", req, "-n", str(args.tokens),
                          "--ignore-eos", "--parallel", "8", "--json"], check=True, capture_output=True, text=True).stdout
    results = json.loads(out)["requests"]
    with open(os.path.join(args.model, "tokenizer.json"), encoding="utf-8") as fh:
        tok = json.load(fh)
    enc = bpe.Encoder(tok)
    eot = next(a["id"] for a in tok["added_tokens"] if a["content"] == "<|endoftext|>")
    stream = []
    for p, r in zip(prompts, results):
        stream += enc.encode(p) + r["ids"] + [eot]
    np.save(os.path.join(args.work, "selfdistill.npy"), np.array(stream, dtype=np.uint16))
    json.dump({"prompts": len(prompts), "tokens": len(stream), "generated_per_prompt": args.tokens,
               "command": "train/make_selfdistill.py " + " ".join(sys.argv[1:])},
              open(os.path.join(args.work, "selfdistill.json"), "w"), indent=1)
    print(f"selfdistill: {len(prompts)} prompts, {len(stream)} tokens", flush=True)


if __name__ == "__main__":
    main()
