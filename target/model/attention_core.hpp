#pragma once
// The body of attend() for one kv head and a run of tokens, shared by the generic and the AVX2 translation
// units, which instantiate it with their own row operations. The tokens of a call share their cached
// prefix, so each key and value row of that prefix is read and converted once and serves every query of
// the run; before, each token converted the whole prefix again, and attention was half of a forward of
// eight tokens on the shipped model. Per (token, head) the arithmetic and its order are those of one
// token alone: scores in slot order, the same dot and the same accumulation, so batching changes nothing.
#include <cmath>
#include <cstddef>
#include <vector>

#include "target/kernels/fast_math.hpp"
#include "target/model/kv_cache.hpp"

namespace ternspec::attention_detail {

struct AttendJob {
    const KvCache& cache;
    int layer;
    const std::vector<std::vector<int>>& slots;
    const float* q;
    std::size_t q_stride;
    int heads, kv_heads, head_dim;
    float* out;
};

inline constexpr int kRowChunk = 16;  // cache rows converted at a time

// One task: kv head g for tokens [i0, i1). The generic translation unit fills it, scratch included, so that
// the AVX2 one instantiates no standard-library template of its own: an inline function compiled with
// -mavx2 could otherwise be the copy the linker keeps for the generic path too.
struct AttendRun {
    int g, i0, i1;
    std::size_t shared;   // leading slots that every token of the run attends to, in the same order
    std::size_t longest;  // the longest slot list of the run
    float* rows;          // kRowChunk * head_dim floats
    float* scores;        // (i1 - i0) * heads-per-group * longest floats
};

// Ops provides:
//   static void rows(const KvCache&, int layer, const int* slots, int count, bool value, int head,
//                    float* out)   -- kv head `head`'s slices of count slots, converted to float;
//   static void dots(const float* q, const float* k, int count, int n, float* out)  -- out[c] is the dot of q
//       with row c of k (n floats each), summed in eight lanes combined in a fixed order;
//   static void axpy_rows(const float* p, const float* v, int count, float* o, int n)  -- for each of `count`
//       rows c in order, o[e] = o[e] + p[c] * v[c * n + e]; the output stays in registers across the rows.
template <class Ops>
void attend_run(const AttendJob& job, const AttendRun& run) {
    const int g = run.g, i0 = run.i0, i1 = run.i1;
    const int hd = job.head_dim;
    const int rep = job.heads / job.kv_heads;
    const int n_tok = i1 - i0;
    const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
    const std::size_t shared = run.shared, longest = run.longest;
    float* const rows = run.rows;
    float* const scores = run.scores;
    auto query = [&](int t, int r) {
        return job.q + static_cast<std::size_t>(i0 + t) * job.q_stride +
               static_cast<std::size_t>(g * rep + r) * hd;
    };
    auto score_row = [&](int t, int r) { return scores + (static_cast<std::size_t>(t) * rep + r) * longest; };
    auto output = [&](int t, int r) {
        return job.out + static_cast<std::size_t>(i0 + t) * job.heads * hd +
               static_cast<std::size_t>(g * rep + r) * hd;
    };
    // Runs a pass over slot range [s0, s1) of the tokens [t0, t1): `each(t, r, s, count, rows)` per chunk of
    // `count` converted rows starting at slot index s.
    auto pass = [&](bool value, int t0, int t1, std::size_t s0, std::size_t s1, auto&& each) {
        const int* sl = job.slots[static_cast<std::size_t>(i0 + t0)].data();
        for (std::size_t c0 = s0; c0 < s1; c0 += kRowChunk) {
            const int count =
                static_cast<int>(s1 - c0 < std::size_t{kRowChunk} ? s1 - c0 : std::size_t{kRowChunk});
            Ops::rows(job.cache, job.layer, sl + c0, count, value, g, rows);
            for (int t = t0; t < t1; ++t)
                for (int r = 0; r < rep; ++r) each(t, r, c0, count, rows);
        }
    };

    auto score = [&](int t, int r, std::size_t s, int count, const float* k) {
        float* out = score_row(t, r) + s;
        Ops::dots(query(t, r), k, count, hd, out);
        for (int c = 0; c < count; ++c) out[c] *= scale;
    };
    pass(false, 0, n_tok, 0, shared, score);
    for (int t = 0; t < n_tok; ++t)
        pass(false, t, t + 1, shared, job.slots[static_cast<std::size_t>(i0 + t)].size(), score);

    for (int t = 0; t < n_tok; ++t) {
        const std::size_t S = job.slots[static_cast<std::size_t>(i0 + t)].size();
        for (int r = 0; r < rep; ++r) {
            float* sc = score_row(t, r);
            float mx = sc[0];
            for (std::size_t s = 1; s < S; ++s) mx = sc[s] > mx ? sc[s] : mx;
            exp_shifted_row(sc, static_cast<int>(S), mx);
            double part[4] = {0, 0, 0, 0};
            std::size_t s = 0;
            for (; s + 4 <= S; s += 4)
                for (int j = 0; j < 4; ++j) part[j] += sc[s + static_cast<std::size_t>(j)];
            for (; s < S; ++s) part[0] += sc[s];
            const double denom = (part[0] + part[1]) + (part[2] + part[3]);
            const float inv = static_cast<float>(1.0 / denom);
            for (s = 0; s < S; ++s) sc[s] *= inv;
            float* o = output(t, r);
            for (int e = 0; e < hd; ++e) o[e] = 0.0f;
        }
    }

    auto accumulate = [&](int t, int r, std::size_t s, int count, const float* v) {
        Ops::axpy_rows(score_row(t, r) + s, v, count, output(t, r), hd);
    };
    pass(true, 0, n_tok, 0, shared, accumulate);
    for (int t = 0; t < n_tok; ++t)
        pass(true, t, t + 1, shared, job.slots[static_cast<std::size_t>(i0 + t)].size(), accumulate);
}

// attend_run instantiated for the scalar and AVX2 row operations: KernelTable::attend_run (kernel_table.hpp).

}  // namespace ternspec::attention_detail
