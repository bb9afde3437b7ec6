"""Writes the validation modules as one text, files joined by <|endoftext|> exactly as train_model.py
builds its validation stream, so `ternspec perplexity` scores the same tokens PyTorch did."""
import sys

import corpus

if __name__ == "__main__":
    out = sys.argv[1]
    _, val = corpus.split()
    parts = [t for t in (corpus.read_text(m) for m in val) if t is not None]
    with open(out, "w", encoding="utf-8") as fh:
        fh.write("".join(p + "<|endoftext|>" for p in parts))
    print(f"wrote {out}: {len(parts)} modules")
