#!/usr/bin/env python3
"""Writes docs/benchmarks.md from the JSON that the benchmark commands wrote into docs/bench/ (stdlib only).
Every figure in the page comes from those files; the commands that made them are listed with them."""
import glob
import json
import re
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
B = os.path.join(ROOT, "docs", "bench")
# Sections whose JSON predates session 12's models (the 2,048-token tern-pystd-7m and its fine-tuned drafters):
# said where they are printed, until they are re-run.
PREVIOUS_MODELS = ("*Not re-run for session 12's models*: these figures are of the 512-token `tern-pystd-7m` and "
                   "its drafters before the 2,048-token model and the fine-tuned drafters replaced them (and, for "
                   "editing, of the 420-character editing blocks before whole-module prompts).")


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
            label, sec, dec = row_label(r), r["seconds"], decode_seconds(r)
            pp = " ".join(f"{a:.2f}" for a in r["per_position_acceptance"][:8])
            out.append(f"| {label} | {r['tau']:.2f} | {100 * r['acceptance_rate']:.1f}% | {pp} | {r['tokens_per_s_median']:.0f} | "
                       f"{r['speedup_vs_none']:.2f}× | {100 * sec['draft'] / dec:.0f}% / {100 * sec['verify'] / dec:.0f}% | "
                       f"{'yes' if r['matches_none'] else 'NO'} |")
        out.append("")


def row_label(r):
    """"none", "suffix k=3", "eagle k=auto tree=8": a bench spec row's configuration."""
    c = r["config"]
    if c["drafter"] == "none":
        return "none"
    return f"{c['drafter']} k={c['k'] or 'auto'}" + (f" tree={c['tree']}" if c["tree"] else "")


def decode_seconds(r):
    """A row's seconds after prefill (the decode phase the speed-ups are about)."""
    return max(1e-9, r["seconds"]["total"] - r["seconds"]["prefill"])


def replay_file(f):
    """replay-<model>-<shape>-<workload>.json -> (model, shape, workload); model is qwen3 or qwen3.5."""
    m = re.match(r"replay-(qwen3(?:\.5)?)-([^-]+)-(.+)\.json$", os.path.basename(f))
    return m.groups() if m else (None, None, None)


def replay_rows(out, f, title):
    j = json.load(open(f))
    out += [f"### {title}", "", "```sh", "build/" + j["command"], "```", "",
            f"{j['requests']} requests, {j['n_predict']} tokens each, greedy, {j['reps']} interleaved repetitions. "
            f"Kernels: {j['kernels']}. Read bandwidth in the same run: {j['read_bandwidth_gbs']:.1f} GB/s "
            f"(passes: {', '.join(f'{b:.1f}' for b in j['read_bandwidth_runs_gbs'])}; see the note below the tables). "
            f"Target weights read per forward: {j['target_bytes_per_forward'] / 1e6:.0f} MB. "
            f"Acceptance: {j['acceptance_source']}.", "",
            f"t(M) for M = 1..{len(j.get('t_ms', []))}: {', '.join(f'{t:.1f}' for t in j.get('t_ms', []))} ms.", "",
            "| drafter | τ | acceptance | tokens/s | speed-up (measured) | without drafting (same run) | ceiling from t(M) | draft bytes / token vs target | draft / verify time | matches none |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|:---:|"]
    for r in j["rows"]:
        label, sec, dec = row_label(r), r["seconds"], decode_seconds(r)
        free = r["speedup_vs_none"] * dec / max(1e-9, dec - sec["draft"])
        acc = f"{100 * r['acceptance_rate']:.1f}%" if r["drafted"] else "–"
        out.append(f"| {label} | {r['tau']:.2f} | {acc} | {r['tokens_per_s_median']:.1f} | "
                   f"**{r['speedup_vs_none']:.2f}×** | {free:.2f}× | {r.get('ceiling_free_drafting', 0):.2f}× | "
                   f"{100 * r.get('draft_bytes_per_token_vs_target', 0):.1f}% | "
                   f"{100 * sec['draft'] / dec:.0f}% / {100 * sec['verify'] / dec:.0f}% | {'yes' if r['matches_none'] else 'NO'} |")
    out.append("")


