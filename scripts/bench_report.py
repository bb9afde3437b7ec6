#!/usr/bin/env python3
"""Writes docs/benchmarks.md from the JSON that the benchmark commands wrote into docs/bench/ (stdlib only).
Every figure in the page comes from those files; the commands that made them are listed with them."""
import glob
import json
import os

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
B = os.path.join(ROOT, "docs", "bench")


def forward_table(out, j, command):
    out += ["```sh", command, "```", "",
            f"Kernels: {j['kernels']}. Read bandwidth, measured in the same run: {j['read_bandwidth_gbs']:.1f} GB/s. "
            f"Packed weights read per forward: {j['weight_bytes'] / 1e6:.1f} MB. "
            f"Bandwidth bound for decode: {j['decode_bandwidth_bound_tokens_per_s']:.1f} tokens/s."
            + (f" Read passes ranged {min(j['read_bandwidth_runs_gbs']):.1f}–{max(j['read_bandwidth_runs_gbs']):.1f} GB/s."
               if j.get("read_bandwidth_runs_gbs") else ""), "",
            "| tokens per forward | ms (median) | tokens/s | weight GB/s | cost vs 1 token |", "|---:|---:|---:|---:|---:|"]
    for r in j["rows"]:
        out.append(f"| {r['tokens']} | {r['ms']:.2f} | {r['tokens_per_s']:.1f} | {r['achieved_gbs']:.1f} | {r['cost_vs_m1']:.2f} |")
    m1 = j["rows"][0]
    m8 = [r for r in j["rows"] if r["tokens"] == 8]
    out += ["", f"- Decode (1 token): {m1['tokens_per_s']:.1f} tokens/s, "
            f"{100 * m1['tokens_per_s'] / j['decode_bandwidth_bound_tokens_per_s']:.0f}% of the bandwidth bound (goal: 80%).",
            *( [f"- 8 tokens per forward cost {m8[0]['cost_vs_m1']:.2f}× one token (goal: ≤ 2.5×)."] if m8 else []),
            f"- Resident memory: {j['resident_vs_weights_plus_kv']:.2f}× (packed weights + KV cache) (goal: ≤ 1.15).", ""]


def forward_section(out):
    f = os.path.join(B, "forward-qwen3-1.7b.json")
    if not os.path.exists(f):
        return
    out += ["## Target forward cost, Qwen3-1.7B shape (synthetic, Q2_0 group 128)", "",
            "The bandwidth figure comes from a plain parallel read of 512 MB. Each repetition runs one read pass and "
            "then every batch size in turn, so drift on this shared machine touches the bound and every size alike; "
            "medians are reported, and the spread of the read passes is given with each table.", ""]
    forward_table(out, json.load(open(f)), "build/ternspec synth /tmp/qwen3-1.7b.gguf --shape qwen3-1.7b --type q2_0_g128\n"
                  "build/ternspec bench forward -m /tmp/qwen3-1.7b.gguf --tokens 1,2,4,8,16 --reps 7 --json > docs/bench/forward-qwen3-1.7b.json")
    f2 = os.path.join(B, "forward-qwen3-1.7b-avx2.json")
    if os.path.exists(f2):
        out += ["### The AVX2 path on the same machine", "",
                "The reference machine of this project has AVX2 only; this machine also has AVX-512 VNNI, which the "
                "runtime picks by itself. `TERNSPEC_KERNELS=avx2` caps it.", ""]
        forward_table(out, json.load(open(f2)), "TERNSPEC_KERNELS=avx2 build/ternspec bench forward -m /tmp/qwen3-1.7b.gguf "
                      "--tokens 1,2,4,8,16 --reps 7 --json > docs/bench/forward-qwen3-1.7b-avx2.json")


