// The independent oracle for GGUF interoperability: llama.cpp (prebuilt, through npm node-llama-cpp)
// loads MODEL.gguf and, for each position of the given token ids, reports its greedy next token.
//   node llama_top1.mjs MODEL.gguf IDS.json   -> {"top1": [...], "n_vocab": N}
//   node llama_top1.mjs MODEL.gguf            -> loads only, {"loaded": true, "n_vocab": N}
// Errors (llama.cpp refusing the file) go to stderr with exit code 1.
import fs from "node:fs";
import {loadModel} from "./llama_load.mjs";

const [modelPath, idsPath] = process.argv.slice(2);
const model = await loadModel(modelPath);
if (!idsPath) {
    console.log(JSON.stringify({loaded: true}));
    process.exit(0);
}
const ids = JSON.parse(fs.readFileSync(idsPath, "utf8"));
const context = await model.createContext({contextSize: Math.max(256, ids.length + 8), batchSize: 512, threads: 2});
const sequence = context.getSequence();
const input = ids.map((t) => [t, {generateNext: {token: true, options: {temperature: 0}}}]);
const out = await sequence.controlledEvaluate(input);
const top1 = out.map((o) => (o && o.next && o.next.token !== undefined ? o.next.token : -1));
console.log(JSON.stringify({top1}));
await context.dispose();
await model.dispose();
