#!/usr/bin/env python3
"""Builds bench/workloads/*.jsonl from the held-out validation modules (train/corpus.py), never from the
training split. Completion and repeated prompts are a module's first 420-600 characters; editing prompts are
a whole module's first 3,600 characters (about 950 tokens) and the start of its rewrite, which the shipped
model's 2,048-token context holds with room for the continuation.

  python3 scripts/make_workloads.py                   (stdlib only; deterministic)
  python3 scripts/make_workloads.py --held-out DIR    completion and editing prompts from the validation
                                                      modules the workloads do not use: for measuring
                                                      defaults chosen on bench/workloads (docs/suffix.md)
"""
import argparse
import json
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "train"))
import corpus  # noqa: E402

EDIT_CHARS = 3600
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench", "workloads")


def head(text, limit):
    """The text up to `limit` characters, cut at the end of a line."""
    cut = text[:limit]
    return cut[: cut.rfind("\n") + 1] if "\n" in cut else cut


def completion_rows(texts):
    """A module's head; continue it."""
    return [{"prompt": head(t, 600), "source": m, "kind": "completion"} for m, t in texts]


def editing_rows(texts):
    """A module (up to EDIT_CHARS characters), then the same module starting again with its most used
    identifier renamed; the model's continuation mostly copies the rest, which is where a drafter that reads
    the context pays."""
    editing = []
    for m, t in texts:
        block = head(t, EDIT_CHARS)
        names = [n for n in re.findall(r"\b([a-z_][a-z0-9_]{3,})\b", block) if n not in {"self", "return", "def", "class"}]
        if not names:
            continue
        old = max(sorted(set(names)), key=names.count)  # sorted: ties by name, not by hash order
        new = old + "_v2"
        edited = re.sub(r"\b%s\b" % re.escape(old), new, block)
        first = "".join(edited.splitlines(keepends=True)[:2])
        editing.append({"prompt": block + "\n\n# revised: %s renamed to %s\n" % (old, new) + first, "source": m, "kind": "editing"})
    return editing


def write(out, name, rows):
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, name + ".jsonl"), "w") as fh:
        for r in rows:
            fh.write(json.dumps(r) + "\n")
    print(f"{name}: {len(rows)} requests")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--held-out", metavar="DIR", help="write held-out completion and editing prompts here instead")
    args = ap.parse_args()
    _, val = corpus.split()
    texts = [(m, t) for m, t in ((m, corpus.read_text(m)) for m in val) if t and len(t) > 1500]
    if args.held_out:
        # The modules after the 35 the workloads use; both kinds from each.
        rest = texts[35:]
        write(args.held_out, "completion", completion_rows(rest))
        write(args.held_out, "editing", editing_rows(rest))
        return
    completion = completion_rows(texts[:16])
    editing = editing_rows(texts[16:30])
    # Repeated: the same heads again, cut at slightly different points, one request after another.
    repeated = []
    for m, t in texts[30:35]:
        for limit in (420, 470, 520):
            repeated.append({"prompt": head(t, limit), "source": m, "kind": "repeated"})
    for name, rows in (("completion", completion), ("editing", editing), ("repeated", repeated)):
        write(OUT, name, rows)


if __name__ == "__main__":
    main()
