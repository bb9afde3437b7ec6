#include "target/model/attention.hpp"

#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "target/kernels/cpu_features.hpp"
#include "target/kernels/kernel_table.hpp"
#include "target/kernels/kernel_variants.hpp"
#include "target/model/attention_core.hpp"
#include "ternspec/error.hpp"

namespace ternspec {

std::vector<std::vector<int>> attention_slots(int base, int M, std::span<const std::int32_t> parents) {
    std::vector<std::vector<int>> slots(static_cast<std::size_t>(M));
    for (int i = 0; i < M; ++i) {
        auto& sl = slots[static_cast<std::size_t>(i)];
        sl.resize(static_cast<std::size_t>(base));
        std::iota(sl.begin(), sl.end(), 0);
        if (parents.empty()) {
            for (int j = 0; j <= i; ++j) sl.push_back(base + j);
        } else {
            std::vector<int> chain;
            for (int j = i; j >= 0; j = parents[static_cast<std::size_t>(j)]) chain.push_back(base + j);
            sl.insert(sl.end(), chain.rbegin(), chain.rend());
        }
    }
    return slots;
}

RopeTable::RopeTable(std::span<const std::int32_t> positions, int head_dim, double theta)
    : half(head_dim / 2) {
    cos.resize(positions.size() * static_cast<std::size_t>(half));
    sin.resize(cos.size());
    for (std::size_t i = 0; i < positions.size(); ++i)
        for (int j = 0; j < half; ++j) {
            const double a = static_cast<double>(positions[i]) * std::pow(theta, -2.0 * j / head_dim);
            cos[i * static_cast<std::size_t>(half) + static_cast<std::size_t>(j)] =
                static_cast<float>(std::cos(a));
            sin[i * static_cast<std::size_t>(half) + static_cast<std::size_t>(j)] =
                static_cast<float>(std::sin(a));
        }
}

void RopeTable::apply(float* v, int token) const {
    const float* c = cos.data() + static_cast<std::size_t>(token) * static_cast<std::size_t>(half);
    const float* s = sin.data() + static_cast<std::size_t>(token) * static_cast<std::size_t>(half);
    for (int j = 0; j < half; ++j) {
        const float x1 = v[j], x2 = v[j + half];
        v[j] = x1 * c[j] - x2 * s[j];
        v[j + half] = x2 * c[j] + x1 * s[j];
    }
}

namespace {

// Slots every token of [i0, i1) attends to first, in the same order: the cached prefix and, in a chain,
// the first new token.
std::size_t shared_prefix(const std::vector<std::vector<int>>& slots, int i0, int i1) {
    const auto& first = slots[static_cast<std::size_t>(i0)];
    std::size_t n = first.size();
    for (int i = i0 + 1; i < i1; ++i) {
        const auto& sl = slots[static_cast<std::size_t>(i)];
        n = std::min(n, sl.size());
        std::size_t s = 0;
        while (s < n && sl[s] == first[s]) ++s;
        n = s;
    }
    return n;
}

struct GenericOps {
    static void rows(const KvCache& cache, int layer, const int* slots, int count, bool value, int head,
                     float* out) {
        const int n = cache.head_dim();
        for (int c = 0; c < count; ++c)
            cache.load_part(layer, slots[c], value, head * n, n, out + static_cast<std::size_t>(c) * n);
    }
    // Eight fixed lanes combined in a fixed order: vectorisable without -ffast-math; the AVX2 body
    // (attention_avx2.cpp) computes the same floats.
    static float dot(const float* a, const float* b, int n) {
        float l[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        int e = 0;
        for (; e + 8 <= n; e += 8)
            for (int j = 0; j < 8; ++j) l[j] += a[e + j] * b[e + j];
        float tail = 0;
        for (; e < n; ++e) tail += a[e] * b[e];
        return (((l[0] + l[4]) + (l[2] + l[6])) + ((l[1] + l[5]) + (l[3] + l[7]))) + tail;
    }
    static void dots(const float* q, const float* k, int count, int n, float* out) {
        for (int c = 0; c < count; ++c) out[c] = dot(q, k + static_cast<std::size_t>(c) * n, n);
    }
    static void axpy_rows(const float* p, const float* v, int count, float* o, int n) {
        for (int c = 0; c < count; ++c)
            for (int e = 0; e < n; ++e) o[e] += p[c] * v[static_cast<std::size_t>(c) * n + e];
    }
};

}  // namespace

void attention_detail::attend_run_generic(const AttendJob& job, const AttendRun& run) {
    attend_run<GenericOps>(job, run);
}

void attend(const KvCache& cache, int layer, const std::vector<std::vector<int>>& slots, const float* q,
            std::size_t q_stride, int nh, int nkv, int hd, float* out) {
    const int M = static_cast<int>(slots.size());
    const attention_detail::AttendJob job{cache, layer, slots, q, q_stride, nh, nkv, hd, out};
    // One task per kv head and run of tokens; runs are as long as the threads allow, since a run shares the
    // conversion of its prefix rows.
    const int threads = tbb::this_task_arena::max_concurrency();
    const int runs = std::clamp((threads + nkv - 1) / nkv, 1, std::max(1, M));
    const int per_run = (M + runs - 1) / std::max(1, runs);
    const auto attend_run = kernels().attend_run;
    tbb::parallel_for(0, nkv * runs, [&](int task) {
        const int g = task % nkv, i0 = (task / nkv) * per_run, i1 = std::min(M, i0 + per_run);
        if (i0 >= i1) return;
        attention_detail::AttendRun run{g, i0, i1, shared_prefix(slots, i0, i1), 0, nullptr, nullptr};
        for (int i = i0; i < i1; ++i)
            run.longest = std::max(run.longest, slots[static_cast<std::size_t>(i)].size());
        thread_local std::vector<float> rows, scores;
        rows.resize(static_cast<std::size_t>(attention_detail::kRowChunk) * hd);
        scores.resize(static_cast<std::size_t>(i1 - i0) * (nh / nkv) * run.longest);
        run.rows = rows.data();
        run.scores = scores.data();
        attend_run(job, run);
    });
}

}  // namespace ternspec