def hybrid_replay_section(out):
    files = sorted(f for f in glob.glob(os.path.join(B, "replay-*.json")) if replay_file(f)[0] == "qwen3.5")
    if not files:
        return
    out += ["## Speculation measured end to end on the hybrid target (Qwen3.5, Bonsai 2's 4B shape)", "",
            "As the Qwen3 runs below: a synthetic ternary target at the 4B shape with drafters at their real sizes "
            "(a ternary EAGLE-3 head of the published shape, three MTP modules), every stage run for real, the "
            "recurrent state's rollback by replay (chains) and per-row states with the accepted path replayed "
            "(trees) included; which drafted tokens are accepted is borrowed round by round from the shipped hybrid "
            "(`tern-pystd-hybrid`) and its trained drafters decoding the same prompts. Made by "
            "`scripts/bench_bonsai_hybrid.sh`.", ""]
    for f in files:
        _, shape, workload = replay_file(f)
        replay_rows(out, f, f"Qwen3.5-{shape.upper()} shape, `{workload}`")


def replay_section(out):
    files = sorted((f for f in glob.glob(os.path.join(B, "replay-*.json")) if replay_file(f)[0] == "qwen3"), key=lambda f: (
        ["1.7b", "4b", "8b"].index(replay_file(f)[1]) if replay_file(f)[1] in ("1.7b", "4b", "8b") else 9, f))
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
        _, shape, workload = replay_file(f)
        replay_rows(out, f, f"Qwen3-{shape.upper()} shape, `{workload}`")
    out += ["These runs are session 9's, after two faults the session-8 runs had were fixed: `-k auto` with EAGLE or "
            "MTP drafted nothing (the first drafting round carries the head's catch-up over the prompt, and the "
            "controller took it as a per-token cost; that round is now left out of what it learns), and the read-"
            "bandwidth probe's later passes read 2–4 GB/s (it now takes a fresh buffer each repetition). The suffix "
            "drafter changed in the same session (`docs/suffix.md`), so its rows differ from session 8's. The 4B "
            "completion and the 8B runs shared the machine, for part of their time, with a compile at nice 19 "
            "(interleaved ratios absorb slow drift, not all of such contention).", "", PREVIOUS_MODELS, ""]


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


def sampling_section(out):
    import sampling_report as sr
    tables = sr.tables()
    if not tables:
        return
    out += ["## Speculative sampling: soft drafts (`models/tern-pystd-7m`, completion prompts)", "",
            "```sh", "scripts/bench_sampling.sh   # writes docs/bench/sampling-*.json", "```", "",
            "Each temperature is one `bench spec` run (`-n 96 -k 4 --seed 3 --reps 3`, 2 threads; every drafter "
            "interleaved with plain sampling at the same settings, speed-up the median of the ratios); one-hot drafts "
            "(`--draft-opt soft_drafts=0`, the behaviour before #25) are a second run at the same temperature. Top-k, "
            "top-p and min-p off."] + tables + [
            "",
            "- EAGLE and MTP draw their drafts from their own distribution, processed as the target's is, and "
            "verification uses it (speculative sampling; recursive rejection sampling over a tree's draws). At "
            f"temperature 0.7 their τ is {sr.share_range(('eagle', 'mtp'), ('0.7',))} of their greedy τ (goal: 75 %), "
            f"against {sr.share_range(('eagle', 'mtp'), ('0.7',), onehot=True)} with one-hot drafts; at 1.0, "
            f"{sr.share_range(('eagle', 'mtp'), ('1.0',))}. The emitted distribution is tested at depths 1–4 "
            "(`tests/test_sampling.cpp`).",
            "- The suffix drafter stays one-hot (its counts are not a model of the target's distribution): its τ "
            f"falls to {sr.share_range(('suffix',), ('0.7', '1.0'))} of greedy at 0.7–1.0.",
            "- Speed-ups stay below 1 for EAGLE and MTP on this 7M model at every temperature, greedy included: the "
            "model is compute-bound and drafting takes about half of each round (see the Qwen3-shape section). In these "
            f"runs plain sampling at 0.7 decodes {sr.none_rate_range('0.7')} tokens/s against greedy's "
            f"{sr.none_rate_range('0')} (the `none` rows of `sampling-*-t0.7.json` and `-t0.json`).",
            "- Not measured: sampling at the Qwen3 shapes. Each expanded draft node carries a dense distribution over "
            "the target's vocabulary (600 KB at Qwen3's 151,936 ids), written once and read by verification.", ""]


