"""Byte-level BPE: training on the corpus and encoding, written as a standard tokenizer.json.

Pre-tokenisation uses Qwen2's split regex and GPT-2's byte-to-unicode mapping, so the file is read by
ternspec's tokenizer (and Hugging Face's) exactly like Qwen3's own tokenizer.json.
"""
import collections
import heapq
import json
import unicodedata

import regex

QWEN2_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
                 r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
_SPLIT = regex.compile(QWEN2_PATTERN)


def bytes_to_unicode():
    """GPT-2's reversible map from the 256 byte values to printable characters."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    chars = keep[:]
    extra = 0
    for b in range(256):
        if b not in keep:
            keep.append(b)
            chars.append(256 + extra)
            extra += 1
    return {b: chr(c) for b, c in zip(keep, chars)}


BYTE_TO_CHAR = bytes_to_unicode()


def pretokenize(text):
    text = unicodedata.normalize("NFC", text)
    for piece in _SPLIT.findall(text):
        yield "".join(BYTE_TO_CHAR[b] for b in piece.encode("utf-8"))


def train(texts, vocab_size, log=print):
    """Learn merges until the base 256 symbols plus merges reach vocab_size."""
    word_freq = collections.Counter()
    for t in texts:
        word_freq.update(pretokenize(t))
    words = [list(w) for w in word_freq]
    freqs = [word_freq[w] for w in word_freq]
    log(f"bpe: {sum(freqs)} pre-tokens, {len(words)} distinct")

    pair_count = collections.Counter()
    pair_words = collections.defaultdict(set)
    for i, w in enumerate(words):
        for a, b in zip(w, w[1:]):
            pair_count[(a, b)] += freqs[i]
            pair_words[(a, b)].add(i)
    # Ties break on the pair itself so that training is deterministic.
    heap = [(-c, p) for p, c in pair_count.items()]
    heapq.heapify(heap)

    vocab = [BYTE_TO_CHAR[b] for b in range(256)]
    merges = []
    while len(vocab) < vocab_size and heap:
        neg, pair = heapq.heappop(heap)
        if pair_count.get(pair, 0) != -neg:
            continue
        if -neg < 2:
            break
        a, b = pair
        merged = a + b
        merges.append(pair)
        vocab.append(merged)
        for i in list(pair_words[pair]):
            w = words[i]
            f = freqs[i]
            j = 0
            new = []
            while j < len(w):
                if j + 1 < len(w) and w[j] == a and w[j + 1] == b:
                    new.append(merged)
                    j += 2
                else:
                    new.append(w[j])
                    j += 1
            changed = collections.Counter()
            for x, y in zip(w, w[1:]):
                changed[(x, y)] -= f
            for x, y in zip(new, new[1:]):
                changed[(x, y)] += f
            for p, d in changed.items():
                if d == 0:
                    continue
                pair_count[p] += d
                if pair_count[p] <= 0:
                    del pair_count[p]
                else:
                    heapq.heappush(heap, (-pair_count[p], p))
                if d > 0:
                    pair_words[p].add(i)
            words[i] = new
        del pair_count[pair]
        pair_words.pop(pair, None)
        if len(merges) % 1000 == 0:
            log(f"bpe: {len(merges)} merges, last {merged!r} x{-neg}")
    return vocab, merges


def tokenizer_json(vocab, merges):
    ids = {tok: i for i, tok in enumerate(vocab)}
    added = [{"id": len(vocab) + k, "content": s, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": True} for k, s in enumerate(SPECIAL_TOKENS)]
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": {"type": "NFC"},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": QWEN2_PATTERN}, "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}]},
        "post_processor": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False},
        "decoder": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
                  "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": ids, "merges": [f"{a} {b}" for a, b in merges]},
    }


class Encoder:
    """Encodes text with a tokenizer.json written by this module (special tokens are not parsed)."""

    def __init__(self, tok):
        self.vocab = tok["model"]["vocab"]
        self.ranks = {tuple(m.split(" ")): r for r, m in enumerate(tok["model"]["merges"])}
        self.cache = {}

    def encode_word(self, word):
        hit = self.cache.get(word)
        if hit is not None:
            return hit
        parts = list(word)
        while len(parts) > 1:
            best, best_rank = -1, None
            for i in range(len(parts) - 1):
                r = self.ranks.get((parts[i], parts[i + 1]))
                if r is not None and (best_rank is None or r < best_rank):
                    best, best_rank = i, r
            if best < 0:
                break
            parts[best:best + 2] = [parts[best] + parts[best + 1]]
        ids = [self.vocab[p] for p in parts]
        self.cache[word] = ids
        return ids

    def encode(self, text):
        out = []
        for w in pretokenize(text):
            out.extend(self.encode_word(w))
        return out


if __name__ == "__main__":
    import argparse
    import time

    import corpus

    ap = argparse.ArgumentParser(description="Train the byte-level BPE tokenizer on the stdlib training split.")
    ap.add_argument("--vocab-size", type=int, default=8192, help="base bytes + merges (special tokens come after)")
    ap.add_argument("--out", required=True, help="tokenizer.json to write")
    args = ap.parse_args()
    t0 = time.time()
    train_mods, _ = corpus.split()
    texts = [t for t in (corpus.read_text(m) for m in train_mods) if t is not None]
    vocab, merges = train(texts, args.vocab_size)
    with open(args.out, "w", encoding="utf-8") as fh:
        json.dump(tokenizer_json(vocab, merges), fh, ensure_ascii=False)
    print(f"bpe: wrote {args.out}: {len(vocab)} tokens + {len(SPECIAL_TOKENS)} special, {time.time() - t0:.0f}s")
