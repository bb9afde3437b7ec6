// llama.cpp's tokenizer (vocabulary only) on each string of a JSON array: the oracle for pre-tokenizers.
//   node llama_tokenize.mjs MODEL.gguf TEXTS.json   -> [[ids...], ...] (no special-token parsing)
import fs from "node:fs";
import {loadModel} from "./llama_load.mjs";

const [modelPath, textsPath] = process.argv.slice(2);
const model = await loadModel(modelPath, {vocabOnly: true});
const texts = JSON.parse(fs.readFileSync(textsPath, "utf8"));
console.log(JSON.stringify(texts.map((t) => Array.from(model.tokenize(t, false)))));
await model.dispose();