def http_section(out):
    f = os.path.join(B, "serve_http-completion.json")
    if not os.path.exists(f):
        return
    j = json.load(open(f))
    out += ["## `ternspec serve` over HTTP: `completion.jsonl` on `models/tern-pystd-7m`", "",
            "```sh", j["command"], "```", "",
            f"One server (`ternspec {' '.join(j['serve'])}`, a child of the benchmark), the prompts served once per "
            f"configuration by 1, 4 or 16 streaming clients (threads of the benchmark, on the same {j.get('cpus', '?')} "
            f"cores), greedy, {j['max_tokens']} tokens each; configurations interleaved in each of {j['reps']} "
            "repetitions, medians. Tokens/s counts the completion tokens of the usage chunks over the wall time; TTFT "
            "is from sending the request to the first text chunk; ITL per request is (last chunk − first chunk) / "
            "(tokens − 1).", "",
            "| clients | speculation | tokens/s | vs none | TTFT p50 ms | TTFT p99 ms | ITL p50 ms | ITL p99 ms |",
            "|---:|---|---:|---:|---:|---:|---:|---:|"]
    for r in j["rows"]:
        none = next(x for x in j["rows"] if x["clients"] == r["clients"] and x["speculative"]["draft"] == "none")
        sp = r["speculative"]
        label = "none" if sp["draft"] == "none" else f"{sp['draft']} k={sp['k']}"
        out.append(f"| {r['clients']} | {label} | {r['tokens_per_s']:.1f} | {r['tokens_per_s'] / none['tokens_per_s']:.2f}× | "
                   f"{r['ttft_ms_p50']:.1f} | {r['ttft_ms_p99']:.1f} | {r['itl_ms_p50']:.2f} | {r['itl_ms_p99']:.2f} |")
    out += ["", "- The 7M model is compute-bound and fast: at one client tokens arrive faster than the client reads them, "
            "so several land in one read and the ITL there understates the pace. With 16 clients all prefills share "
            "the first rounds, hence the long TTFT for everyone.", "- Not measured: the server at the Qwen3 shapes.", ""]


def suffix_section(out):
    if not os.path.exists(os.path.join(B, "suffix-heldout-chain.json")):
        return
    import suffix_report
    out += ["## Suffix drafter against ArcticInference's SuffixDecoding", "",
            "Replayed on the same recorded greedy streams of the shipped model (held-out prompts; "
            "`scripts/suffix_compare.sh`); the method, the tuning streams, the ablations and the per-call costs are in "
            "`docs/suffix.md`.", "", PREVIOUS_MODELS, ""] + suffix_report.comparison_lines("suffix-heldout-chain.json") + [""]


# int8 multiply-accumulates per second per core the machine's VPDPBUSD reaches (measured, developers' guide and
# docs/packed-layout.md), for the roofline of multi-token forwards.
PEAK_MACS_PER_CORE = 198e9


