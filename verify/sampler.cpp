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
    if (!std::isfinite(p.repeat_penalty) || !(p.repeat_penalty > 0))
        bad("repeat_penalty", p.repeat_penalty, "> 0; 1 is off");
    if (p.repeat_last_n < -1) bad("repeat_last_n", p.repeat_last_n, ">= -1; -1 is the whole context");
    if (!std::isfinite(p.presence_penalty) || p.presence_penalty < -2 || p.presence_penalty > 2)
        bad("presence_penalty", p.presence_penalty, "-2 to 2; 0 is off");
    if (!std::isfinite(p.frequency_penalty) || p.frequency_penalty < -2 || p.frequency_penalty > 2)
        bad("frequency_penalty", p.frequency_penalty, "-2 to 2; 0 is off");
}

void apply_repeat_penalty(float* logits, int n, const SamplingParams& p,
                          std::span<const std::int32_t> context) {
    if (!p.penalized()) return;
    const std::size_t last = p.repeat_last_n < 0
                                 ? context.size()
                                 : std::min(context.size(), static_cast<std::size_t>(p.repeat_last_n));
    std::vector<std::int32_t> seen(context.end() - static_cast<std::ptrdiff_t>(last), context.end());
    std::sort(seen.begin(), seen.end());
    for (std::size_t i = 0; i < seen.size();) {
        const std::int32_t t = seen[i];
        std::size_t j = i;
        while (j < seen.size() && seen[j] == t) ++j;
        const auto count = static_cast<float>(j - i);
        i = j;
        if (t < 0 || t >= n) continue;
        float& l = logits[t];
        if (p.repeat_penalty != 1.0f) l = l > 0 ? l / p.repeat_penalty : l * p.repeat_penalty;
        l -= p.presence_penalty + count * p.frequency_penalty;
    }
}

std::int32_t argmax(const float* logits, int n) {
    int best = 0;
    for (int i = 1; i < n; ++i)
        if (logits[i] > logits[best]) best = i;
    return best;
}

namespace {

// The first `n` entries of `order` (indices into p) become the n most likely, most likely first, ties to
// the lowest id: the order every filter is defined on.
void sort_prefix(std::vector<int>& order, std::size_t n, const std::vector<float>& p) {
    const auto before = [&](int a, int b) { return p[a] > p[b] || (p[a] == p[b] && a < b); };
    n = std::min(n, order.size());
    std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(n), order.end(), before);
}

}  // namespace

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
    // The kept set is a prefix of the tokens sorted by probability (top-k, then top-p, then min-p). Only
    // as much of the order as the filters look at is sorted: a full sort of a 150K vocabulary per token
    // made sampling several times slower than greedy decoding.
    std::size_t keep = p.size();
    if (sp.top_k > 0) keep = std::min(keep, static_cast<std::size_t>(sp.top_k));
    std::vector<int> order;
    std::size_t sorted = 0;
    auto ensure_sorted = [&](std::size_t upto) {
        if (order.empty()) {
            order.resize(p.size());
            std::iota(order.begin(), order.end(), 0);
        }
        if (upto > sorted) {
            // Sort a growing prefix: the top 64 usually settle top-p; else 8x more, up to everything.
            std::size_t want = std::max<std::size_t>(64, sorted * 8);
            want = std::max(want, upto);
            sort_prefix(order, want, p);
            sorted = std::min(want, order.size());
        }
    };
    if (keep < p.size()) ensure_sorted(keep);
    if (sp.top_p < 1.0f) {
        double cum = 0;
        for (std::size_t i = 0; i < keep; ++i) {
            ensure_sorted(i + 1);
            cum += p[static_cast<std::size_t>(order[i])];
            if (cum >= sp.top_p) {
                keep = i + 1;
                break;
            }
        }
    }
    if (sp.min_p > 0.0f) {
        const float floor = sp.min_p * (order.empty() ? *std::max_element(p.begin(), p.end())
                                                      : p[static_cast<std::size_t>(order[0])]);
        if (keep == p.size() && order.empty()) {
            // No other filter: every token at or above the floor stays; no order needed.
            double kept = 0;
            for (auto& v : p) {
                if (v < floor) v = 0.0f;
                kept += v;
            }
            for (auto& v : p) v = static_cast<float>(v / kept);
            return p;
        }
        ensure_sorted(keep);
        std::size_t k = 1;
        while (k < keep && p[static_cast<std::size_t>(order[k])] >= floor) ++k;
        keep = k;
    }
    if (keep == p.size()) return p;  // temperature alone: the softmax
    std::vector<float> out(p.size(), 0.0f);
    double kept = 0;
    for (std::size_t i = 0; i < keep; ++i) kept += p[static_cast<std::size_t>(order[i])];
    for (std::size_t i = 0; i < keep; ++i)
        out[static_cast<std::size_t>(order[i])] =
            static_cast<float>(p[static_cast<std::size_t>(order[i])] / kept);
    return out;
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
