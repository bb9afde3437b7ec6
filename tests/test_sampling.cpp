// Sampling stays exact with speculation: the tokens emitted at depths 1-4 follow the same distribution as
// plain sampling, for one-hot drafts (suffix) and soft drafts (EAGLE, MTP: drawn from the drafter's own
// processed distribution and verified with it), chains and trees, with temperature, top-k, top-p and min-p
// all on; and for a drafter whose distribution is deliberately wrong. Two-sample chi-squared tests with
// fixed seeds (deterministic), each against its 0.9999 quantile.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <random>

#include "drafters/drafter.hpp"
#include "runtime/speculative_decoder.hpp"
#include "target/model/qwen3_model.hpp"
#include "tests/support/test_models.hpp"

using namespace ternspec;

namespace {

constexpr int kDepths = 4;

// 0.9999 quantile of chi-squared with k degrees of freedom (Wilson-Hilferty).
double chi2_quantile_9999(int k) {
    const double z = 3.719, a = 2.0 / (9.0 * k);
    return k * std::pow(1 - a + z * std::sqrt(a), 3);
}

// Homogeneity of two samples of equal size; cells with fewer than 10 draws in both together are pooled.
// Returns (statistic, degrees of freedom).
std::pair<double, int> two_sample_chi2(const std::map<int, int>& a, const std::map<int, int>& b) {
    std::map<int, std::pair<int, int>> cells;
    for (const auto& [t, n] : a) cells[t].first += n;
    for (const auto& [t, n] : b) cells[t].second += n;
    std::vector<std::pair<int, int>> kept;
    std::pair<int, int> pooled{0, 0};
    for (const auto& [t, ab] : cells)
        if (ab.first + ab.second >= 10)
            kept.push_back(ab);
        else
            pooled.first += ab.first, pooled.second += ab.second;
    if (pooled.first + pooled.second > 0) kept.push_back(pooled);
    double x = 0;
    for (const auto& [x1, x2] : kept)
        if (x1 + x2 > 0) x += double(x1 - x2) * (x1 - x2) / (x1 + x2);
    return {x, static_cast<int>(kept.size()) - 1};
}

// Per depth, the tokens emitted by `runs` decodes of kDepths tokens, each with its own seed.
std::vector<std::map<int, int>> emitted(std::shared_ptr<const Qwen3Model> m, Drafter* d, DecodeOptions o,
                                        std::span<const std::int32_t> prompt, int runs, std::uint64_t seed0,
                                        std::int64_t* drafted, std::int64_t* accepted) {
    std::vector<std::map<int, int>> counts(kDepths);
    o.max_new_tokens = kDepths;
    o.stop_at_eos = false;
    for (int r = 0; r < runs; ++r) {
        o.sampling.seed = seed0 + static_cast<std::uint64_t>(r);
        const auto res = SpeculativeDecoder(m, d).run(prompt, o);
        for (int i = 0; i < kDepths; ++i)
            counts[static_cast<std::size_t>(i)][res.tokens[static_cast<std::size_t>(i)]]++;
        if (drafted) *drafted += res.stats.drafted, *accepted += res.stats.accepted;
    }
    return counts;
}

// A drafter whose q is deliberately not the target's: 0.6 on the token that followed the last token's
// previous occurrence (a guess often right on repetitive text), the rest on a fixed skew over the first 24
// ids (which the target may give probability 0 after top-k). Drafts are drawn from q and carry it.
class WrongDistributionDrafter : public Drafter {
  public:
    explicit WrongDistributionDrafter(int vocab) : vocab_(vocab) {}
    std::string name() const override { return "wrong-q"; }
    void begin(std::span<const std::int32_t>, const HiddenRows*) override {}
    void observe(std::span<const std::int32_t>, const HiddenRows*) override {}
    DraftTree propose(std::span<const std::int32_t> ctx, const DraftBudget& b) override {
        DraftTree d;
        if (!b.soft()) return d;
        std::vector<std::int32_t> seq(ctx.begin(), ctx.end());
        // A chain, or two children drawn without replacement under each node of the first child's chain.
        const int width = b.max_nodes > 0 ? 2 : 1;
        int parent = -1;
        for (int depth = 0; depth < b.max_depth; ++depth) {
            auto q = distribution(seq);
            std::vector<float> left = *q;
            d.dist.resize(d.size() + 1);
            d.dist[static_cast<std::size_t>(parent + 1)] = q;
            const int first = static_cast<int>(d.size());
            for (int c = 0; c < width; ++c) {
                const auto t = b.rng->draw(left);
                left[static_cast<std::size_t>(t)] = 0;
                d.add(t, parent);
            }
            parent = first;
            seq.push_back(d.tokens[static_cast<std::size_t>(first)]);
        }
        d.dist.resize(d.size() + 1);
        return d;
    }

