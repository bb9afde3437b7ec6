// llama.cpp's tokenizer (vocabulary only) on each string of a JSON array: the oracle for pre-tokenizers.
//   node llama_tokenize.mjs MODEL.gguf TEXTS.json   -> [[ids...], ...] (no special-token parsing)
import fs from "node:fs";
import {getLlama, LlamaLogLevel} from "node-llama-cpp";

const [modelPath, textsPath] = process.argv.slice(2);
const llama = await getLlama({gpu: false, build: "never", logLevel: LlamaLogLevel.warn});
let model;
try {
    model = await llama.loadModel({modelPath, gpuLayers: 0, vocabOnly: true});
} catch (e) {
    console.error(`llama.cpp refused ${modelPath}: ${e.message}`);
    process.exit(1);
}
const texts = JSON.parse(fs.readFileSync(textsPath, "utf8"));
console.log(JSON.stringify(texts.map((t) => Array.from(model.tokenize(t, false)))));
await model.dispose();