def spec_section(out):
    for f in sorted(glob.glob(os.path.join(B, "spec-*.json"))):
        j = json.load(open(f))
        name = os.path.basename(f)[5:-5]
        model = j["model"]
        out += [f"## Speculative decoding: `{os.path.basename(j['workload'])}` on `{model}`", "",
                "```sh", "build/" + j["command"] if "command" in j else (f"build/ternspec bench spec -m {model} --prompts {os.path.relpath(j['workload'], ROOT) if os.path.isabs(j['workload']) else j['workload']} "
                f"--draft {','.join(sorted({r['config']['drafter'] for r in j['rows'] if r['config']['drafter'] != 'none'}))} "
                f"-k {','.join(sorted({str(r['config']['k']) if r['config']['k'] else 'auto' for r in j['rows'] if r['config']['drafter'] != 'none'}))} "
                + (f"--tree {max(r['config']['tree'] for r in j['rows'])} " if any(r['config']['tree'] for r in j['rows']) else "")
                + f"-n {j['n_predict']} --reps {j['reps']} --json docs/bench/spec-{name}.json --plot docs/bench/spec-{name}.svg"),
                "```", "",
                f"{j['requests']} requests, {j['n_predict']} tokens each, greedy, {j['reps']} interleaved repetitions (median tokens/s). "
                f"Kernels: {j['kernels']}. Speed-up: each configuration runs between two runs of `none` in every repetition; "
                "the median over repetitions of its tokens/s against those two neighbours. "
                "The 7M model sits in cache and is compute-bound: no drafter can pay here; the measured speed-ups at "
                "real shapes are in the section above.", "",
                f"![per-position acceptance and speed-ups](bench/spec-{name}.svg)", "",
                "| drafter | τ | acceptance | per-position acceptance | tokens/s | speed-up | draft / verify time | matches none |",
                "|---|---:|---:|---|---:|---:|---:|:---:|"]
        for r in j["rows"]:
            c = r["config"]
            label = "none" if c["drafter"] == "none" else f"{c['drafter']} k={c['k'] or 'auto'}" + (f" tree={c['tree']}" if c["tree"] else "")
            pp = " ".join(f"{a:.2f}" for a in r["per_position_acceptance"][:8])
            sec = r["seconds"]
            dec = max(1e-9, sec["total"] - sec["prefill"])
            out.append(f"| {label} | {r['tau']:.2f} | {100 * r['acceptance_rate']:.1f}% | {pp} | {r['tokens_per_s_median']:.0f} | "
                       f"{r['speedup_vs_none']:.2f}× | {100 * sec['draft'] / dec:.0f}% / {100 * sec['verify'] / dec:.0f}% | "
                       f"{'yes' if r['matches_none'] else 'NO'} |")
        out.append("")


def replay_section(out):
    files = sorted(glob.glob(os.path.join(B, "replay-*.json")), key=lambda f: (
        ["1.7b", "4b", "8b"].index(os.path.basename(f).split("-")[2]) if os.path.basename(f).split("-")[2] in ("1.7b", "4b", "8b") else 9, f))
    if not files:
        return
    out += ["## Measured end to end at the Qwen3 shapes", "",
            "Synthetic ternary targets at Qwen3's published shapes with drafters at their real sizes, every stage run "
            "for real: the target's forward, the drafter's forward, verification, KV rollback, scheduling, the `-k auto` "
            "controller. Only which drafted tokens are accepted is borrowed, round by round, from the shipped 7M model "
            "and its trained drafters decoding the same prompts in lockstep with the same budget (`bench spec --replay`, "
            "`tools/ternspec/replay_drafter.hpp`). *Speed-up* is measured in the same run against plain decoding; "
            "*ceiling* is what the same acceptance would give if drafting were free (τ over the measured verification "
            "cost t(k+1)/t(1), with t(M) timed separately after the runs, so it moves with the machine's phase). "
            "*Without drafting* is the same run's speed-up with the drafter's seconds taken out: what the drafter "
            "costs is the gap between it and the measured speed-up. *Draft bytes* are the weight bytes the drafter "
            "reads per drafted token over the bytes of one target forward. Made by `scripts/bench_bonsai.sh`.", ""]
    for f in files:
        j = json.load(open(f))
        shape, workload = os.path.basename(f)[len("replay-qwen3-"):-5].split("-", 1)
        out += [f"### Qwen3-{shape.upper()} shape, `{workload}`", "", "```sh", "build/" + j["command"], "```", "",
                f"{j['requests']} requests, {j['n_predict']} tokens each, greedy, {j['reps']} interleaved repetitions. "
                f"Kernels: {j['kernels']}. Read bandwidth in the same run: {j['read_bandwidth_gbs']:.1f} GB/s "
                f"(passes: {', '.join(f'{b:.1f}' for b in j['read_bandwidth_runs_gbs'])}; see the note below the tables). "
                f"Target weights read per forward: {j['target_bytes_per_forward'] / 1e6:.0f} MB. "
                f"Acceptance: {j['acceptance_source']}.", "",
                f"t(M) for M = 1..{len(j.get('t_ms', []))}: {', '.join(f'{t:.1f}' for t in j.get('t_ms', []))} ms.", "",
                "| drafter | τ | acceptance | tokens/s | speed-up (measured) | without drafting (same run) | ceiling from t(M) | draft bytes / token vs target | draft / verify time | matches none |",
                "|---|---:|---:|---:|---:|---:|---:|---:|---:|:---:|"]
        for r in j["rows"]:
            c = r["config"]
            label = "none" if c["drafter"] == "none" else f"{c['drafter']} k={c['k'] or 'auto'}" + (f" tree={c['tree']}" if c["tree"] else "")
            sec = r["seconds"]
            dec = max(1e-9, sec["total"] - sec["prefill"])
            free = r["speedup_vs_none"] * dec / max(1e-9, dec - sec["draft"])
            acc = f"{100 * r['acceptance_rate']:.1f}%" if r["drafted"] else "–"
            out.append(f"| {label} | {r['tau']:.2f} | {acc} | {r['tokens_per_s_median']:.1f} | "
                       f"**{r['speedup_vs_none']:.2f}×** | {free:.2f}× | {r.get('ceiling_free_drafting', 0):.2f}× | "
                       f"{100 * r.get('draft_bytes_per_token_vs_target', 0):.1f}% | "
                       f"{100 * sec['draft'] / dec:.0f}% / {100 * sec['verify'] / dec:.0f}% | {'yes' if r['matches_none'] else 'NO'} |")
        out.append("")
    out += ["Known faults in the runs above (session 8), fixed in the code since, not yet re-measured:",
            "- `-k auto` with EAGLE or MTP drafted nothing (τ 1.00): a request's first drafting round carries the head's "
            "catch-up over the whole prompt, and the controller took that as the cost of each drafted token. The session "
            "now leaves that round out of what the controller learns.",
            "- The read-bandwidth probe, kept across the run, read at 2–4 GB/s on its later passes while plain decoding "
            "still streamed 484 MB per token at 62 tokens/s (30 GB/s): only its first pass is credible. It now takes a "
            "fresh buffer each repetition.", ""]