  private:
    std::shared_ptr<const std::vector<float>> distribution(const std::vector<std::int32_t>& seq) const {
        auto q = std::make_shared<std::vector<float>>(static_cast<std::size_t>(vocab_), 0.0f);
        float t = 0;
        for (int i = 0; i < 24; ++i) t += 1.0f / float(i + 1);
        for (int i = 0; i < 24; ++i) (*q)[static_cast<std::size_t>(i)] = 0.4f / float(i + 1) / t;
        for (std::size_t j = seq.size() - 1; j-- > 0;)
            if (seq[j] == seq.back()) {
                (*q)[static_cast<std::size_t>(seq[j + 1])] += 0.6f;
                return q;
            }
        (*q)[static_cast<std::size_t>(seq.back())] += 0.6f;
        return q;
    }
    int vocab_;
};

struct Case {
    std::string name;
    std::function<std::unique_ptr<Drafter>()> make;
    DraftBudget budget;
};

void expect_exact(std::shared_ptr<const Qwen3Model> m, const std::vector<Case>& cases,
                  const std::string& text, int runs) {
    const auto prompt = m->tokenizer().encode(text);
    DecodeOptions o;
    // Concentrated enough that a few thousand runs test every depth; every filter on.
    o.sampling = SamplingParams{0.8f, 12, 0.95f, 0.02f, 0};
    const auto plain = emitted(m, nullptr, o, prompt, runs, 1, nullptr, nullptr);
    for (const auto& c : cases) {
        auto d = c.make();
        DecodeOptions so = o;
        so.budget = c.budget;
        std::int64_t drafted = 0, accepted = 0;
        const auto spec = emitted(m, d.get(), so, prompt, runs, 1000003, &drafted, &accepted);
        // Speculation has to be exercised beyond the first token, or the test proves little about it.
        EXPECT_GT(accepted, runs / 20) << c.name << ": drafted " << drafted;
        for (int i = 0; i < kDepths; ++i) {
            const auto [x, dof] =
                two_sample_chi2(plain[static_cast<std::size_t>(i)], spec[static_cast<std::size_t>(i)]);
            EXPECT_LT(x, chi2_quantile_9999(std::max(dof, 1)))
                << c.name << ", depth " << i + 1 << ", " << dof << " dof";
        }
    }
}

}  // namespace

// The filters as defined: sort the whole vocabulary by probability (ties to the lowest id), keep the top-k,
// then the smallest prefix reaching top-p, then those at or above min-p x the top probability.
std::vector<float> reference_distribution(const std::vector<float>& logits, const SamplingParams& sp) {
    const float mx = *std::max_element(logits.begin(), logits.end());
    std::vector<double> p(logits.size());
    double z = 0;
    for (std::size_t i = 0; i < p.size(); ++i)
        z += p[i] = std::exp((logits[i] - mx) / double(sp.temperature));
    for (auto& v : p) v /= z;
    std::vector<int> order(p.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return p[a] > p[b]; });
    std::size_t keep = sp.top_k > 0 ? std::min<std::size_t>(p.size(), sp.top_k) : p.size();
    double cum = 0;
    for (std::size_t i = 0; i < keep && sp.top_p < 1; ++i)
        if ((cum += p[order[i]]) >= sp.top_p) keep = i + 1;
    std::size_t k = 1;
    while (k < keep && p[order[k]] >= sp.min_p * p[order[0]]) ++k;
    keep = k;
    std::vector<float> out(p.size(), 0.0f);
    double kept = 0;
    for (std::size_t i = 0; i < keep; ++i) kept += p[order[i]];
    for (std::size_t i = 0; i < keep; ++i) out[order[i]] = static_cast<float>(p[order[i]] / kept);
    return out;
}

