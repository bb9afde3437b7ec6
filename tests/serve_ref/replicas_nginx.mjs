// Two `ternspec serve` replicas behind a real nginx (Debian's, installed by scripts/setup.sh) as a load
// balancer: the official OpenAI client talks to nginx only. Every answer, streamed or not, equals plain
// `ternspec generate`; streams arrive in pieces (nginx does not buffer them); both replicas serve, as their
// own /metrics (vLLM's names) count; with one replica killed, nginx's retry keeps every request answered.
//   node tests/serve_ref/replicas_nginx.mjs TERNSPEC MODEL_DIR
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";
import { checker, freePort, sleep, startServer } from "./harness.mjs";

const [bin, model] = process.argv.slice(2);
const { check, failures } = checker();

const generate = (prompt, n) =>
  JSON.parse(execFileSync(bin, ["generate", "-m", model, "-p", prompt, "-n", String(n), "--json", "-t", "1"],
    { stdio: ["ignore", "pipe", "ignore"] }).toString()).text;
const prompts = Array.from({ length: 12 }, (_, i) => `def f${i}(x):\n    return x * ${i} +`);
const wants = prompts.map((p) => generate(p, 24));

const nginxBin = ["/usr/sbin/nginx", "nginx"].find((b) => {
  try { execFileSync(b, ["-v"], { stdio: "ignore" }); return true; } catch { return false; }
});
if (!nginxBin) {
  console.log("FAIL: nginx is not installed (scripts/setup.sh installs Debian's nginx)");
  process.exit(1);
}

const replicas = [await startServer(bin, model, ["-np", "2", "--draft", "suffix"], 1),
                  await startServer(bin, model, ["-np", "2", "--draft", "suffix"], 1)];
const dir = mkdtempSync(join(tmpdir(), "ternspec-nginx-"));
const port = await freePort();
// Every path nginx writes lies in `dir`, so it runs unprivileged; least_conn spreads concurrent requests,
// and a replica that refuses connections is skipped (proxy_next_upstream error).
writeFileSync(join(dir, "nginx.conf"), `
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream ternspec {
    least_conn;
    server 127.0.0.1:${replicas[0].port} max_fails=1 fail_timeout=30s;
    server 127.0.0.1:${replicas[1].port} max_fails=1 fail_timeout=30s;
    keepalive 8;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://ternspec;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_read_timeout 120s;
      proxy_next_upstream error timeout;
    }
  }
}
`);
const nginx = spawn(nginxBin, ["-c", join(dir, "nginx.conf"), "-p", dir, "-g", "daemon off;"], { stdio: ["ignore", "ignore", "pipe"] });
let nginxLog = "";
nginx.stderr.on("data", (d) => (nginxLog += d));
let up = false;
for (let i = 0; i < 50 && !up; i++) {
  try { up = (await fetch(`http://127.0.0.1:${port}/health`)).ok; } catch {}
  if (!up) await sleep(100);
}
check(up, `nginx in front of two replicas answers /health ${nginxLog.trim()}`);

const client = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: "none", maxRetries: 0, timeout: 60000 });
const served = async (replica) => {
  const m = await (await fetch(`http://127.0.0.1:${replica.port}/metrics`)).text();
  return [...m.matchAll(/^vllm:request_success_total\{[^}]*\} (\d+)$/gm)].reduce((s, x) => s + Number(x[1]), 0);
};
try {
  // Twelve concurrent clients, half of them streaming: each gets what generate gives.
  const outs = await Promise.all(prompts.map(async (p, i) => {
    if (i % 2) {
      const r = await client.completions.create({ model: "x", prompt: p, max_tokens: 24, temperature: 0 });
      return { text: r.choices[0].text, chunks: 1 };
    }
    let text = "", chunks = 0;
    for await (const c of await client.completions.create({ model: "x", prompt: p, max_tokens: 24, temperature: 0, stream: true }))
      text += c.choices[0]?.text ?? "", chunks++;
    return { text, chunks };
  }));
  check(outs.every((o, i) => o.text === wants[i]), `12 concurrent requests through nginx equal generate (${outs.filter((o, i) => o.text === wants[i]).length}/12)`);
  // A long stream (300 tokens, a round each) arrives in many pieces, the first long before the last: nginx
  // passes the events on as they come.
  const t0 = Date.now();
  let firstAt = 0, lastAt = 0, pieces = 0;
  for await (const c of await client.completions.create({ model: "x", prompt: prompts[0], max_tokens: 300, temperature: 0,
                                                          stream: true, speculative: { draft: "none" } })) {
    if (c.choices[0]?.text) { pieces++; lastAt = Date.now() - t0; if (!firstAt) firstAt = lastAt; }
  }
  check(pieces > 10 && firstAt < lastAt / 2, `streams pass through nginx unbuffered (${pieces} pieces, first at ${firstAt} ms, last at ${lastAt} ms)`);
  const counts = [await served(replicas[0]), await served(replicas[1])];
  check(counts[0] > 0 && counts[1] > 0 && counts[0] + counts[1] === 13, `both replicas served (${counts.join(" + ")})`);

  // 64 streaming clients; one replica killed mid-run: the streams it was serving end with an error (never
  // a hang), every other stream completes with generate's text, and nothing else is lost.
  const longPrompts = Array.from({ length: 64 }, (_, i) => prompts[i % prompts.length]);
  const started = Date.now();
  const streams = longPrompts.map(async (p, i) => {
    let text = "", finished = false;
    try {
      for await (const c of await client.completions.create({ model: "x", prompt: p, max_tokens: 24, temperature: 0,
                                                              stream: true, speculative: { draft: "none" } })) {
        text += c.choices[0]?.text ?? "";
        if (c.choices[0]?.finish_reason) finished = true;
      }
      return { ok: finished && text === wants[i % prompts.length], error: !finished };
    } catch (e) {
      return { ok: false, error: true };
    }
  });
  await sleep(150);
  replicas[0].proc.kill("SIGKILL");
  await replicas[0].exited;
  const results = await Promise.all(streams);
  const completed = results.filter((r) => r.ok).length, errored = results.filter((r) => r.error).length;
  check(completed + errored === 64 && completed > 0 && Date.now() - started < 60000,
    `64 streams with a replica killed mid-run: ${completed} complete and equal, ${errored} ended with an error, none hung, none wrong`);
  
  const after = await Promise.all(prompts.slice(0, 4).map((p) =>
    client.completions.create({ model: "x", prompt: p, max_tokens: 24, temperature: 0 })));
  check(after.every((r, i) => r.choices[0].text === wants[i]), "after the kill, new requests reach the survivor");
} catch (e) {
  check(false, `exception: ${e}`);
} finally {
  nginx.kill("SIGTERM");
  for (const r of replicas) r.proc.kill("SIGTERM");
  await Promise.all(replicas.map((r) => r.exited));
  rmSync(dir, { recursive: true, force: true });
}
process.exit(failures() ? 1 : 0);
