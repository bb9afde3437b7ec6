// `ternspec serve` over HTTP, measured from the client side: throughput, time to first token (TTFT) and
// inter-token latency (ITL) at 1, 4 and 16 concurrent streaming clients, with and without speculation, in
// one run against one server. Configurations are interleaved within each repetition; medians over
// repetitions are reported. ITL per request is (last token time - first token time) / (tokens - 1), so a
// chunk carrying several accepted tokens counts as several tokens (token counts from the usage chunk,
// stream_options.include_usage). A client reads what has arrived when it gets to it: when tokens come
// faster than that, several land in one read and the measured ITL is below the server's real pace.
//   node bench/serve_http.mjs TERNSPEC MODEL PROMPTS.jsonl [--reps 3] [--n 64] [--draft suffix] [--k 6]
//                             [--json OUT] [-- extra serve options]
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import os from "node:os";

const argv = process.argv.slice(2);
const [bin, model, promptsFile] = argv;
const opt = (name, dflt) => { const i = argv.indexOf(name); return i > 0 ? argv[i + 1] : dflt; };
const reps = Number(opt("--reps", 3)), n = Number(opt("--n", 64)), draft = opt("--draft", "suffix"), k = Number(opt("--k", 6));
const jsonOut = opt("--json", "");
const extra = argv.includes("--") ? argv.slice(argv.indexOf("--") + 1) : [];
const prompts = readFileSync(promptsFile, "utf8").split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l).prompt);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const port = await new Promise((resolve) => {
  const s = createServer();
  s.listen(0, "127.0.0.1", () => { const { port } = s.address(); s.close(() => resolve(port)); });
});
const serveArgs = ["serve", "-m", model, "--port", String(port), "-np", "16", "--max-queue", "16", ...extra];
const proc = spawn(bin, serveArgs, { stdio: ["ignore", "ignore", "inherit"] });
const url = `http://127.0.0.1:${port}`;
for (let i = 0; i < 200; i++) {
  try { if ((await fetch(`${url}/health`)).ok) break; } catch {}
  await sleep(100);
}

// One streamed request: token arrival times from the SSE chunks (a chunk's tokens share its time).
async function request(prompt, spec) {
  const t0 = performance.now();
  const r = await fetch(`${url}/v1/completions`, {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ prompt, max_tokens: n, temperature: 0, stream: true, speculative: spec,
      stream_options: { include_usage: true } }),
  });
  if (r.status !== 200) throw new Error(`HTTP ${r.status}: ${await r.text()}`);
  const reader = r.body.getReader();
  const dec = new TextDecoder();
  let buf = "", first = null, last = null, chunks = 0, tokens = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += dec.decode(value, { stream: true });
    let at;
    while ((at = buf.indexOf("\n\n")) >= 0) {
      const ev = buf.slice(0, at);
      buf = buf.slice(at + 2);
      if (!ev.startsWith("data: ") || ev === "data: [DONE]") continue;
      const chunk = JSON.parse(ev.slice(6));
      if (chunk.usage) tokens = chunk.usage.completion_tokens;
      const text = chunk.choices[0]?.text;
      if (!text) continue;
      const now = performance.now();
      first ??= now;
      last = now;
      chunks++;
    }
  }
  return { ttft: first - t0, first, last, chunks, tokens };
}

async function configuration(clients, spec) {
  const t0 = performance.now();
  let next = 0;
  const results = [];
  // Each client takes the next prompt until every prompt has been served once.
  await Promise.all(Array.from({ length: clients }, async () => {
    for (let i; (i = next++) < prompts.length;) results.push(await request(prompts[i], spec));
  }));
  const wall = (performance.now() - t0) / 1000;
  const usage = await (await fetch(`${url}/metrics`)).text();
  return { wall, results, usage };
}

const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p * s.length))]; };
const median = (xs) => pct(xs, 0.5);
const generated = (m, d) => Number((new RegExp(`ternspec_generated_tokens_total\\{drafter="${d}"\\} (\\S+)`).exec(m) || [0, 0])[1]);
const configs = [];
for (const clients of [1, 4, 16]) for (const spec of [{ draft: "none" }, { draft, k }]) configs.push({ clients, spec });
const samples = configs.map(() => []);
await configuration(4, { draft: "none" });  // warm-up
for (let r = 0; r < reps; r++)
  for (let c = 0; c < configs.length; c++) {
    const before = await (await fetch(`${url}/metrics`)).text();
    const { wall, results, usage } = await configuration(configs[c].clients, configs[c].spec);
    const tokens = generated(usage, configs[c].spec.draft) - generated(before, configs[c].spec.draft);
    const itl = results.filter((x) => x.tokens > 1).map((x) => (x.last - x.first) / (x.tokens - 1));
    samples[c].push({ tokens_per_s: tokens / wall, ttft_p50: pct(results.map((x) => x.ttft), 0.5),
      ttft_p99: pct(results.map((x) => x.ttft), 0.99), itl_p50: pct(itl, 0.5), itl_p99: pct(itl, 0.99) });
  }
proc.kill("SIGTERM");
const rows = configs.map((cfg, c) => {
  const s = samples[c];
  const m = (key) => median(s.map((x) => x[key]));
  return { clients: cfg.clients, speculative: cfg.spec, tokens_per_s: m("tokens_per_s"), ttft_ms_p50: m("ttft_p50"),
    ttft_ms_p99: m("ttft_p99"), itl_ms_p50: m("itl_p50"), itl_ms_p99: m("itl_p99"), reps: s };
});
console.log("| clients | speculation | tokens/s | vs none | TTFT p50 ms | TTFT p99 ms | ITL p50 ms | ITL p99 ms |");
console.log("|---:|---|---:|---:|---:|---:|---:|---:|");
for (const r of rows) {
  const none = rows.find((x) => x.clients === r.clients && x.speculative.draft === "none");
  const label = r.speculative.draft === "none" ? "none" : `${r.speculative.draft} k=${r.speculative.k}`;
  console.log(`| ${r.clients} | ${label} | ${r.tokens_per_s.toFixed(1)} | ${(r.tokens_per_s / none.tokens_per_s).toFixed(2)}× | ` +
    `${r.ttft_ms_p50.toFixed(1)} | ${r.ttft_ms_p99.toFixed(1)} | ${r.itl_ms_p50.toFixed(2)} | ${r.itl_ms_p99.toFixed(2)} |`);
}
if (jsonOut)
  writeFileSync(jsonOut, JSON.stringify({ command: `node bench/serve_http.mjs ${argv.join(" ")}`, serve: serveArgs,
    prompts: promptsFile, max_tokens: n, reps, cpus: os.cpus().length, date: new Date().toISOString(), rows }, null, 1) + "\n");