TEST(Sampler, FiltersMatchTheirDefinitionWithoutAFullSort) {
    std::mt19937 gen(7);
    for (int trial = 0; trial < 400; ++trial) {
        const int n = std::uniform_int_distribution<int>(2, 3000)(gen);
        std::vector<float> logits(static_cast<std::size_t>(n));
        std::normal_distribution<float> nd(0.0f, trial % 2 ? 4.0f : 1.0f);
        for (auto& l : logits) l = trial % 7 == 0 ? std::round(nd(gen)) : nd(gen);  // rounded: many ties
        SamplingParams sp{std::uniform_real_distribution<float>(0.2f, 1.5f)(gen),
                          trial % 3 == 0 ? 0 : std::uniform_int_distribution<int>(1, 200)(gen),
                          trial % 4 == 0 ? 1.0f : std::uniform_real_distribution<float>(0.05f, 1.0f)(gen),
                          trial % 5 == 0 ? 0.0f : std::uniform_real_distribution<float>(0.0f, 0.5f)(gen), 0};
        const auto got = target_distribution(logits.data(), n, sp);
        const auto want = reference_distribution(logits, sp);
        for (int i = 0; i < n; ++i) {
            ASSERT_EQ(got[static_cast<std::size_t>(i)] > 0, want[static_cast<std::size_t>(i)] > 0)
                << "token " << i << " kept differently, trial " << trial;
            ASSERT_NEAR(got[static_cast<std::size_t>(i)], want[static_cast<std::size_t>(i)], 2e-6)
                << "trial " << trial;
        }
    }
}

TEST(SamplingIsExact, OneHotAndWrongDistributionDrafts) {
    auto m =
        Qwen3Model::load(ModelFiles::open(fixtures::tiny_gguf("sampling_target", TensorType::Q2_0_G128, 17)));
    const int vocab = m->config().vocab_size;
    expect_exact(
        m,
        {{"suffix chain (one-hot)", [&] { return create_drafter("suffix", {}, m); }, {3, 0}},
         {"suffix tree (one-hot)", [&] { return create_drafter("suffix", {}, m); }, {3, 6}},
         {"wrong q chain (soft)", [&] { return std::make_unique<WrongDistributionDrafter>(vocab); }, {4, 0}},
         {"wrong q tree (soft)", [&] { return std::make_unique<WrongDistributionDrafter>(vocab); }, {3, 6}}},
        "abc abc abc abc abc abc", 3000);
}

// EAGLE and MTP draw their drafts from their own distributions: with the shipped heads, which have learnt
// the shipped model's, most drafts are accepted, so every depth goes through soft verification.
TEST(SamplingIsExact, SoftDraftsFromTheShippedHeads) {
    const auto dir = fixtures::shipped_model();
    if (dir.empty()) GTEST_SKIP() << "no trained model shipped in models/";
    auto m = Qwen3Model::load(ModelFiles::open(dir));
    DrafterOptions eagle, mtp;
    eagle.draft_model = dir + "-eagle3";
    mtp.draft_model = dir + "-mtp";
    expect_exact(m,
                 {{"eagle chain (soft)", [&] { return create_drafter("eagle", eagle, m); }, {3, 0}},
                  {"eagle tree (soft)", [&] { return create_drafter("eagle", eagle, m); }, {3, 7}},
                  {"mtp chain (soft)", [&] { return create_drafter("mtp", mtp, m); }, {3, 0}},
                  {"mtp tree (soft)", [&] { return create_drafter("mtp", mtp, m); }, {3, 7}}},
                 "import os\nimport sys\n\n\ndef main(argv):\n    ", 1000);
}
