#include "verify/sampler.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "ternspec/error.hpp"

namespace ternspec {

void validate(const SamplingParams& p) {
    auto bad = [](const char* name, double v, const char* range) {
        throw InputError(std::string("sampling ") + name + " " + std::to_string(v) + " is out of range (" +
                         range + ")");
    };
    if (!std::isfinite(p.temperature) || p.temperature < 0)
        bad("temperature", p.temperature, ">= 0; 0 is greedy");
    if (p.top_k < 0) bad("top_k", p.top_k, ">= 0; 0 is off");
    if (!std::isfinite(p.top_p) || !(p.top_p > 0) || p.top_p > 1) bad("top_p", p.top_p, "0 < top_p <= 1");
    if (!std::isfinite(p.min_p) || p.min_p < 0 || p.min_p > 1) bad("min_p", p.min_p, "0 <= min_p <= 1");
}

std::int32_t argmax(const float* logits, int n) {
    int best = 0;
    for (int i = 1; i < n; ++i)
        if (logits[i] > logits[best]) best = i;
    return best;
}

std::vector<float> target_distribution(const float* logits, int n, const SamplingParams& sp) {
    std::vector<float> p(static_cast<std::size_t>(n), 0.0f);
    if (sp.greedy()) {
        p[static_cast<std::size_t>(argmax(logits, n))] = 1.0f;
        return p;
    }
    const float mx = *std::max_element(logits, logits + n);
    double total = 0;
    for (int i = 0; i < n; ++i) {
        p[i] = static_cast<float>(std::exp((logits[i] - mx) / sp.temperature));
        total += p[i];
    }
    for (auto& v : p) v = static_cast<float>(v / total);
    std::vector<int> order(static_cast<std::size_t>(n));
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return p[a] > p[b]; });
    std::size_t keep = order.size();
    if (sp.top_k > 0) keep = std::min(keep, static_cast<std::size_t>(sp.top_k));
    if (sp.top_p < 1.0f) {
        double cum = 0;
        for (std::size_t i = 0; i < keep; ++i) {
            cum += p[order[i]];
            if (cum >= sp.top_p) {
                keep = i + 1;
                break;
            }
        }
    }
    if (sp.min_p > 0.0f) {
        const float floor = sp.min_p * p[order[0]];
        std::size_t k = 1;
        while (k < keep && p[order[k]] >= floor) ++k;
        keep = k;
    }
    for (std::size_t i = keep; i < order.size(); ++i) p[order[i]] = 0.0f;
    double kept = 0;
    for (std::size_t i = 0; i < keep; ++i) kept += p[order[i]];
    for (std::size_t i = 0; i < keep; ++i) p[order[i]] = static_cast<float>(p[order[i]] / kept);
    return p;
}

std::int32_t Rng::draw(const std::vector<float>& probs) {
    double total = 0;
    for (float v : probs) total += v;
    if (!(total > 0)) throw Error("sampling from an empty distribution");
    double u = uniform() * total;
    std::int32_t last = 0;
    for (std::size_t i = 0; i < probs.size(); ++i) {
        if (probs[i] <= 0) continue;
        last = static_cast<std::int32_t>(i);
        u -= probs[i];
        if (u < 0) return last;
    }
    return last;
}

}  // namespace ternspec