def serve_section(out):
    for f in sorted(glob.glob(os.path.join(B, "serve-*.json"))):
        j = json.load(open(f))
        out += [f"## Serving several requests: `{os.path.basename(j['prompts'])}` on `{j['model']}`", "",
                "```sh", "build/" + j["command"], "```", "",
                f"{j['requests']} requests, {j['n_predict']} tokens each, k = {j['k']}, greedy, {j['reps']} interleaved repetitions "
                f"(throughput: output tokens over wall time; ratios are medians of per-repetition ratios). *Batched*: {j['parallel']} requests at a time, one target "
                "forward per round for all of them. *Overlap*: the two halves take turns, one drafting while the target "
                "verifies the other.", "",
                "| drafter | serving | τ | tokens/s | vs none, one at a time | vs same drafter, one at a time | overlap vs batched | outputs match |",
                "|---|---|---:|---:|---:|---:|---:|---|"]
        for r in j["rows"]:
            out.append(f"| {r['drafter']} | {r['serving']} | {r['tau']:.2f} | {r['median_tokens_per_s']:.1f} | "
                       f"{r['speedup_vs_none']:.2f}× | {r['speedup_vs_one_at_a_time']:.2f}× | "
                       f"{(format(r['speedup_vs_batched'], '.2f') + '×') if r['serving'] == 'batched+overlap' else ''} | "
                       f"{'yes' if r['lossless'] else 'NO'} |")
        out.append("")


def main():
    out = ["# Benchmarks", "",
           "Measured on this project's 2-core x86-64 machine (AMD EPYC; AVX2, and on the current machine also AVX-512 VNNI), a shared and noisy machine. Speed-ups are",
           "ratios taken within one run. This page is generated by `scripts/bench_report.py` from `docs/bench/*.json`.", ""]
    forward_section(out)
    replay_section(out)
    spec_section(out)
    serve_section(out)
    tok = os.path.join(B, "tokenizer.txt")
    if os.path.exists(tok):
        out += ["## Tokenizer encode speed (one core)", "", "```sh", "taskset -c 1 build/bench/bench_tokenizer --benchmark_min_time=2", "```", "", "```"] + \
               open(tok).read().strip().splitlines() + ["```", ""]
    with open(os.path.join(ROOT, "docs", "benchmarks.md"), "w") as fh:
        fh.write("\n".join(out) + "\n")
    print("wrote docs/benchmarks.md")


if __name__ == "__main__":
    main()
