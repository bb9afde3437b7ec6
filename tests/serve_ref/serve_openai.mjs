// `ternspec serve` through the official OpenAI client (npm `openai`) and curl: completions, chat, both
// streamed, 16 concurrent streams each equal to `ternspec generate` on its prompt (greedy), the error
// cases as OpenAI error objects with 4xx codes, a client that disconnects mid-stream freeing its slot,
// the API key, /metrics, and SIGTERM ending the process with exit 0. Every wait is bounded.
//   node tests/serve_ref/serve_openai.mjs TERNSPEC MODEL_DIR
import { execFile, execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { connect } from "node:net";
import OpenAI from "openai";
import { checker, sleep, startServer as startHarnessServer } from "./harness.mjs";

const [bin, model] = process.argv.slice(2);
// The model folder's own context, so "over the context" stays over it whatever the shipped model holds.
const context = JSON.parse(readFileSync(`${model}/config.json`, "utf8")).max_position_embeddings;
const { check, failures } = checker();
const startServer = (extra) => startHarnessServer(bin, model, extra);

function generate(prompt, n) {
  const out = execFileSync(bin, ["generate", "-m", model, "-p", prompt, "-n", String(n), "--json", "-t", "1"], {
    stdio: ["ignore", "pipe", "ignore"],
  });
  return JSON.parse(out.toString()).text;
}

// Asynchronous, like every wait here: a synchronous child blocks Node's event loop, so the client's
// keep-alive timers go stale and its next request can land on a connection the server has already closed
// after its idle timeout (seen as "other side closed" under AddressSanitizer).
function curl(port, path, body, headers = []) {
  const args = ["-s", "-o", "-", "-w", "\n%{http_code}", "-X", body === null ? "GET" : "POST", ...headers];
  if (body !== null) args.push("-H", "Content-Type: application/json", "--data-binary", "@-");
  return new Promise((resolve, reject) => {
    const child = execFile("curl", [...args, `http://127.0.0.1:${port}${path}`], (err, stdout) => {
      if (err) return reject(err);
      const cut = stdout.lastIndexOf("\n");
      resolve({ status: Number(stdout.slice(cut + 1)), body: stdout.slice(0, cut) });
    });
    child.stdin.end(body ?? "");
  });
}

// Expectations first, from plain `ternspec generate`, before any client connection is open (see curl).
const prompt = "def add(a, b):\n    return";
const want = generate(prompt, 32);
const chatPrompt = "<|im_start|>user\nWrite a function.<|im_end|>\n<|im_start|>assistant\n";
const chatWant = generate(chatPrompt, 24);
const prompts = Array.from({ length: 16 }, (_, i) => `x${i} = ${i}\ny${i} = x${i} + 1\nprint(`);
const wants = prompts.map((p) => generate(p, 40));

const key = "test-key";
const main = await startServer(["--draft", "suffix", "-np", "4", "--max-queue", "16", "--max-body", "16384", "--api-key", key]);
const client = new OpenAI({ baseURL: `http://127.0.0.1:${main.port}/v1`, apiKey: key, maxRetries: 0, timeout: 60000 });
try {

  const c = await client.completions.create({ model: "tern-pystd-7m", prompt, max_tokens: 32, temperature: 0 });
  check(c.choices[0].text === want, "completion equals generate");
  check(c.usage.completion_tokens > 0 && c.usage.drafted_tokens >= c.usage.accepted_tokens, "usage with drafted/accepted");

  let streamed = "", streamUsage = null;
  for await (const chunk of await client.completions.create({
    model: "x", prompt, max_tokens: 32, temperature: 0, stream: true, stream_options: { include_usage: true } })) {
    streamed += chunk.choices[0]?.text ?? "";
    if (chunk.usage) streamUsage = chunk.usage;
  }
  check(streamed === want, "streamed completion equals generate");
  check(streamUsage?.completion_tokens === c.usage.completion_tokens, "stream_options.include_usage: a usage chunk");

  const messages = [{ role: "user", content: "Write a function." }];
  const chat = await client.chat.completions.create({ model: "x", messages, max_tokens: 24, temperature: 0 });
  check(chat.choices[0].message.content === chatWant, "chat equals generate on the ChatML prompt");
  let chatStreamed = "";
  for await (const chunk of await client.chat.completions.create({ model: "x", messages, max_tokens: 24, temperature: 0, stream: true }))
    chatStreamed += chunk.choices[0]?.delta?.content ?? "";
  check(chatStreamed === chatWant, "streamed chat equals generate");

  // The prefix cache (on by default): the same chat again reads its prompt from the cache but the last
  // token, and answers the same; the next turn (the answer and a new message) reuses the first turn's tokens.
  const again = await client.chat.completions.create({ model: "x", messages, max_tokens: 24, temperature: 0 });
  check(again.choices[0].message.content === chatWant &&
        again.usage.prompt_tokens_details?.cached_tokens === again.usage.prompt_tokens - 1,
        `a repeated chat reads its prompt from the prefix cache (cached ${again.usage.prompt_tokens_details?.cached_tokens} of ${again.usage.prompt_tokens})`);
  const turn2 = [...messages, { role: "assistant", content: chatWant }, { role: "user", content: "Another one." }];
  const next = await client.chat.completions.create({ model: "x", messages: turn2, max_tokens: 8, temperature: 0 });
  check(next.usage.prompt_tokens_details?.cached_tokens > 0,
        `the next turn reuses the first (cached ${next.usage.prompt_tokens_details?.cached_tokens} of ${next.usage.prompt_tokens})`);

  // 16 concurrent streams, mixed drafters and draft lengths (k = auto for a quarter), each checked against
  // plain generate.
  const drafts = ["suffix", "ngram", "none"];
  const outs = await Promise.all(
    prompts.map(async (p, i) => {
      let s = "";
      const stream = await client.completions.create({
        model: "x", prompt: p, max_tokens: 40, temperature: 0, stream: true,
        speculative: { draft: drafts[i % 3], k: i % 4 === 3 ? "auto" : 2 + (i % 5) },
      });
      for await (const chunk of stream) s += chunk.choices[0].text ?? "";
      return s;
    })
  );
  check(outs.every((o, i) => o === wants[i]), `16 concurrent streams equal generate (${outs.filter((o, i) => o === wants[i]).length}/16)`);

  // Stop strings end the text before them, finish_reason "stop".
  const stopAt = want.indexOf("\n") > 0 ? "\n" : want.slice(3, 5);
  const st = await client.completions.create({ model: "x", prompt, max_tokens: 32, temperature: 0, stop: [stopAt] });
  check(st.choices[0].text === want.slice(0, want.indexOf(stopAt)) && st.choices[0].finish_reason === "stop", "stop string");

  // Sampling with a seed is reproducible without speculation. (With a drafter that learns across requests,
  // the seed fixes the distribution, not the text: verification draws depend on what was drafted.)
  const seeded = { model: "x", prompt, max_tokens: 24, temperature: 0.8, seed: 7, speculative: { draft: "none" } };
  const s1 = await client.completions.create(seeded);
  const s2 = await client.completions.create(seeded);
  check(s1.choices[0].text === s2.choices[0].text, "seeded sampling reproducible");

  // Tools offered to a model whose chat template never mentions tools (this one's) are refused, not
  // dropped; tool_choice "none" withholds them (the plain chat); "required", a named function and
  // parallel_tool_calls false, which this server cannot honour, are refused. (The built-in template renders
  // tools, tests/test_chat_template.cpp; this model calls none, so tool_calls responses are not reached
  // here: ToolCallParser is tested on its own.)
  const toolAuth = ["-H", `Authorization: Bearer ${key}`];
  const tools = [{ type: "function", function: { name: "get_weather", description: "weather in a city",
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } } }];
  const refused = await curl(main.port, "/v1/chat/completions", JSON.stringify({ messages, tools, max_tokens: 4 }), toolAuth);
  check(refused.status === 400 && /does not render tools/.test(refused.body), `tools with a template that ignores them: HTTP ${refused.status}`);
  const noneChoice = await client.chat.completions.create({ model: "x", messages, tools, tool_choice: "none", max_tokens: 24, temperature: 0 });
  check(noneChoice.choices[0].message.content === chatWant, "tool_choice none: the tools are not offered");
  {
    const r = await curl(main.port, "/v1/chat/completions", JSON.stringify({ messages, tools, max_tokens: 4, parallel_tool_calls: false }), toolAuth);
    check(r.status === 400, `parallel_tool_calls false: HTTP ${r.status}`);
  }
  // A template that renders tools (tests/serve_ref/chatml_tools.jinja): tool_choice "required" and a named
  // function constrain the output to one call, which comes back as tool_calls with valid arguments (even
  // from this model, which never learnt tools), streamed too, the same with speculation and without.
  const toolServer = await startServer(["--chat-template-file", new URL("./chatml_tools.jinja", import.meta.url).pathname, "-np", "2"]);
  try {
    const tc = new OpenAI({ baseURL: `http://127.0.0.1:${toolServer.port}/v1`, apiKey: "none", maxRetries: 0, timeout: 60000 });
    const twoTools = [...tools, { type: "function", function: { name: "get_time", parameters: { type: "object",
      properties: { zone: { enum: ["UTC", "CET"] } }, required: ["zone"], additionalProperties: false } } }];
    for (const [what, choice, names] of [["tool_choice required", "required", ["get_weather", "get_time"]],
                                         ["a named tool_choice", { type: "function", function: { name: "get_time" } }, ["get_time"]]]) {
      const outs = [];
      for (const speculative of [{ draft: "none" }, { draft: "suffix", k: 4 }]) {
        const r = await tc.chat.completions.create({ model: "x", messages, tools: twoTools, tool_choice: choice,
                                                      max_tokens: 400, temperature: 0, speculative });
        outs.push(JSON.stringify(r.choices[0].message.tool_calls?.map((c) => c.function)));
        const call = r.choices[0].message.tool_calls?.[0];
        let args = null;
        try { args = JSON.parse(call.function.arguments); } catch {}
        // A named function has its parameters enforced; "required" over two tools, the name only.
        check(r.choices[0].finish_reason === "tool_calls" && names.includes(call?.function?.name) && args !== null &&
              (names.length > 1 || ["UTC", "CET"].includes(args.zone)),
          `${what}: one valid call (${call?.function?.name} ${call?.function?.arguments})`);
      }
      check(outs[0] === outs[1], `${what}: the same call with speculation`);
    }
    let streamedCall = null, reason = null;
    for await (const chunk of await tc.chat.completions.create({ model: "x", messages, tools: twoTools, tool_choice: "required",
                                                                  max_tokens: 400, temperature: 0, stream: true })) {
      streamedCall = chunk.choices[0]?.delta?.tool_calls?.[0] ?? streamedCall;
      reason = chunk.choices[0]?.finish_reason ?? reason;
    }
    check(streamedCall?.index === 0 && typeof streamedCall?.function?.name === "string" && reason === "tool_calls",
      `a streamed forced call arrives as a tool_calls delta (${JSON.stringify(streamedCall)})`);
    const missing = await curl(toolServer.port, "/v1/chat/completions", JSON.stringify({ messages, tools, tool_choice: { type: "function", function: { name: "nope" } } }));
    check(missing.status === 400, `a named tool_choice the tools lack: HTTP ${missing.status}`);
  } finally {
    toolServer.proc.kill("SIGTERM");
    await toolServer.exited;
  }

  // Structured output: response_format json_object and json_schema (and llama-server's json_schema): the
  // content is a JSON document the schema allows, the same with speculation and without; keywords the engine
  // does not enforce are a 400 naming them.
  // A bounded schema (an enum and a boolean; whitespace runs are bounded too), so even this small model,
  // which rambles inside strings, finishes the document within max_tokens.
  const schema = { type: "object", properties: { mode: { enum: ["fast", "slow"] }, debug: { type: "boolean" } },
                   required: ["mode", "debug"], additionalProperties: false };
  const jsonPrompt = 'config = {"name": "server", "port": 8080}\nconfig = ';
  const asked = [
    ["json_object", { response_format: { type: "json_object" } }],
    ["json_schema", { response_format: { type: "json_schema", json_schema: { name: "cfg", schema, strict: true } } }],
    ["llama-server's json_schema", { json_schema: schema }],
  ];
  for (const [what, extra] of asked) {
    const texts = [];
    for (const speculative of [{ draft: "none" }, { draft: "suffix", k: 4 }]) {
      const r = await curl(main.port, "/v1/completions",
        JSON.stringify({ prompt: jsonPrompt, max_tokens: 300, temperature: 0, speculative, ...extra }), ["-H", `Authorization: Bearer ${key}`]);
      const body = JSON.parse(r.body);
      texts.push(body.choices?.[0]?.text);
      if (speculative.draft === "none") {
        let doc = null;
        try { doc = JSON.parse(body.choices[0].text); } catch {}
        const fits = what === "json_object" ? doc !== null && typeof doc === "object" && !Array.isArray(doc)
          : doc !== null && ["fast", "slow"].includes(doc.mode) && typeof doc.debug === "boolean" && Object.keys(doc).length === 2;
        check(r.status === 200 && body.choices[0].finish_reason === "stop" && fits,
          `${what}: a valid document (${JSON.stringify(body.choices?.[0]?.text)?.slice(0, 120)})`);
      }
    }
    check(texts[0] === texts[1], `${what}: the same with speculation`);
  }
  for (const [what, body] of [
    ["a schema keyword not enforced", { response_format: { type: "json_schema", json_schema: { name: "x", schema: { type: "object", properties: { a: { type: "string", pattern: "x" } } } } } }],
    ["a root that is not an object", { response_format: { type: "json_schema", json_schema: { name: "x", schema: { type: "array" } } } }],
    ["an unknown response_format type", { response_format: { type: "yaml" } }],
    ["a GBNF grammar", { grammar: "root ::= \"a\"" }]]) {
    const r = await curl(main.port, "/v1/completions", JSON.stringify({ prompt: "x", max_tokens: 2, ...body }), ["-H", `Authorization: Bearer ${key}`]);
    check(r.status === 400, `${what}: HTTP ${r.status} ${r.body.slice(0, 140)}`);
  }

  // A 12 KB body sent as plain `curl -d` sends it (form-encoded content type): served, not a 413 (cpp-httplib
  // refused form bodies over 8 KB as "larger than --max-body").
  {
    const big = JSON.stringify({ prompt: "x".repeat(12500), max_tokens: 1 });
    const r = await fetch(`http://127.0.0.1:${main.port}/v1/completions`, { method: "POST", body: big,
      headers: { "Content-Type": "application/x-www-form-urlencoded", Authorization: `Bearer ${key}` } });
    check(big.length > 12000 && r.status === 200, `a ${big.length}-byte form-encoded body: HTTP ${r.status}`);
  }

  // presence_penalty and frequency_penalty are applied (they were refused before), and lossless: the same
  // request with speculation and without gives the same text.
  const penalised = { model: "x", prompt, max_tokens: 32, temperature: 0, frequency_penalty: 1.5, presence_penalty: 1.0 };
  const pen1 = await client.completions.create({ ...penalised, speculative: { draft: "none" } });
  const pen2 = await client.completions.create({ ...penalised, speculative: { draft: "suffix", k: 4 } });
  check(pen1.choices[0].text !== want && pen1.choices[0].text === pen2.choices[0].text,
    "frequency and presence penalties change the greedy text, the same with and without speculation");

  // Errors: an OpenAI error object and a 4xx, and the server keeps serving.
  const auth = ["-H", `Authorization: Bearer ${key}`];
  const cases = [
    ["malformed JSON", "/v1/completions", "{bad", 400],
    ["body not an object", "/v1/completions", "[1]", 400],
    ["max_tokens of the wrong type", "/v1/completions", JSON.stringify({ prompt, max_tokens: "9" }), 400],
    ["negative max_tokens", "/v1/completions", JSON.stringify({ prompt, max_tokens: -1 }), 400],
    ["huge max_tokens", "/v1/completions", JSON.stringify({ prompt, max_tokens: 1e9 }), 400],
    ["n = 2", "/v1/completions", JSON.stringify({ prompt, n: 2 }), 400],
    ["temperature out of range", "/v1/completions", JSON.stringify({ prompt, temperature: 5 }), 400],
    ["prompt over the context", "/v1/completions", JSON.stringify({ prompt: Array(context + 1).fill(17) }), 400],
    ["token id outside the vocabulary", "/v1/completions", JSON.stringify({ prompt: [1, 99999999] }), 400],
    ["unknown drafter", "/v1/completions", JSON.stringify({ prompt, speculative: { draft: "magic" } }), 400],
    ["k neither an integer nor auto", "/v1/completions", JSON.stringify({ prompt, speculative: { k: "fast" } }), 400],
    ["messages missing", "/v1/chat/completions", JSON.stringify({ prompt }), 400],
    ["bad role", "/v1/chat/completions", JSON.stringify({ messages: [{ role: "wizard", content: "x" }] }), 400],
    ["body over --max-body", "/v1/completions", JSON.stringify({ prompt: "x".repeat(20000) }), 413],
  ];
  for (const [what, path, body, status] of cases) {
    const r = await curl(main.port, path, body, auth);
    let err = null;
    try { err = JSON.parse(r.body).error; } catch {}
    check(r.status === status && err && typeof err.message === "string" && "type" in err && "param" in err && "code" in err,
      `${what}: HTTP ${r.status} ${err ? err.message : r.body.slice(0, 80)}`);
  }
  check((await curl(main.port, "/v1/nothing", null, auth)).status === 404, "unknown endpoint 404");
  check((await curl(main.port, "/v1/models", null)).status === 401, "missing API key 401");
  check((await curl(main.port, "/health", null)).status === 200, "/health needs no key");
  const models = JSON.parse((await curl(main.port, "/v1/models", null, auth)).body);
  check(models.data?.[0]?.id === "tern-pystd-7m", "/v1/models lists the model");

  // A client that goes away mid-stream: its request is cancelled and its slot freed.
  const ac = new AbortController();
  const long = await client.completions.create(
    { model: "x", prompt, max_tokens: 400, temperature: 0, stream: true }, { signal: ac.signal });
  try { for await (const _ of long) { ac.abort(); } } catch {}
  let freed = false;
  for (let i = 0; i < 50 && !freed; i++) {
    await sleep(100);
    const m = (await curl(main.port, "/metrics", null, auth)).body;
    freed = /ternspec_requests_total\{outcome="cancelled"\} [1-9]/.test(m) && /ternspec_running_requests 0/.test(m);
  }
  check(freed, "a disconnected stream is cancelled and its slot freed");
  const after = await client.completions.create({ model: "x", prompt, max_tokens: 32, temperature: 0 });
  check(after.choices[0].text === want, "still serving after errors and a disconnect");

  const metrics = (await curl(main.port, "/metrics", null, auth)).body;
  check(/ternspec_tau\{drafter="suffix"\} [0-9.]+/.test(metrics) && /ternspec_acceptance_per_position\{drafter="suffix",position="1"\}/.test(metrics),
    "/metrics has tau and acceptance per position per drafter");
  // vLLM's names, as the Gateway API Inference Extension and llm-d read them, with values that follow
  // what was served.
  const vllm = (name) => {
    const m = metrics.match(new RegExp(`^${name.replace(/[{}]/g, "\\$&")}\\{model_name="tern-pystd-7m"[^}]*\\} ([0-9.e+-]+)$`, "m"));
    return m ? Number(m[1]) : NaN;
  };
  check(vllm("vllm:num_requests_running") === 0 && vllm("vllm:num_requests_waiting") === 0,
    "vllm:num_requests_running and _waiting are 0 when idle");
  check(vllm("vllm:prompt_tokens_total") > 0 && vllm("vllm:generation_tokens_total") > 0,
    "vllm: prompt and generation token counters");
  check(vllm("vllm:prefix_cache_hits") > 0 && vllm("vllm:prefix_cache_queries") >= vllm("vllm:prefix_cache_hits"),
    `vllm:prefix_cache_hits ${vllm("vllm:prefix_cache_hits")} of queries ${vllm("vllm:prefix_cache_queries")}`);
  check(vllm("vllm:time_to_first_token_seconds_count") > 20 && vllm("vllm:e2e_request_latency_seconds_count") > 20 &&
        vllm("vllm:inter_token_latency_seconds_count") > 100,
    "vllm: latency histograms counted every request");
  check(/^vllm:time_to_first_token_seconds_bucket\{model_name="tern-pystd-7m",le="\+Inf"\} \d+$/m.test(metrics),
    "vllm: histogram buckets end at +Inf");
  check(vllm("vllm:spec_decode_num_draft_tokens_total") >= vllm("vllm:spec_decode_num_accepted_tokens_total") &&
        vllm("vllm:spec_decode_num_accepted_tokens_total") > 0, "vllm: speculative draft and accept counters");
  check(/^vllm:kv_cache_usage_perc\{model_name="tern-pystd-7m"\} [0-9.e+-]+$/m.test(metrics), "vllm:kv_cache_usage_perc");
  check(/^ternspec_rejected_requests_total\{status="400"\} ([2-9]|\d\d+)$/m.test(metrics) &&
        /^ternspec_rejected_requests_total\{status="413"\} [1-9]/m.test(metrics),
    "4xx-rejected requests are counted by status");

  // llama-server's endpoints beside the OpenAI API.
  const post = async (path, body) => {
    const r = await curl(main.port, path, JSON.stringify(body), auth);
    let json = null;
    try { json = JSON.parse(r.body); } catch {}
    return { status: r.status, json };
  };
  const tk = await post("/tokenize", { content: prompt });
  check(tk.status === 200 && Array.isArray(tk.json.tokens) && tk.json.count === tk.json.tokens.length && tk.json.count > 3,
    `/tokenize: ${tk.json?.count} tokens`);
  const dt = await post("/detokenize", { tokens: tk.json.tokens });
  check(dt.status === 200 && dt.json.content === prompt, "/detokenize gives the text back");
  const pieces = await post("/tokenize", { content: prompt, with_pieces: true });
  check(pieces.json?.tokens?.map((p) => p.piece).join("") === prompt, "/tokenize with_pieces");
  const tpl = await post("/apply-template", { messages });
  check(tpl.status === 200 && tpl.json.prompt === chatPrompt, "/apply-template renders the chat as the model's template does");
  const chatTk = await post("/tokenize", { messages });
  check(chatTk.json?.count === again.usage.prompt_tokens, "/tokenize of messages counts what a chat request's prompt has");
  check((await post("/tokenize", { content: "x", parse_special: true })).status === 400, "/tokenize: an unknown field is a 400");
  check((await post("/detokenize", { tokens: [-1] })).status === 400, "/detokenize: a bad id is a 400");
  const props = JSON.parse((await curl(main.port, "/props", null, auth)).body);
  check(props.total_slots === 4 && props.default_generation_settings?.n_ctx === context && props.default_generation_settings?.speculative?.draft === "suffix",
    "/props: slots, context, default speculation");
  const slots = JSON.parse((await curl(main.port, "/slots", null, auth)).body);
  check(Array.isArray(slots) && slots.length === 4 && slots.every((s) => s.is_processing === false), "/slots: four idle slots");
  const one = await curl(main.port, "/v1/models/tern-pystd-7m", null, auth);
  check(one.status === 200 && JSON.parse(one.body).id === "tern-pystd-7m", "GET /v1/models/{id}");
  const none = await curl(main.port, "/v1/models/gpt-9", null, auth);
  check(none.status === 404 && JSON.parse(none.body).error?.code === "model_not_found", "GET /v1/models/{unknown}: 404 model_not_found");

  // A second server on the same port is an error (httplib's default SO_REUSEPORT let it share the port).
  const second = await new Promise((resolve) =>
    execFile(bin, ["serve", "-m", model, "--port", String(main.port), "-t", "1"], { timeout: 30000 },
      (err, _out, stderr) => resolve({ code: err ? err.code : 0, stderr })));
  check(second.code === 1 && /cannot listen on 127\.0\.0\.1:/.test(second.stderr),
    `a second server on a busy port: exit ${second.code}, ${second.stderr.trim()}`);

  // A burst of connections at once is accepted at once (a listen backlog of 5 left the rest to the
  // kernel's one-second SYN retry, seen as one-second first-token times with 16 clients).
  const t0 = performance.now();
  const sockets = await Promise.all(Array.from({ length: 64 }, () => new Promise((resolve, reject) => {
    const s = connect(main.port, "127.0.0.1", () => resolve([s, performance.now() - t0]));
    s.on("error", reject);
  })));
  sockets.forEach(([s]) => s.destroy());
  const slowest = Math.max(...sockets.map(([, ms]) => ms));
  check(slowest < 800, `64 simultaneous connections: the slowest connected after ${slowest.toFixed(0)} ms`);
} catch (e) {
  check(false, "exception: " + (e.stack || e) + (e.cause ? " cause: " + (e.cause.stack || e.cause) + " " + JSON.stringify(e.cause.cause?.code ?? e.cause.code ?? "") : ""));
} finally {
  main.proc.kill("SIGTERM");
  const code = await Promise.race([main.exited, sleep(10000).then(() => "timeout")]);
  check(code === 0, `SIGTERM: exit ${code}`);
  if (code !== 0) { main.proc.kill("SIGKILL"); console.log(main.log()); }
}

// A full queue: one slot, no waiting room; of requests sent together, those beyond the slot get 503.
const busy = await startServer(["-np", "1", "--max-queue", "0"]);
try {
  const burst = await Promise.all(
    Array.from({ length: 6 }, () =>
      fetch(`http://127.0.0.1:${busy.port}/v1/completions`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ prompt: "def f(x):", max_tokens: 400, temperature: 0 }),
      }).then(async (r) => ({ status: r.status, body: await r.json() }))
    )
  );
  const refused = burst.filter((r) => r.status === 503);
  check(burst.some((r) => r.status === 200) && refused.length > 0 && refused.every((r) => r.body.error?.code === "server_busy"),
    `queue full: HTTP ${burst.map((r) => r.status).join(",")}`);
} finally {
  busy.proc.kill("SIGTERM");
  check((await Promise.race([busy.exited, sleep(10000).then(() => "timeout")])) === 0, "second server exits 0");
}
process.exit(failures() ? 1 : 0);
