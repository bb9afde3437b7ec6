// What the serve tests share: numbered checks, a free loopback port, and a `ternspec serve` child started and
// waited for (bounded), whose `exited` resolves to its exit code (null when a signal ended it).
import { spawn } from "node:child_process";
import { createServer } from "node:net";

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function checker() {
  let failures = 0;
  return {
    check: (ok, what) => {
      console.log(`${ok ? "ok" : "FAIL"}: ${what}`);
      if (!ok) failures++;
    },
    failures: () => failures,
  };
}

export const freePort = () =>
  new Promise((resolve) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

export async function startServer(bin, model, extra = [], threads = 2) {
  const port = await freePort();
  const proc = spawn(bin, ["serve", "-m", model, "--port", String(port), "-t", String(threads), ...extra], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let log = "";
  proc.stderr.on("data", (d) => (log += d));
  const exited = new Promise((r) => proc.on("exit", (code) => r(code)));
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/health`)).ok) return { port, proc, exited, log: () => log };
    } catch {}
    await sleep(100);
  }
  throw new Error("server did not start: " + log);
}
