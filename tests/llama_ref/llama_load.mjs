// The prebuilt llama.cpp (npm node-llama-cpp, CPU, never rebuilt) and a model loaded on it; a file llama.cpp
// refuses ends the process with its message on stderr and exit code 1, which the callers' tests read.
import {getLlama, LlamaLogLevel} from "node-llama-cpp";

export async function loadModel(modelPath, options = {}, logLevel = LlamaLogLevel.warn) {
    const llama = await getLlama({gpu: false, build: "never", logLevel});
    try {
        return await llama.loadModel({modelPath, gpuLayers: 0, ...options});
    } catch (e) {
        console.error(`llama.cpp refused ${modelPath}: ${e.message}`);
        process.exit(1);
    }
}
