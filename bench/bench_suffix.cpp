// The suffix drafter's per-call costs against issue #21's limits: begin for a 1,000-token prompt, observe
// per token, propose per call (chain of 8 from a 1,000-token context). The context is recorded greedy
// output of the shipped model on bench/workloads (bench/suffix/streams-*.jsonl), so the matches are real.
#include <benchmark/benchmark.h>

#include "bench/suffix/replay.hpp"
#include "drafters/suffix_drafter.hpp"

namespace {

using ternspec::bench::read_streams;

// 1,000 tokens of real requests, one after another, and the tokens that follow them.
std::vector<std::int32_t> real_tokens(std::size_t n) {
    std::vector<std::int32_t> all;
    for (const auto* f : {"/bench/suffix/streams-editing.jsonl", "/bench/suffix/streams-completion.jsonl"})
        for (const auto& s : read_streams(std::string(TERNSPEC_SOURCE_DIR) + f)) {
            all.insert(all.end(), s.prompt.begin(), s.prompt.end());
            all.insert(all.end(), s.output.begin(), s.output.end());
        }
    all.resize(std::min(all.size(), n));
    return all;
}

void BM_Begin1000(benchmark::State& state) {
    const auto prompt = real_tokens(1000);
    ternspec::SuffixDrafter d({});
    for (auto _ : state) d.begin(prompt, nullptr);
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * prompt.size()));
}
BENCHMARK(BM_Begin1000);

void BM_ObservePerToken(benchmark::State& state) {
    const auto toks = real_tokens(4000);
    const std::span<const std::int32_t> prompt(toks.data(), 1000);
    ternspec::SuffixDrafter d({});
    std::size_t i = 1000;
    d.begin(prompt, nullptr);
    for (auto _ : state) {
        if (i == toks.size()) {
            state.PauseTiming();
            d.begin(prompt, nullptr);
            i = 1000;
            state.ResumeTiming();
        }
        d.observe(std::span(toks).subspan(i++, 1), nullptr);
    }
}
BENCHMARK(BM_ObservePerToken);

void BM_ProposeChain8(benchmark::State& state) {
    const auto toks = real_tokens(2000);
    ternspec::SuffixDrafter d({});
    d.begin(std::span(toks).first(1000), nullptr);
    std::size_t end = 1000;
    for (auto _ : state) {
        // Every call one token further: the context a decode round sees, synced incrementally.
        if (end == toks.size()) {
            state.PauseTiming();
            d.begin(std::span(toks).first(1000), nullptr);
            end = 1000;
            state.ResumeTiming();
        }
        benchmark::DoNotOptimize(d.propose(std::span(toks).first(++end), {8, 0}));
    }
}
BENCHMARK(BM_ProposeChain8);

}  // namespace

BENCHMARK_MAIN();
