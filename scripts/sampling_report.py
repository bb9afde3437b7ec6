#!/usr/bin/env python3
"""Markdown tables from docs/bench/sampling-*.json (scripts/bench_sampling.sh): per workload and drafter,
tau, acceptance and speed-up at each temperature, tau as a share of greedy tau, and one-hot drafts' tau.
scripts/bench_report.py puts them into docs/benchmarks.md; run alone, it prints them."""
import json
import os

DOCS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "docs", "bench")


def load(name):
    path = os.path.join(DOCS, name)
    if not os.path.exists(path):
        return {}
    with open(path) as fh:
        return {r["config"]["drafter"]: r for r in json.load(fh)["rows"]}


def tables():
    out = []
    for w in ("workloads", "heldout"):
        greedy = load(f"sampling-{w}-t0.json")
        if not greedy:
            continue
        out += ["", f"{'bench/workloads' if w == 'workloads' else 'held-out'} completion prompts", "",
                "| drafter | temperature | τ | acceptance | speed-up vs plain sampling | τ / greedy τ | one-hot drafts: τ, acceptance |",
                "|---|---:|---:|---:|---:|---:|---|"]
        for d in ("eagle", "mtp", "suffix"):
            for t in ("0", "0.3", "0.7", "1.0"):
                r = load(f"sampling-{w}-t{t}.json").get(d)
                if r is None:
                    continue
                oh = load(f"sampling-{w}-t{t}-onehot.json").get(d)
                share = r["tau"] / greedy[d]["tau"] if d in greedy else float("nan")
                ohs = f"{oh['tau']:.2f}, {100 * oh['acceptance_rate']:.1f}%" if oh else "(greedy)"
                out.append(f"| {d} k=4 | {t} | {r['tau']:.2f} | {100 * r['acceptance_rate']:.1f}% | "
                           f"{r['speedup_vs_none']:.2f}× | {100 * share:.0f}% | {ohs} |")
    return out


def share_range(drafters, temps, onehot=False):
    """min-max of tau at the given temperatures over greedy tau, in percent, across both prompt sets."""
    shares = []
    for w in ("workloads", "heldout"):
        greedy = load(f"sampling-{w}-t0.json")
        for t in temps:
            rows = load(f"sampling-{w}-t{t}{'-onehot' if onehot else ''}.json")
            shares += [rows[d]["tau"] / greedy[d]["tau"] for d in drafters if d in rows and d in greedy]
    return f"{100 * min(shares):.0f}–{100 * max(shares):.0f} %" if shares else "(not measured)"


def none_rate_range(temp):
    """min-max tokens/s of plain decoding (the none rows) at one temperature, across both prompt sets."""
    rates = [load(f"sampling-{w}-t{temp}.json").get("none", {}).get("tokens_per_s_median") for w in ("workloads", "heldout")]
    rates = [r for r in rates if r]
    return f"{min(rates):,.0f}–{max(rates):,.0f}" if rates else "(not measured)"


if __name__ == "__main__":
    print("\n".join(tables()))
