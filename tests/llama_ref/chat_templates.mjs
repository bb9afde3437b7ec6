// ternspec's chat-template renderer against @huggingface/jinja (npm), byte for byte, on the published chat
// templates that llama.cpp keeps in its source (models/templates/*.jinja, read from the git bundle that npm
// node-llama-cpp ships) and a set of conversations: plain turns, a system turn, reasoning, tool calls and
// tool results, no generation prompt, enable_thinking=false, non-ASCII text.
//   node tests/llama_ref/chat_templates.mjs TERNSPEC WORK_DIR
// Fails on any template both render differently, on a Qwen template ternspec refuses, and when ternspec
// refuses more than a few templates the reference renders. Fails without the bundle or git.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Template } from "@huggingface/jinja";

const [bin, work] = process.argv.slice(2);
const here = dirname(fileURLToPath(import.meta.url));
const bundle = join(here, "node_modules/node-llama-cpp/llama/gitRelease.bundle");
if (!existsSync(bundle) || spawnSync("git", ["--version"]).status !== 0) {
  console.log("FAIL: needs git and npm node-llama-cpp's llama.cpp bundle (scripts/setup.sh installs them)");
  process.exit(1);
}

// The corpus: every published template in the bundle.
rmSync(work, { recursive: true, force: true });
mkdirSync(join(work, "templates"), { recursive: true });
const git = (...a) => execFileSync("git", ["-C", join(work, "repo"), ...a], { maxBuffer: 1 << 26 }).toString();
execFileSync("git", ["init", "-q", join(work, "repo")]);
git("fetch", "-q", bundle);
const names = git("ls-tree", "--name-only", "FETCH_HEAD", "models/templates/")
  .split("\n")
  .filter((p) => p.endsWith(".jinja"));
for (const p of names) writeFileSync(join(work, "templates", p.split("/").pop()), git("show", `FETCH_HEAD:${p}`));

const weather = {
  type: "function",
  function: {
    name: "get_weather",
    description: "Current weather for a city",
    parameters: { type: "object", properties: { city: { type: "string", description: "City name" } }, required: ["city"] },
  },
};
const conversations = {
  user: { messages: [{ role: "user", content: "Hello" }] },
  system: { messages: [{ role: "system", content: "You are terse." }, { role: "user", content: "What is 2+2?" }] },
  turns: {
    messages: [
      { role: "user", content: "Hi there" },
      { role: "assistant", content: "Hello! How can I help?" },
      { role: "user", content: "Tell me a joke." },
    ],
  },
  reasoning: {
    messages: [
      { role: "user", content: "Is 7 prime?" },
      { role: "assistant", content: "<think>\nCheck divisors up to 2.\n</think>\n\nYes." },
      { role: "user", content: "And 9?" },
    ],
  },
  tools: {
    tools: [weather],
    messages: [
      { role: "system", content: "Use tools when needed." },
      { role: "user", content: "Weather in Paris?" },
      {
        role: "assistant",
        content: "",
        tool_calls: [{ id: "call_1", type: "function", function: { name: "get_weather", arguments: { city: "Paris" } } }],
      },
      { role: "tool", tool_call_id: "call_1", name: "get_weather", content: "18 C, clear" },
    ],
  },
  no_generation_prompt: {
    add_generation_prompt: false,
    messages: [
      { role: "user", content: "Ping" },
      { role: "assistant", content: "Pong" },
    ],
  },
  no_thinking: { extra: { enable_thinking: false }, messages: [{ role: "user", content: "Quick answer: 3*3?" }] },
  unicode: { messages: [{ role: "user", content: "Grüße 👋 — 你好?" }] },
};

let mismatches = 0;
const refusedByUs = new Map();
let agreed = 0, refusedByReference = 0;
const files = readdirSync(join(work, "templates")).sort();
for (const file of files) {
  const path = join(work, "templates", file);
  const source = readFileSync(path, "utf8");
  let template = null;
  try {
    template = new Template(source);
  } catch {}
  for (const [what, c] of Object.entries(conversations)) {
    const agp = c.add_generation_prompt ?? true;
    const vars = { messages: c.messages, add_generation_prompt: agp, bos_token: "", eos_token: "", ...(c.extra ?? {}) };
    if (c.tools) vars.tools = c.tools;
    let want = null;
    try {
      want = template ? template.render(vars) : null;
    } catch {}
    const request = join(work, "request.json");
    writeFileSync(request, JSON.stringify({ messages: c.messages, ...(c.tools ? { tools: c.tools } : {}) }));
    const args = ["template", "--chat-template-file", path, "--messages", request];
    if (!agp) args.push("--no-generation-prompt");
    if (c.extra) args.push("--chat-template-kwargs", JSON.stringify(c.extra));
    const r = spawnSync(bin, args, { encoding: "utf8" });
    if (want === null) {
      refusedByReference++;
      continue;
    }
    if (r.status !== 0) {
      if (!refusedByUs.has(file)) refusedByUs.set(file, `${what}: ${r.stderr.trim().split("\n").pop()}`);
      continue;
    }
    if (r.stdout === want) {
      agreed++;
      continue;
    }
    mismatches++;
    let at = 0;
    while (at < want.length && want[at] === r.stdout[at]) at++;
    console.log(`FAIL ${file} [${what}]: differs at ${at}:\n  reference ${JSON.stringify(want.slice(at - 20, at + 60))}\n  ternspec  ${JSON.stringify(r.stdout.slice(at - 20, at + 60))}`);
  }
}
for (const [file, why] of refusedByUs) console.log(`refused by ternspec: ${file} (${why})`);
const qwenRefused = [...refusedByUs.keys()].filter((f) => /qwen|qwq/i.test(f));
console.log(
  `${files.length} templates x ${Object.keys(conversations).length} conversations: ${agreed} byte-identical, ` +
    `${mismatches} different, ${refusedByReference} not rendered by the reference, ` +
    `templates refused by ternspec: ${refusedByUs.size}`
);
const maxRefused = 8;
if (mismatches > 0 || qwenRefused.length > 0 || refusedByUs.size > maxRefused) {
  console.log(`FAIL: ${mismatches} mismatches, Qwen templates refused: ${qwenRefused.join(", ") || "none"}, ` +
    `${refusedByUs.size} templates refused (at most ${maxRefused})`);
  process.exit(1);
}
console.log("ok");
