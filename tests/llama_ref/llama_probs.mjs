// llama.cpp's next-token distribution at every position (teacher-forced): the oracle for forwards.
//   node llama_probs.mjs MODEL.gguf IDS.json OUT.json   -> OUT.json: {"n_vocab": N, "probs": [[p_0..p_{N-1}], ...]}
// Sampling options are neutral (temperature 1, no top-k/top-p/min-p cut), so the probabilities are the
// softmax of the logits. Errors (llama.cpp refusing the file) go to stderr with exit code 1.
import fs from "node:fs";
import {loadModel} from "./llama_load.mjs";

const [modelPath, idsPath, outPath] = process.argv.slice(2);
const model = await loadModel(modelPath);
const ids = JSON.parse(fs.readFileSync(idsPath, "utf8"));
const context = await model.createContext({contextSize: Math.max(256, ids.length + 8), batchSize: 512, threads: 2});
const sequence = context.getSequence();
const options = {temperature: 1, topK: 0, topP: 1, minP: 0};
const out = await sequence.controlledEvaluate(ids.map((t) => [t, {generateNext: {probabilities: true, options}}]));
const n = model.tokens.vocabSize ?? 0;
const probs = out.map((o) => {
    const row = new Array(n).fill(0);
    for (const [tok, p] of o.next.probabilities) row[tok] = p;
    return row;
});
fs.writeFileSync(outPath, JSON.stringify({n_vocab: n, probs}));
await context.dispose();
await model.dispose();
