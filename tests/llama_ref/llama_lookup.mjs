// llama.cpp's own speculation as node-llama-cpp exposes it (InputLookupTokenPredictor: prompt-lookup drafts,
// verified by the model), against plain greedy decoding of the same prompts: time, the predictor's statistics,
// and whether the text is the same. JSON on stdout.
//   node tests/llama_ref/llama_lookup.mjs MODEL.gguf PROMPTS.jsonl MAX_TOKENS [THREADS]
import {LlamaLogLevel, InputLookupTokenPredictor, LlamaCompletion} from "node-llama-cpp";
import {loadModel} from "./llama_load.mjs";
import {readFileSync} from "node:fs";
const [modelPath, promptFile, nArg, threadsArg] = process.argv.slice(2);
const threads = Number(threadsArg ?? 1);
const model = await loadModel(modelPath, {}, LlamaLogLevel.error);
const prompts = readFileSync(promptFile, "utf8").trim().split("\n").map((l) => JSON.parse(l).prompt);
const runs = [];
for (const usePred of [false, true]) {
  const context = await model.createContext({contextSize: 2048, threads});
  const sequence = context.getSequence(usePred ? {tokenPredictor: new InputLookupTokenPredictor()} : {});
  const completion = new LlamaCompletion({contextSequence: sequence});
  let t0 = Date.now(), texts = [];
  for (const p of prompts) {
    await sequence.clearHistory();
    texts.push(await completion.generateCompletion(p, {maxTokens: Number(nArg), temperature: 0}));
  }
  runs.push({predictor: usePred ? "InputLookupTokenPredictor" : "none", ms: Date.now() - t0,
             predictions: {...sequence.tokenPredictions}, texts});
  await context.dispose();
}
const [plain, lookup] = runs;
console.log(JSON.stringify({
  command: `node tests/llama_ref/llama_lookup.mjs ${modelPath} ${promptFile} ${nArg} ${threads}`, model: modelPath,
  prompts: prompts.length, max_tokens: Number(nArg), threads,
  plain_ms: plain.ms, lookup_ms: lookup.ms, lookup_speedup: plain.ms / lookup.ms, predictions: lookup.predictions,
  same_text: plain.texts.every((t, i) => t === lookup.texts[i]),
  texts_differing: plain.texts.filter((t, i) => t !== lookup.texts[i]).length,
}));
await model.dispose();
