// Time to first token with and without the prefix cache: requests that share a long prefix (a system
// prompt of SHARED token ids) and differ in a short tail (TAIL ids), streamed from `ternspec serve` started
// with --cache-mb 0 and with --cache-mb 256, one after the other. Per configuration: the first request
// (nothing cached), then PAIRS requests with fresh tails (the shared prefix cached from the earlier ones).
// Token-id prompts, so random-weight models at real shapes (`ternspec synth`) work as well as trained ones.
//   node bench/serve_prefix_ttft.mjs TERNSPEC MODEL [SHARED=900] [TAIL=24] [PAIRS=4] [THREADS=2] > out.json
import { spawn } from "node:child_process";
import { createServer } from "node:net";

const [bin, model, shared = "900", tail = "24", pairs = "4", threads = "2"] = process.argv.slice(2);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const freePort = () => new Promise((resolve) => {
  const s = createServer();
  s.listen(0, "127.0.0.1", () => { const { port } = s.address(); s.close(() => resolve(port)); });
});

async function start(cacheMb) {
  const port = await freePort();
  const proc = spawn(bin, ["serve", "-m", model, "--port", String(port), "-t", threads, "-np", "1",
                           "--cache-mb", String(cacheMb)], { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  proc.stderr.on("data", (d) => (log += d));
  for (let i = 0; i < 600; i++) {
    try { if ((await fetch(`http://127.0.0.1:${port}/health`)).ok) return { port, proc }; } catch {}
    await sleep(100);
  }
  throw new Error("server did not start: " + log);
}

// Seconds from sending the request to the first streamed text, and the usage's cached tokens.
async function ttft(port, prompt) {
  const t0 = performance.now();
  const res = await fetch(`http://127.0.0.1:${port}/v1/completions`, {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ prompt, max_tokens: 4, temperature: 0, stream: true, stream_options: { include_usage: true },
                           speculative: { draft: "none" } }),
  });
  let first = 0, cached = null, buf = "";
  const decoder = new TextDecoder();
  for await (const part of res.body) {
    buf += decoder.decode(part, { stream: true });
    if (!first && buf.includes('"text"')) first = (performance.now() - t0) / 1000;
    for (const m of buf.matchAll(/"cached_tokens":(\d+)/g)) cached = Number(m[1]);
  }
  return { seconds: first, cached_tokens: cached };
}

const vocabCap = 150000;  // ids below every shape's vocabulary
let seed = 12345;
const rand = () => (seed = (seed * 1103515245 + 12345) % 2147483648) % 1000 + 1000;  // ordinary ids
const sharedIds = Array.from({ length: Number(shared) }, rand).map((x) => x % vocabCap);
const tails = Array.from({ length: Number(pairs) + 1 }, () => Array.from({ length: Number(tail) }, rand));
const median = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

const result = { command: `node bench/serve_prefix_ttft.mjs ${process.argv.slice(2).join(" ")}`, model,
                 shared_tokens: Number(shared), tail_tokens: Number(tail), configurations: {} };
for (const cacheMb of [0, 256]) {
  const s = await start(cacheMb);
  try {
    const first = await ttft(s.port, [...sharedIds, ...tails[0]]);
    const later = [];
    for (let i = 1; i <= Number(pairs); i++) later.push(await ttft(s.port, [...sharedIds, ...tails[i]]));
    result.configurations[`cache_mb_${cacheMb}`] = {
      first_request: first, later_requests: later,
      later_median_seconds: median(later.map((x) => x.seconds)),
    };
  } finally {
    s.proc.kill("SIGTERM");
    await new Promise((r) => s.proc.on("exit", r));
  }
}
const off = result.configurations.cache_mb_0.later_median_seconds;
const on = result.configurations.cache_mb_256.later_median_seconds;
result.ttft_ratio_cache_off_over_on = on > 0 ? off / on : null;
console.log(JSON.stringify(result, null, 2));
