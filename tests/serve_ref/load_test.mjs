// Load test for `ternspec serve`, bounded in clients and time: CLIENTS concurrent streaming clients send
// requests back to back for SECONDS on loopback. Nothing may be lost: every request either streams to
// `data: [DONE]` or is refused by design (4xx, 503); afterwards the server still answers, and its
// resident memory after a second load is within 10% (plus 8 MB) of what it was after the first.
//   node tests/serve_ref/load_test.mjs TERNSPEC MODEL_DIR [CLIENTS=64] [SECONDS=60]
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";

const [bin, model, clientsArg, secondsArg] = process.argv.slice(2);
const clients = Number(clientsArg || 64), seconds = Number(secondsArg || 60);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const port = await new Promise((resolve) => {
  const s = createServer();
  s.listen(0, "127.0.0.1", () => { const { port } = s.address(); s.close(() => resolve(port)); });
});
const proc = spawn(bin, ["serve", "-m", model, "--port", String(port), "--draft", "suffix", "-np", "8", "--max-queue", "48",
  // A small global-trie budget, reached in the first half: growth after it would be a leak, not learning.
  "--draft-opt", "global_max_mb=4"],
  { stdio: ["ignore", "ignore", "inherit"] });
const exited = new Promise((r) => proc.on("exit", (c) => r(c)));
const url = `http://127.0.0.1:${port}`;
for (let i = 0; i < 100; i++) {
  try { if ((await fetch(`${url}/health`)).ok) break; } catch {}
  await sleep(100);
}
const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${proc.pid}/status`, "utf8"))[1]) * 1024;

async function load(duration) {
  const tally = { done: 0, refused: 0, lost: 0, statuses: {} };
  const end = Date.now() + duration * 1000;
  await Promise.all(Array.from({ length: clients }, async (_, c) => {
    for (let i = 0; Date.now() < end; i++) {
      try {
        const r = await fetch(`${url}/v1/completions`, {
          method: "POST", headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ prompt: `c${c} = ${i}\nprint(c${c}`, max_tokens: 24 + (i % 16), temperature: (c % 3) * 0.4, stream: true, seed: i }),
        });
        tally.statuses[r.status] = (tally.statuses[r.status] || 0) + 1;
        if (r.status !== 200) {
          const body = await r.json();
          if (r.status >= 400 && r.status < 600 && body.error) tally.refused++; else tally.lost++;
          await sleep(20);
          continue;
        }
        const text = await r.text();
        if (text.trimEnd().endsWith("data: [DONE]")) tally.done++; else tally.lost++;
      } catch (e) {
        tally.lost++;
      }
    }
  }));
  return tally;
}

let failures = 0;
const check = (ok, what) => { console.log(`${ok ? "ok" : "FAIL"}: ${what}`); if (!ok) failures++; };
try {
  const first = await load(seconds / 2);
  await sleep(500);
  const rss1 = rss();
  const second = await load(seconds / 2);
  await sleep(500);
  const rss2 = rss();
  for (const [name, t] of [["first half", first], ["second half", second]])
    check(t.lost === 0 && t.done > 0, `${name}: ${t.done} streamed to [DONE], ${t.refused} refused by design, ${t.lost} lost (HTTP ${JSON.stringify(t.statuses)})`);
  if (process.env.TERNSPEC_SANITIZED)
    console.log(`skipped: resident memory (${(rss1 / 1e6).toFixed(1)} then ${(rss2 / 1e6).toFixed(1)} MB) under AddressSanitizer, whose quarantine keeps freed memory`);
  else
    check(rss2 <= rss1 * 1.1 + 8e6, `resident memory after the first load ${(rss1 / 1e6).toFixed(1)} MB, after the second ${(rss2 / 1e6).toFixed(1)} MB`);
  const health = await fetch(`${url}/health`);
  check(health.ok, "still healthy");
  const m = await (await fetch(`${url}/metrics`)).text();
  check(/ternspec_running_requests 0/.test(m) && /ternspec_queue_length 0/.test(m), "no request left running or queued");
} finally {
  proc.kill("SIGTERM");
  check((await Promise.race([exited, sleep(10000).then(() => "timeout")])) === 0, "exit 0 on SIGTERM");
}
process.exit(failures ? 1 : 0);
