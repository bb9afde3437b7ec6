#!/usr/bin/env python3
"""Markdown tables for docs/suffix.md from the JSON scripts/suffix_compare.sh writes: ternspec against
ArcticInference per (workload, K), with the ratios the issue's goals are stated in, and the ablations."""
import json
import os
import sys

DOCS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "docs", "bench")


def rows(name):
    with open(os.path.join(DOCS, name)) as fh:
        return json.load(fh)["rows"]


def workload(r):
    return os.path.basename(r["streams"]).replace("streams-", "").replace(".jsonl", "")


def comparison_lines(name):
    rs = rows(name)
    arc = {(workload(r), r["k"]): r for r in rs if r["system"] == "arctic"}
    out = ["| workload | K | tree | τ ternspec | τ Arctic | τ ratio | accept ternspec | accept Arctic | Δ accept | propose µs ternspec | propose µs Arctic |",
           "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rs:
        if r["system"] != "ternspec":
            continue
        a = arc.get((workload(r), r["k"]))
        if a is None:
            out.append(f"| {workload(r)} | {r['k']} | {r['tree_nodes']} | {r['tau']:.3f} | | | {r['acceptance']:.3f} | | | {r['propose_us']:.2f} | |")
            continue
        out.append(f"| {workload(r)} | {r['k']} | {r['tree_nodes']} | {r['tau']:.3f} | {a['tau']:.3f} | {r['tau'] / a['tau']:.3f} | "
                   f"{r['acceptance']:.3f} | {a['acceptance']:.3f} | {r['acceptance'] - a['acceptance']:+.3f} | "
                   f"{r['propose_us']:.2f} | {a['propose_us']:.2f} |")
    return out


def comparison(name):
    print("\n".join(comparison_lines(name)))


def ablation():
    steps = [("SuffixDecoding's rules (every match length, count estimate, cap 1 × m)", "suffix-heldout-ablation-arctic-rules.json"),
             ("+ drafts continue through loops (overlap)", "suffix-heldout-ablation-overlap.json"),
             ("+ match prior 2 instead of the cap (defaults)", "suffix-heldout-chain.json")]
    cells = None
    table = []
    for label, f in steps:
        rs = {(workload(r), r["k"]): r for r in rows(f) if r["system"] == "ternspec"}
        cells = cells or list(rs)
        table.append((label, rs))
    print("| change | " + " | ".join(f"{w} K={k}" for w, k in cells) + " |")
    print("|---|" + "---|" * len(cells))
    for label, rs in table:
        print(f"| {label} | " + " | ".join(f"{rs[c]['tau']:.3f} / {rs[c]['acceptance']:.3f}" for c in cells) + " |")


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else "all"
    if what in ("all", "heldout"):
        comparison("suffix-heldout-chain.json")
    if what in ("all", "tree"):
        comparison("suffix-heldout-tree.json")
    if what in ("all", "tuning"):
        comparison("suffix-tuning-chain.json")
    if what in ("all", "ablation"):
        ablation()
