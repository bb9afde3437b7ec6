// llama.cpp's forward cost on a GGUF (npm node-llama-cpp's prebuilt CPU build), for side-by-side tables with
// `ternspec bench forward` on the same file: a 64-token prefix, then the time of one decode step (M = 1, the
// median over `reps` steps of greedy generation) and of an M-token forward (evaluating M more tokens after the
// prefix, minus nothing: the context is cleared and the prefix evaluated untimed before each).
//   node tests/llama_ref/llama_forward.mjs MODEL.gguf THREADS REPS [M]   -> JSON on stdout
import {LlamaLogLevel} from "node-llama-cpp";
import {loadModel} from "./llama_load.mjs";

const [modelPath, threadsArg, repsArg, mArg] = process.argv.slice(2);
const threads = Number(threadsArg), reps = Number(repsArg), M = Number(mArg ?? 8);
const model = await loadModel(modelPath, {}, LlamaLogLevel.error);
const context = await model.createContext({contextSize: 512, batchSize: 512, threads});
const sequence = context.getSequence();
const prefix = Array.from({length: 64}, (_, i) => 10 + ((i * 7919) % 200));
const extra = Array.from({length: M}, (_, i) => 20 + ((i * 104729) % 200));
const median = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
const now = () => Number(process.hrtime.bigint()) / 1e6;
const forwardMs = [], decodeMs = [];
for (let r = 0; r <= reps; r++) {  // the first round warms up
    await sequence.clearHistory();
    await sequence.evaluateWithoutGeneratingNewTokens(prefix);
    const t0 = now();
    await sequence.evaluateWithoutGeneratingNewTokens(extra);
    const t1 = now();
    if (r > 0) forwardMs.push(t1 - t0);
    // Decode: greedy steps after the prefix and the M tokens, each timed.
    let last = now(), steps = 0;
    for await (const _ of sequence.evaluate([extra[0]], {temperature: 0})) {
        const t = now();
        if (r > 0 && steps > 0) decodeMs.push(t - last);
        last = t;
        if (++steps > 8) break;
    }
}
console.log(JSON.stringify({model: modelPath, threads, reps, m: M, decode_ms: median(decodeMs),
                            forward_m_ms: median(forwardMs), decode_runs: decodeMs.length}));
await context.dispose();
await model.dispose();
