// Google Benchmark of the whole target forward (all layers, attention over a cached prefix, LM head) per
// number of tokens per call: the t(M) curve that speculative decoding pays. Runs on the shipped model, and on
// any other model named by TERNSPEC_BENCH_MODEL (e.g. the synthetic Qwen3-1.7B of `ternspec synth`).
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <numeric>

#include "target/model/filler_tokens.hpp"
#include "target/model/model_files.hpp"
#include "target/model/qwen3_model.hpp"

using namespace ternspec;

namespace {

constexpr int kPrefix = 128;

const Qwen3Model& model(const std::string& path) {
    static std::map<std::string, std::shared_ptr<Qwen3Model>> loaded;
    auto& m = loaded[path];
    if (!m) m = Qwen3Model::load(ModelFiles::open(path));
    return *m;
}

void forward(benchmark::State& st, const std::string& path) {
    if (path.empty()) {
        st.SkipWithError("TERNSPEC_BENCH_MODEL is not set");
        return;
    }
    const Qwen3Model& m = model(path);
    const int tokens = static_cast<int>(st.range(0));
    KvCache cache = m.make_cache(kPrefix + tokens + 1);
    const FillerTokens fill(m.config(), static_cast<std::size_t>(kPrefix + tokens));
    m.forward(cache, fill.slice(0, kPrefix, false));
    const ForwardInput in = fill.slice(kPrefix, static_cast<std::size_t>(tokens));
    for (auto _ : st) {
        auto out = m.forward(cache, in);
        benchmark::DoNotOptimize(out.logits.data());
        cache.trim_by(tokens);
    }
    st.counters["tokens/s"] =
        benchmark::Counter(static_cast<double>(st.iterations()) * tokens, benchmark::Counter::kIsRate);
}

const char* env_model() {
    const char* p = std::getenv("TERNSPEC_BENCH_MODEL");
    return p ? p : "";
}

}  // namespace

BENCHMARK_CAPTURE(forward, shipped_7m, std::string(TERNSPEC_SOURCE_DIR) + "/models/tern-pystd-7m")
    ->RangeMultiplier(2)
    ->Range(1, 16)
    ->UseRealTime();
BENCHMARK_CAPTURE(forward, env_model, std::string(env_model()))->Arg(1)->Arg(4)->Arg(8)->UseRealTime();

BENCHMARK_MAIN();
