// Google Benchmark of the packed ternary kernel at Qwen3-1.7B's shapes, per kernel path and batch size.
// Reports bytes read (packed weights) per second, the figure to hold against the machine's bandwidth.
#include <benchmark/benchmark.h>

#include <random>

#include "target/kernels/cpu_features.hpp"
#include "target/kernels/ternary_matrix.hpp"

using namespace ternspec;

namespace {

TernaryMatrix matrix(int rows, int cols) {
    std::mt19937 rng(1);
    std::vector<std::int8_t> t(static_cast<std::size_t>(rows) * cols);
    for (auto& v : t) v = static_cast<std::int8_t>(static_cast<int>(rng() % 3) - 1);
    std::vector<float> s(t.size() / 128, 0.02f);
    return TernaryMatrix(rows, cols, 128, t, s, "bench");
}

void run(benchmark::State& st, int rows, int cols, KernelPath path) {
    const int m = static_cast<int>(st.range(0));
    if (path > best_kernel_path()) {
        st.SkipWithError("this CPU or build lacks the path");
        return;
    }
    static std::map<std::pair<int, int>, TernaryMatrix> cache;
    auto it = cache.find({rows, cols});
    if (it == cache.end()) it = cache.emplace(std::make_pair(rows, cols), matrix(rows, cols)).first;
    const TernaryMatrix& w = it->second;
    std::vector<float> x(static_cast<std::size_t>(m) * cols, 0.5f), y(static_cast<std::size_t>(m) * rows);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 13) - 6.0f;
    QuantizedActivations qa;
    qa.quantize(x.data(), m, cols);
    const auto before = kernel_path();
    force_kernel_path(path);
    for (auto _ : st) {
        ternary_matmul(w, qa, y.data());
        benchmark::DoNotOptimize(y.data());
    }
    force_kernel_path(before);
    st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations()) * static_cast<std::int64_t>(w.bytes()));
    st.counters["MAC/s"] = benchmark::Counter(static_cast<double>(st.iterations()) * rows * cols * m,
                                              benchmark::Counter::kIsRate);
}

}  // namespace

// ffn_gate+up fused (12288 x 2048), ffn_down (2048 x 6144), attention qkv fused (4096 x 2048).
BENCHMARK_CAPTURE(run, gate_up_avx2, 12288, 2048, KernelPath::Avx2)
    ->Arg(1)
    ->Arg(2)
    ->Arg(4)
    ->Arg(8)
    ->Arg(16)
    ->UseRealTime();
BENCHMARK_CAPTURE(run, down_avx2, 2048, 6144, KernelPath::Avx2)->Arg(1)->Arg(8)->UseRealTime();
BENCHMARK_CAPTURE(run, qkv_avx2, 4096, 2048, KernelPath::Avx2)->Arg(1)->Arg(8)->UseRealTime();
BENCHMARK_CAPTURE(run, gate_up_avx512vnni, 12288, 2048, KernelPath::Avx512Vnni)
    ->Arg(1)
    ->Arg(4)
    ->Arg(8)
    ->UseRealTime();
BENCHMARK_CAPTURE(run, down_avx512vnni, 2048, 6144, KernelPath::Avx512Vnni)->Arg(1)->Arg(8)->UseRealTime();
BENCHMARK_CAPTURE(run, qkv_avx512vnni, 4096, 2048, KernelPath::Avx512Vnni)->Arg(1)->Arg(8)->UseRealTime();
// The tied LM head (151936 x 2048): 311 M multiply-adds per token, a fifth of the model's.
BENCHMARK_CAPTURE(run, lm_head_avx512vnni, 151936, 2048, KernelPath::Avx512Vnni)
    ->Arg(1)
    ->Arg(8)
    ->UseRealTime();
BENCHMARK_CAPTURE(run, gate_up_scalar, 12288, 2048, KernelPath::Scalar)->Arg(1)->Arg(8)->UseRealTime();

BENCHMARK_MAIN();
