// The ceiling of a ternary kernel's inner loop on this CPU: its step (four int8 activations broadcast against
// a 32-byte code plane, 32 products) issued for eight tokens from registers and L1 only. bench_kernels'
// MAC/s held against these says how much of the multiplier the kernel uses, and a batched forward's kernel
// time cannot go below the products it needs divided by them (docs/packed-layout.md).
//   step    the same plane register for every step;
//   planes  the kernel's mix: each code vector's four planes unpacked (shift, mask) inside the loop.
// Threads:2 runs one copy per core at once, as the kernel does.
#include <benchmark/benchmark.h>

#include <vector>

#include "bench/issue_rate/sweep_api.hpp"
#include "target/kernels/cpu_features.hpp"

using namespace ternspec;

namespace {

using Sweep = std::int64_t (*)(bool, const std::int8_t*, std::int64_t, std::int32_t*);

void issue(benchmark::State& st, Sweep sweep, KernelPath needs, bool planes) {
    if (sweep == nullptr || needs > best_kernel_path()) {
        st.SkipWithError("this CPU or build lacks the instructions");
        return;
    }
    std::vector<std::int8_t> x(static_cast<std::size_t>(issue_rate::kTokens) * issue_rate::kActBytes);
    for (std::size_t i = 0; i < x.size(); ++i)
        x[i] = static_cast<std::int8_t>(static_cast<int>(i * 37 % 255) - 127);
    std::int32_t sink = 0;
    std::int64_t steps = 0;
    for (auto _ : st) {
        steps += sweep(planes, x.data(), 1 << 16, &sink);
        benchmark::DoNotOptimize(sink);
    }
    st.counters["MAC/s"] = benchmark::Counter(static_cast<double>(steps) * 32, benchmark::Counter::kIsRate);
}

#if defined(TERNSPEC_BENCH_AVX2)
constexpr Sweep kMaddubs = issue_rate::maddubs_add;
#else
constexpr Sweep kMaddubs = nullptr;
#endif
#if defined(TERNSPEC_BENCH_AVX512VNNI)
constexpr Sweep kDpbusd = issue_rate::dpbusd;
#else
constexpr Sweep kDpbusd = nullptr;
#endif

}  // namespace

BENCHMARK_CAPTURE(issue, maddubs_add_step, kMaddubs, KernelPath::Avx2, false)
    ->Threads(1)
    ->Threads(2)
    ->UseRealTime();
BENCHMARK_CAPTURE(issue, maddubs_add_planes, kMaddubs, KernelPath::Avx2, true)
    ->Threads(1)
    ->Threads(2)
    ->UseRealTime();
BENCHMARK_CAPTURE(issue, dpbusd_step, kDpbusd, KernelPath::Avx512Vnni, false)
    ->Threads(1)
    ->Threads(2)
    ->UseRealTime();
BENCHMARK_CAPTURE(issue, dpbusd_planes, kDpbusd, KernelPath::Avx512Vnni, true)
    ->Threads(1)
    ->Threads(2)
    ->UseRealTime();

BENCHMARK_MAIN();
