#include "target/model/attention.hpp"

#include <tbb/parallel_for.h>

#include <algorithm>
#include <cmath>
#include <numeric>

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

// q . k in eight fixed lanes combined in a fixed order: vectorisable without -ffast-math, and the same
// result for a (token, head) whatever else shares the call.
inline float dot(const float* a, const float* b, int n) {
    float l[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int e = 0;
    for (; e + 8 <= n; e += 8)
        for (int j = 0; j < 8; ++j) l[j] += a[e + j] * b[e + j];
    float tail = 0;
    for (; e < n; ++e) tail += a[e] * b[e];
    return (((l[0] + l[4]) + (l[2] + l[6])) + ((l[1] + l[5]) + (l[3] + l[7]))) + tail;
}

}  // namespace

void attend(const KvCache& cache, int layer, const std::vector<std::vector<int>>& slots, const float* q,
            std::size_t q_stride, int nh, int nkv, int hd, float* out) {
    const int M = static_cast<int>(slots.size());
    const int rep = nh / nkv;
    const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
    // Per (token, kv head): that head's keys and values are converted once and serve every query head of
    // its group; each query head sums over its slots in slot order.
    tbb::parallel_for(0, M * nkv, [&](int task) {
        const int i = task / nkv, g = task % nkv;
        const auto& sl = slots[static_cast<std::size_t>(i)];
        const std::size_t S = sl.size();
        thread_local std::vector<float> buf, scores;
        buf.resize(static_cast<std::size_t>(hd));
        scores.resize(S * static_cast<std::size_t>(rep));
        const float* q0 = q + static_cast<std::size_t>(i) * q_stride + static_cast<std::size_t>(g) * rep * hd;
        for (std::size_t s = 0; s < S; ++s) {
            cache.load_part(layer, sl[s], false, g * hd, hd, buf.data());
            for (int r = 0; r < rep; ++r)
                scores[static_cast<std::size_t>(r) * S + s] = dot(q0 + r * hd, buf.data(), hd) * scale;
        }
        for (int r = 0; r < rep; ++r) {
            float* sc = scores.data() + static_cast<std::size_t>(r) * S;
            const float mx = *std::max_element(sc, sc + S);
            double denom = 0;
            for (std::size_t s = 0; s < S; ++s) {
                sc[s] = std::exp(sc[s] - mx);
                denom += sc[s];
            }
            const float inv = static_cast<float>(1.0 / denom);
            for (std::size_t s = 0; s < S; ++s) sc[s] *= inv;
        }
        float* o0 = out + static_cast<std::size_t>(i) * static_cast<std::size_t>(nh) * hd +
                    static_cast<std::size_t>(g) * rep * hd;
        std::fill(o0, o0 + rep * hd, 0.0f);
        for (std::size_t s = 0; s < S; ++s) {
            cache.load_part(layer, sl[s], true, g * hd, hd, buf.data());
            for (int r = 0; r < rep; ++r) {
                const float p = scores[static_cast<std::size_t>(r) * S + s];
                float* o = o0 + r * hd;
                for (int e = 0; e < hd; ++e) o[e] += p * buf[static_cast<std::size_t>(e)];
            }
        }
    });
}

}  // namespace ternspec