def hybrid_section(out):
    f = os.path.join(B, "hybrid-4b.json")
    if not os.path.exists(f):
        return
    j = json.load(open(f))
    t = j["ternspec"]
    out += ["## Hybrid target (Qwen3.5, Bonsai 2's 4B shape; synthetic ternary weights)", "",
            "Gated DeltaNet and gated attention layers (24 + 8) at the 4B shape Bonsai 2 reports, random ternary "
            "weights (the cost does not depend on their values), 2 threads. ternspec and llama.cpp (npm "
            "`node-llama-cpp` 3.21.1's prebuilt CPU build) alternate on the same TQ2_0 file, "
            f"{j['reps']} rounds; medians. Bytes per forward count the packed weights, the float GDN matrices and the "
            "recurrent state read and written back once.", "",
            "```sh", "scripts/bench_hybrid.sh /tmp/ternspec-synth 3   # writes docs/bench/hybrid-4b.json", "```", "",
            "| file | bytes/forward | read GB/s | M=1 ms | M=2 | M=4 | M=8 | M=16 |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    names = {"tq2_0": "TQ2_0", "pq2_0": "PQ2_0", "ptq1_0": "PTQ1_0", "rot": "PQ2_0, Hadamard-rotated (block 512)"}
    for v, r in t.items():
        rows = r["rows"]
        out.append(f"| {names[v]} | {r['bytes_per_forward'] / 1e6:.0f} MB | {r['read_bandwidth_gbs']:.1f} | "
                   + " | ".join(f"{rows[str(m)]['ms']:.1f}" for m in (1, 2, 4, 8, 16)) + " |")
    r = t["tq2_0"]
    bytes_s = r["bytes_per_forward"] / (r["read_bandwidth_gbs"] * 1e9)
    macs = (r["bytes_per_forward"] - 2 * r["recurrent_state_bytes"]) * 4  # ~4 ternary weights per packed byte
    out += ["", "Against the roofline max(bytes ÷ bandwidth, MACs ÷ peak), with the peak "
            f"{2 * PEAK_MACS_PER_CORE / 1e9:.0f} G int8 MAC/s of two cores and about four weights per packed byte (TQ2_0):", "",
            "| tokens | ms | roofline ms | share of the roofline |", "|---:|---:|---:|---:|"]
    for m in (1, 2, 4, 8, 16):
        roof = max(bytes_s, m * macs / (2 * PEAK_MACS_PER_CORE)) * 1e3
        ms = r["rows"][str(m)]["ms"]
        out.append(f"| {m} | {ms:.1f} | {roof:.1f} | {100 * roof / ms:.0f}% |")
    lc = j["llama_cpp"]
    out += ["", f"- Decode: ternspec {r['rows']['1']['ms']:.1f} ms against llama.cpp {lc['decode_ms']:.1f} ms on the same "
            f"file: **{j['tq2_0_vs_llama_cpp']['decode']:.2f}×**. An 8-token forward: {r['rows']['8']['ms']:.1f} ms against "
            f"{lc['forward_8_ms']:.1f} ms: **{j['tq2_0_vs_llama_cpp']['forward_8']:.2f}×**.",
            f"- Decode reads its bytes faster than the 512 MB read probe measured ({r['decode_share_of_bound']:.2f}× the "
            "bound the probe gives): the probe is a lower estimate of the bandwidth here, not the forward above a bound.",
            "- The file's type changes its size, not the speed: ternspec repacks every ternary type into one packed "
            "layout at load, so PTQ1_0 (1.75 bits on disk) decodes as fast as PQ2_0, not faster.",
            f"- The Hadamard rotation costs {100 * (t['rot']['rows']['1']['ms'] / t['pq2_0']['rows']['1']['ms'] - 1):.0f}% "
            "at decode (a fast Walsh-Hadamard transform on each activation row before it is quantised).",
            "- Multi-token forwards fall short of the roofline (goal 85%). Profiled at M = 8 (`perf record` on `bench "
            "forward --tokens 8 -t 1`, the 4B TQ2_0 file, load excluded; session 14): the ternary matmul tile 68% of "
            "the time, the gated delta rule 11% (an AVX2 kernel since session 14, run head by head so a head's state "
            "stays in cache across the call's tokens), the rest of the Gated DeltaNet layer (conv, norms, gates) about "
            "8%, the bandwidth probe 4%. The recurrence is work the roofline does not count (it grows with M while the "
            "weights are read once), so the share cannot reach the Qwen3 target's 85% without shrinking it further.", "",
            "Rolling back a verification round (keeping half its tokens, replayed from the state the round started "
            "from) against copying the whole recurrent state once, which a snapshot scheme pays every round before "
            "the forward (vLLM keeps N + 1 snapshots):", "",
            "| round tokens | kept | replay ms | one state copy ms |", "|---:|---:|---:|---:|"]
    for m, x in sorted(r.get("rollback", {}).items(), key=lambda kv: int(kv[0])):
        out.append(f"| {m} | {x['kept']} | {x['replay_ms']:.1f} | {x['state_copy_ms']:.1f} |")
    out.append("")
    f9, l9 = os.path.join(B, "forward-qwen3.5-9b.json"), os.path.join(B, "hybrid-9b-llama.json")
    if os.path.exists(f9) and os.path.exists(l9):
        a, b = json.load(open(f9)), json.load(open(l9))
        rows = {x["tokens"]: x["ms"] for x in a["rows"]}
        bound = a["weight_bytes"] / (a["read_bandwidth_gbs"] * 1e9) * 1e3
        out += ["At the 9B shape (one run each, back to back rather than interleaved: a single measurement):", "",
                "```sh", "build/ternspec synth /tmp/h9b.gguf --shape qwen3.5-9b --type tq2_0",
                "build/ternspec bench forward -m /tmp/h9b.gguf --tokens 1,8 --reps 3 --threads 2 --json -o docs/bench/forward-qwen3.5-9b.json",
                "node tests/llama_ref/llama_forward.mjs /tmp/h9b.gguf 2 3 8", "```", "",
                f"- ternspec: decode {rows[1]:.1f} ms ({a['weight_bytes'] / 1e6:.0f} MB a forward; the probe's bound "
                f"{bound:.1f} ms at {a['read_bandwidth_gbs']:.1f} GB/s), an 8-token forward {rows[8]:.1f} ms; llama.cpp: "
                f"{b['decode_ms']:.1f} and {b['forward_m_ms']:.1f} ms: **{b['decode_ms'] / rows[1]:.2f}×** and "
                f"**{b['forward_m_ms'] / rows[8]:.2f}×**.", ""]


def llama_lookup_section(out):
    f = os.path.join(B, "llama-lookup.json")
    if not os.path.exists(f):
        return
    j = json.load(open(f))
    out += ["## llama.cpp's own speculation on the hybrid target", "",
            "node-llama-cpp 3.21.1 exposes llama.cpp speculation as token predictors: `InputLookupTokenPredictor` "
            "(prompt-lookup drafts verified by the model), measured here, and `DraftSequenceTokenPredictor` (a draft "
            "model; not measured: no small model shares these vocabularies but ternspec's heads, which llama.cpp runs "
            "as EAGLE-3, not as a draft sequence). On the same prompts, "
            "greedy, one thread, the shipped 7M models (compute-bound: the speed ratios say little about large models; "
            f"whether the text stays the same is the point). Prompts: {j['prompts']}.", "",
            "```sh", j["command"], "```", "",
            "| model | llama.cpp lookup: speed vs plain | predictions validated / refuted / used | same text as plain | ternspec n-gram k=3 | ternspec suffix k=3 | same text |",
            "|---|---:|---|:---:|---:|---:|:---:|"]
    for name, m in j["models"].items():
        l, t = m["llama_cpp_lookup"], m["ternspec"]
        p = l["predictions"]
        same = "yes" if l["same_text"] else f"**no** ({l['texts_differing']} of 4 differ)"
        ours = "yes" if all(x["matches_none"] for x in t.values()) else "NO"
        out.append(f"| {name} | {l['lookup_speedup']:.2f}× | {p['validated']} / {p['refuted']} / {p['used']} | {same} | "
                   f"{t['ngram']['speedup']:.2f}× (τ {t['ngram']['tau']:.2f}) | {t['suffix']['speedup']:.2f}× (τ {t['suffix']['tau']:.2f}) | {ours} |")
    out.append("")


def prefix_cache_section(out):
    files = sorted(glob.glob(os.path.join(B, "prefix-cache-ttft-*.json")))
    if not files:
        return
    out += ["## Prefix cache: time to first token", "",
            "`ternspec serve` with `--cache-mb 0` and `--cache-mb 256`, one slot: requests sharing a prefix of token ids and "
            "differing in a short tail, streamed; the first request finds nothing cached, the later ones reuse the shared "
            "prefix. One run per model (medians over the later requests).", "",
            "| model | shared + new tokens | first request | later, cache off | later, cache on | ratio | cached tokens |",
            "|---|---|---:|---:|---:|---:|---:|"]
    cmds = []
    for f in files:
        j = json.load(open(f))
        off, on = j["configurations"]["cache_mb_0"], j["configurations"]["cache_mb_256"]
        cached = sorted({x["cached_tokens"] for x in on["later_requests"]})
        out.append(f"| {j['model']} | {j['shared_tokens']} + {j['tail_tokens']} | {on['first_request']['seconds'] * 1e3:.0f} ms | "
                   f"{off['later_median_seconds'] * 1e3:.0f} ms | {on['later_median_seconds'] * 1e3:.1f} ms | "
                   f"{j['ttft_ratio_cache_off_over_on']:.1f}× | {', '.join(map(str, cached))} |")
        cmds.append(j["command"])
    out += ["", "```sh"] + cmds + ["```", ""]


def json_mask_section(out):
    f = os.path.join(B, "json-mask.json")
    if not os.path.exists(f):
        return
    j = json.load(open(f))
    out += ["## Structured output: the token mask per verified row", "",
            "`JsonTokenMask::apply` over a whole vocabulary in four document states (one thread, medians of 3 repetitions): "
            "a walk over a byte trie of the vocabulary, where a prefix the document rejects rules out every token below it "
            "and, inside a free string, subtrees of plain text are taken whole. Sampled verification masks each verified row; "
            "greedy verification first asks whether the row's argmax may follow (`admit`, on a copy of the state) and masks "
            "the row only when it may not.", "",
            "```sh", "build/bench/bench_json_mask --benchmark_format=json --benchmark_repetitions=3 "
            "--benchmark_report_aggregates_only=true > docs/bench/json-mask.json", "```", "",
            "| operation | state | vocabulary | tokens allowed | ms per row |", "|---|---|---:|---:|---:|"]
    for b in j["benchmarks"]:
        if b.get("aggregate_name") != "median":
            continue
        op, name = b["run_name"].split("/", 1)
        ms = b["real_time"] / (1e3 if b.get("time_unit") == "us" else 1)
        vocab = f"{int(b['vocab'])}" if "vocab" in b else "151669" if name.startswith("qwen3") else "8195"
        allowed = f"{int(b['allowed'])}" if "allowed" in b else "-"
        out.append(f"| {op} | {name} | {vocab} | {allowed} | {ms:.4f} |")
    out.append("")
    schema = sorted(glob.glob(os.path.join(B, "spec-json-schema-*.json")))
    free = sorted(glob.glob(os.path.join(B, "spec-json-free-*.json")))
    if not schema or not free:
        return
    def rows(files):
        by = {}
        for fn in files:
            for r in json.load(open(fn))["rows"]:
                by.setdefault(row_label(r), []).append(r)
        return by
    s_rows, f_rows = rows(schema), rows(free)
    first = json.load(open(schema[0]))
    out += ["## Structured output: speculation's speed-up under a JSON schema", "",
            f"`bench spec` on the same {first['requests']} prompts (`bench/workloads/json.jsonl`, Python sources where a "
            "JSON-like literal comes next), the shipped 7M model, greedy, -n 96: once with "
            "`--json-schema-file bench/workloads/json-schema-package.json` (every configuration, plain decoding too, writes "
            "the same constrained document) and once without; runs alternate (schema, free, schema, free), each speed-up "
            "taken within its run against plain decoding, the median of the runs' medians shown. *Kept* is the "
            "schema's speed-up over the free one. *Pruned*: draft nodes dropped before the forward because the "
            "document could not take them. The 7M model writes poor JSON (long whitespace runs); the drafters' "
            "acceptance on that text, not the constraint's cost, is what moves most of these ratios. Made by "
            "`scripts/bench_json.sh`.", "",
            "| configuration | free: speed-up (τ) | schema: speed-up (τ) | kept | pruned per round | outputs equal plain |",
            "|---|---:|---:|---:|---:|:---:|"]
    import statistics
    for name, rs in s_rows.items():
        if name == "none" or name not in f_rows:
            continue
        fs = f_rows[name]
        sp_s = statistics.median(r["speedup_vs_none"] for r in rs)
        sp_f = statistics.median(r["speedup_vs_none"] for r in fs)
        tau_s = statistics.median(r["tau"] for r in rs)
        tau_f = statistics.median(r["tau"] for r in fs)
        pruned = statistics.median(r.get("pruned", 0) / max(1, r["target_forwards"]) for r in rs)
        equal = "yes" if all(r["matches_none"] for r in rs + fs) else "NO"
        out.append(f"| {name} | {sp_f:.2f}× ({tau_f:.2f}) | {sp_s:.2f}× ({tau_s:.2f}) | {100 * sp_s / sp_f:.0f}% | "
                   f"{pruned:.2f} | {equal} |")
    out.append("")
    ds = sorted(glob.glob(os.path.join(B, "decode-json-1.7b-schema-*.json")))
    df = sorted(glob.glob(os.path.join(B, "decode-json-1.7b-free-*.json")))
    if ds and df:
        def tps(fn):
            j = json.load(open(fn))
            return j["rows"][0]["tokens_per_s_median"], j["read_bandwidth_gbs"], j["command"]
        out += ["### The cost per decode step at the Qwen3-1.7B shape", "",
                "Plain greedy decoding of the synthetic 1.7B-shape target (Qwen3's 151,669-token vocabulary, random "
                "ternary weights) on the same prompts, -n 24, with and without the schema, runs alternating. A step "
                "masks its whole row only when the target's argmax may not follow; how often that happened was not "
                "counted, but the table above bounds a masked row at 0.1-0.5 ms. The read bandwidth of each run is "
                "beside it: the machine's phase moves tokens/s more than the mask does.", "",
                "| run | tokens/s | read GB/s |", "|---|---:|---:|"]
        cmds = []
        for a, b in zip(ds, df):
            for fn, kind in ((a, "schema"), (b, "free")):
                t, bw, cmd = tps(fn)
                out.append(f"| {kind} ({os.path.basename(fn)}) | {t:.1f} | {bw:.1f} |")
                cmds.append("build/" + cmd)
        ms = statistics.median(1e3 / tps(fn)[0] for fn in ds) - statistics.median(1e3 / tps(fn)[0] for fn in df)
        step = statistics.median(1e3 / tps(fn)[0] for fn in df)
        out += ["", f"Median step: {step:.2f} ms free; with the schema the median step differs by {ms:+.2f} ms "
                f"({100 * ms / step:+.1f}%), within the runs' spread.",
                "", "```sh"] + cmds + ["```", ""]


def main():
    out = ["# Benchmarks", "",
           "Measured on this project's 2-core x86-64 machine (AMD EPYC; AVX2, and on the current machine also AVX-512 VNNI), a shared and noisy machine. Speed-ups are",
           "ratios taken within one run. This page is generated by `scripts/bench_report.py` from `docs/bench/*.json`.", ""]
    forward_section(out)
    hybrid_section(out)
    hybrid_replay_section(out)
    llama_lookup_section(out)
    replay_section(out)
    suffix_section(out)
    spec_section(out)
    sampling_section(out)
    serve_section(out)
    http_section(out)
    prefix_cache_section(out)
    json_mask_section(out)
    tok = os.path.join(B, "tokenizer.txt")
    if os.path.exists(tok):
        out += ["## Tokenizer encode speed (one core)", "", "```sh", "taskset -c 1 build/bench/bench_tokenizer --benchmark_min_time=2", "```", "", "```"] + \
               open(tok).read().strip().splitlines() + ["```", ""]
    with open(os.path.join(ROOT, "docs", "benchmarks.md"), "w") as fh:
        fh.write("\n".join(out) + "\n")
    print("wrote docs/benchmarks.md")


if __name__ == "__main__":
    main()
