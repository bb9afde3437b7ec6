// Speculative decoding is lossless: greedy output equals plain greedy decoding for every drafter, draft
// length and shape; stochastic acceptance leaves the target's distribution unchanged (chi-squared tests);
// and the drafters propose what their definitions say, on literal token arrays.
#include <gtest/gtest.h>
#include <tbb/task_arena.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>

#include "drafters/ngram_drafter.hpp"
#include "drafters/suffix_drafter.hpp"
#include "drafters/suffix_trie.hpp"
#include "runtime/batch_decoder.hpp"
#include "runtime/cost_model.hpp"
#include "runtime/speculative_decoder.hpp"
#include "ternspec/error.hpp"
#include "tests/support/test_models.hpp"
#include "verify/verify.hpp"

using namespace ternspec;

namespace {

std::vector<std::vector<std::int32_t>> prompts(const Tokenizer& t) {
    return {t.encode("def f(x):\n    return x\n\ndef f(x):\n    return"), t.encode("abc abc abc abc abc"),
            t.encode("The cat sat on the mat. The cat sat on the"),
            t.encode("for i in range(10):\n    print(i)\nfor i in range(10):\n")};
}

void expect_lossless(std::shared_ptr<const Qwen3Model> m, int n_tokens, const std::string& label,
                     const SamplingParams& sampling = {}, bool suffix_branches = true) {
    DecodeOptions plain_opt;
    plain_opt.sampling = sampling;
    plain_opt.max_new_tokens = n_tokens;
    plain_opt.stop_at_eos = false;
    SpeculativeDecoder plain(m, nullptr);
    // A drafter that returned nothing would pass the equality checks: each must also have drafted and had
    // drafts accepted, in chains and in trees, somewhere over the prompts.
    std::map<std::string, std::int64_t> drafted, accepted, depths;  // depths: sum of each round's depth
    for (const auto& prompt : prompts(m->tokenizer())) {
        const auto want = plain.run(prompt, plain_opt).tokens;
        ASSERT_EQ(static_cast<int>(want.size()), n_tokens);
        for (const std::string name : {"suffix", "ngram"}) {
            auto d = create_drafter(name, {}, m);
            for (int k : {1, 2, 4, 8})
                for (int tree : {0, 8}) {
                    DecodeOptions o = plain_opt;
                    o.budget = {k, tree};
                    SpeculativeDecoder dec(m, d.get());
                    const auto r = dec.run(prompt, o);
                    EXPECT_EQ(r.tokens, want)
                        << label << " drafter " << name << " k " << k << " tree " << tree;
                    EXPECT_EQ(r.stats.emitted, n_tokens);
                    const auto key = name + (tree ? " tree" : " chain");
                    drafted[key] += r.stats.drafted;
                    accepted[key] += r.stats.accepted;
                    for (const auto n : r.stats.depth_drafted) depths[key] += n;
                }
        }
    }
    for (const std::string key : {"suffix chain", "suffix tree", "ngram chain", "ngram tree"}) {
        EXPECT_GT(drafted[key], 0) << label << ": " << key << " never drafted";
        EXPECT_GT(accepted[key], 0) << label << ": " << key << " never had a draft accepted";
    }
    // More nodes than depths: some round's draft branched. The n-gram drafter drafts chains only (a tree
    // budget caps its length), so its tree runs test the budget, not branching.
    if (suffix_branches) {
        EXPECT_GT(drafted["suffix tree"], depths["suffix tree"])
            << label << ": suffix never drafted a branching tree";
    }
    EXPECT_EQ(drafted["ngram tree"], depths["ngram tree"]) << label << ": ngram drafted a tree";
}

// Chi-squared statistic of observed counts against probabilities p (cells with p > 0).
double chi2(const std::vector<int>& counts, const std::vector<float>& p, int trials, int* dof) {
    double x = 0;
    *dof = -1;
    for (std::size_t i = 0; i < p.size(); ++i) {
        if (p[i] <= 0) {
            EXPECT_EQ(counts[i], 0) << "token " << i << " has probability 0";
            continue;
        }
        const double e = p[i] * trials;
        x += (counts[i] - e) * (counts[i] - e) / e;
        ++*dof;
    }
    return x;
}

// 0.999 quantiles of chi-squared for small degrees of freedom.
double chi2_limit(int dof) {
    static const double q[] = {0, 10.83, 13.82, 16.27, 18.47, 20.52, 22.46, 24.32, 26.12};
    return q[std::min(dof, 8)];
}

}  // namespace

TEST(Lossless, GreedyEveryDrafterEveryKChainAndTreeOnRandomModels) {
    for (std::uint64_t seed : {3, 4}) {
        auto m = Qwen3Model::load(ModelFiles::open(
            fixtures::tiny_gguf("lossless_" + std::to_string(seed), TensorType::Q2_0_G128, seed)));
        expect_lossless(m, 40, "random model seed " + std::to_string(seed));
    }
}

// A repeat penalty changes the target's distribution; verification applies it over the context and each
// draft path, so speculation still equals plain (penalised) decoding, and the penalty does change it.
// Knows the greedy output in advance and proposes, every round, a tree whose first child at each depth is
// wrong and whose second continues that output: verification must take the second branch at every depth.
// With a repeat penalty, a wrong sibling left in the penalty's window would change the next argmax.
class BranchingOracle : public Drafter {
  public:
    BranchingOracle(std::vector<std::int32_t> prompt_and_output, std::int32_t vocab)
        : full_(std::move(prompt_and_output)), vocab_(vocab) {}
    std::string name() const override { return "branching-oracle"; }
    void begin(std::span<const std::int32_t>, const HiddenRows*) override {}
    void observe(std::span<const std::int32_t>, const HiddenRows*) override {}
    DraftTree propose(std::span<const std::int32_t> ctx, const DraftBudget& b) override {
        DraftTree t;
        int parent = -1;
        for (std::size_t at = ctx.size(); at < full_.size() && static_cast<int>(t.size()) < 2 * b.max_depth;
             ++at) {
            t.add((full_[at] + 1) % vocab_, parent);  // the wrong sibling, first
            t.add(full_[at], parent);
            parent = static_cast<int>(t.size()) - 1;
        }
        return t;
    }

  private:
    std::vector<std::int32_t> full_;
    std::int32_t vocab_;
};

namespace {

// Plain greedy decoding of the second test prompt under `sp` (40 tokens), checked to differ from decoding
// without the penalties, so a test that passes under them is not passing on an unchanged distribution.
std::vector<std::int32_t> penalised_output(const std::shared_ptr<const Qwen3Model>& m,
                                           const SamplingParams& sp) {
    DecodeOptions o;
    o.max_new_tokens = 40;
    o.stop_at_eos = false;
    const auto prompt = prompts(m->tokenizer())[1];
    const auto without = SpeculativeDecoder(m, nullptr).run(prompt, o).tokens;
    o.sampling = sp;
    auto with = SpeculativeDecoder(m, nullptr).run(prompt, o).tokens;
    EXPECT_NE(with, without) << "the penalties changed nothing";
    return with;
}

}  // namespace

TEST(Lossless, GreedyWithARepeatPenalty) {
    auto m =
        Qwen3Model::load(ModelFiles::open(fixtures::tiny_gguf("lossless_penalty", TensorType::Q2_0_G128, 5)));
    SamplingParams sp;
    sp.repeat_penalty = 1.6f;
    sp.repeat_last_n = 12;
    // The penalty keeps this random model from repeating itself, so the suffix drafter's trees stay chains
    // here; the branching oracle below puts trees under the penalty instead.
    expect_lossless(m, 40, "repeat penalty 1.6 over 12", sp, false);
    const auto want = penalised_output(m, sp);
    const auto prompt = prompts(m->tokenizer())[1];
    DecodeOptions o;
    o.max_new_tokens = 40;
    o.stop_at_eos = false;
    o.sampling = sp;
    std::vector<std::int32_t> full(prompt.begin(), prompt.end());
    full.insert(full.end(), want.begin(), want.end());
    BranchingOracle oracle(full, m->config().vocab_size);
    for (int k : {1, 3, 6}) {
        o.budget = {k, 2 * k};
        const auto r = SpeculativeDecoder(m, &oracle).run(prompt, o);
        EXPECT_EQ(r.tokens, want) << "k " << k;
        std::int64_t depths = 0;
        for (const auto n : r.stats.depth_drafted) depths += n;
        EXPECT_EQ(r.stats.drafted, 2 * depths) << "k " << k << ": every depth has two children";
        EXPECT_EQ(r.stats.accepted, depths) << "k " << k << ": the right child accepted at every depth";
    }
}

TEST(Sampler, RepeatPenaltyFollowsLlamaCpp) {
    std::vector<float> logits{2.0f, -1.0f, 0.5f, 3.0f, 0.0f};
    SamplingParams sp;
    sp.repeat_penalty = 2.0f;
    sp.repeat_last_n = 3;
    const std::vector<std::int32_t> ctx{3, 0, 1, 1, 4};  // the last three: 1, 1, 4
    apply_repeat_penalty(logits.data(), 5, sp, ctx);
    EXPECT_EQ(logits, (std::vector<float>{2.0f, -2.0f, 0.5f, 3.0f, 0.0f}));  // once per distinct token
    sp.repeat_last_n = -1;
    apply_repeat_penalty(logits.data(), 5, sp, ctx);
    EXPECT_EQ(logits, (std::vector<float>{1.0f, -4.0f, 0.5f, 1.5f, 0.0f}));
    sp.repeat_penalty = 0.0f;
    EXPECT_THROW(validate(sp), InputError);
}

// OpenAI's presence and frequency penalties as llama.cpp applies them: over the repeat_last_n window, a
// token seen c times loses presence + c * frequency (after the repeat penalty's division); out of range is
// an error naming the field.
TEST(Sampler, PresenceAndFrequencyPenaltiesFollowLlamaCpp) {
    std::vector<float> logits{2.0f, -1.0f, 0.5f, 3.0f, 0.0f};
    SamplingParams sp;
    sp.presence_penalty = 0.5f;
    sp.frequency_penalty = 0.25f;
    sp.repeat_last_n = 3;
    const std::vector<std::int32_t> ctx{3, 0, 1, 1, 4};  // the last three: 1 twice, 4 once
    ASSERT_TRUE(sp.penalized());
    apply_repeat_penalty(logits.data(), 5, sp, ctx);
    EXPECT_EQ(logits, (std::vector<float>{2.0f, -2.0f, 0.5f, 3.0f, -0.75f}));
    sp.repeat_penalty = 2.0f;  // both: divide (or multiply), then subtract
    logits = {2.0f, -1.0f, 0.5f, 3.0f, 1.0f};
    apply_repeat_penalty(logits.data(), 5, sp, ctx);
    EXPECT_EQ(logits, (std::vector<float>{2.0f, -3.0f, 0.5f, 3.0f, -0.25f}));
    sp.presence_penalty = 2.5f;
    EXPECT_THROW(validate(sp), InputError);
    sp.presence_penalty = 0.0f;
    sp.frequency_penalty = -3.0f;
    EXPECT_THROW(validate(sp), InputError);
}

TEST(Lossless, GreedyWithPresenceAndFrequencyPenalties) {
    auto m = Qwen3Model::load(
        ModelFiles::open(fixtures::tiny_gguf("lossless_presence", TensorType::Q2_0_G128, 5)));
    SamplingParams sp;
    sp.presence_penalty = 0.8f;
    sp.frequency_penalty = 0.6f;
    sp.repeat_last_n = 16;
    expect_lossless(m, 40, "presence 0.8, frequency 0.6 over 16", sp, false);
    penalised_output(m, sp);
}

// The penalty at a draft node counts the draft tokens above it. Context ..., 4, root 5; draft A = 1 then
// B = 2; every row prefers 1 slightly over 2. With the last two tokens penalised, the row after A sees
// {5, 1}: 1 drops below 2, so B is the target's choice there (and would not be were A left out).
TEST(Verify, RepeatPenaltyCountsTheDraftPath) {
    const int V = 6;
    const std::vector<float> row = {0.0f, 2.0f, 1.8f, 0.0f, 0.0f, 0.0f};
    std::vector<float> rows;
    for (int r = 0; r < 3; ++r) rows.insert(rows.end(), row.begin(), row.end());
    DraftTree d;
    d.add(1, -1);
    d.add(2, 0);
    SamplingParams sp;
    sp.repeat_penalty = 2.0f;
    sp.repeat_last_n = 2;
    const std::vector<std::int32_t> ctx{4, 5};
    const auto v = verify_greedy(d, rows.data(), V, sp, ctx);
    EXPECT_EQ(v.accepted_nodes, (std::vector<int>{0, 1}));
    EXPECT_EQ(v.next_token, 1);  // after the path {1, 2}, both are penalised: 2.0 / 2 > 1.8 / 2
    // Stochastic: the token emitted at depth 2 follows softmax(penalised row) over the context {5, 1}.
    sp.temperature = 1.0f;
    std::vector<float> sharp(row);
    sharp[1] = 12.0f;  // row 0: the first draft token is accepted almost surely
    std::vector<float> srows(sharp);
    srows.insert(srows.end(), row.begin(), row.end());
    srows.insert(srows.end(), row.begin(), row.end());
    std::vector<float> want_logits(row);
    apply_repeat_penalty(want_logits.data(), V, sp, std::vector<std::int32_t>{5, 1});
    const auto p2 = target_distribution(want_logits.data(), V, sp);
    Rng rng(5);
    const int trials = 40000;
    std::vector<int> counts(V, 0);
    int first_accepted = 0;
    for (int t = 0; t < trials; ++t) {
        const auto s = verify_stochastic(d, srows.data(), V, sp, rng, ctx);
        if (s.accepted_nodes.empty()) continue;
        ++first_accepted;
        counts[static_cast<std::size_t>(s.accepted_nodes.size() > 1 ? 2 : s.next_token)]++;
    }
    ASSERT_GT(first_accepted, trials * 99 / 100);
    int dof = 0;
    const double x = chi2(counts, p2, first_accepted, &dof);
    EXPECT_LT(x, chi2_limit(dof)) << "depth-2 tokens do not follow the path-penalised distribution";
}

TEST(Lossless, GreedyOnTheShippedModel) {
    const auto dir = fixtures::shipped_model();
    if (dir.empty()) GTEST_SKIP() << "no trained model shipped in models/";
    expect_lossless(Qwen3Model::load(ModelFiles::open(dir)), 48, "shipped model");
}

TEST(Lossless, StochasticChainKeepsTheTargetDistribution) {
    const std::vector<float> logits = {2.0f, 1.0f, 0.5f, 0.0f, -1.0f, 1.5f};
    const int V = 6, trials = 60000;
    for (SamplingParams sp :
         {SamplingParams{1.0f, 0, 1.0f, 0.0f, 0}, SamplingParams{0.7f, 4, 0.95f, 0.0f, 0}}) {
        const auto p = target_distribution(logits.data(), V, sp);
        auto q =
            std::make_shared<std::vector<float>>(std::vector<float>{0.05f, 0.4f, 0.2f, 0.1f, 0.05f, 0.2f});
        for (bool soft : {true, false}) {
            Rng rng(soft ? 11 : 12);
            std::vector<int> counts(V, 0);
            for (int t = 0; t < trials; ++t) {
                DraftTree d;
                // Draft token drawn from q (soft), or always token 1 (a one-hot drafter).
                d.add(soft ? rng.draw(*q) : 1, -1);
                d.add(0, 0);
                if (soft) d.dist = {q};
                // Row 0: the target after the root; row 1 after the draft token (unused for the first token).
                std::vector<float> rows(logits);
                rows.insert(rows.end(), logits.begin(), logits.end());
                rows.insert(rows.end(), logits.begin(), logits.end());
                const auto v = verify_stochastic(d, rows.data(), V, sp, rng);
                counts[static_cast<std::size_t>(
                    v.accepted_nodes.empty() ? v.next_token
                                             : d.tokens[static_cast<std::size_t>(v.accepted_nodes[0])])]++;
            }
            int dof;
            const double x = chi2(counts, p, trials, &dof);
            EXPECT_LT(x, chi2_limit(dof))
                << (soft ? "soft" : "one-hot") << " draft, temperature " << sp.temperature;
        }
    }
}

TEST(Lossless, StochasticTreeKeepsTheTargetDistribution) {
    const std::vector<float> logits = {1.0f, 0.2f, 0.9f, -0.5f, 0.3f};
    const int V = 5, trials = 60000;
    const SamplingParams sp{1.0f, 0, 1.0f, 0.0f, 0};
    const auto p = target_distribution(logits.data(), V, sp);
    auto q = std::make_shared<std::vector<float>>(std::vector<float>{0.1f, 0.3f, 0.4f, 0.1f, 0.1f});
    for (bool soft : {true, false}) {
        Rng rng(soft ? 21 : 22);
        std::vector<int> counts(V, 0);
        for (int t = 0; t < trials; ++t) {
            DraftTree d;
            if (soft) {  // two children drawn from q without replacement
                const auto a = rng.draw(*q);
                std::vector<float> rest = *q;
                rest[static_cast<std::size_t>(a)] = 0;
                d.add(a, -1);
                d.add(rng.draw(rest), -1);
                d.dist = {q};
            } else {  // a one-hot drafter proposing tokens 2 and 4
                d.add(2, -1);
                d.add(4, -1);
            }
            std::vector<float> rows;
            for (int r = 0; r < 3; ++r) rows.insert(rows.end(), logits.begin(), logits.end());
            const auto v = verify_stochastic(d, rows.data(), V, sp, rng);
            counts[static_cast<std::size_t>(v.accepted_nodes.empty()
                                                ? v.next_token
                                                : d.tokens[static_cast<std::size_t>(v.accepted_nodes[0])])]++;
        }
        int dof;
        const double x = chi2(counts, p, trials, &dof);
        EXPECT_LT(x, chi2_limit(dof)) << (soft ? "soft" : "one-hot") << " tree";
    }
}

TEST(Verify, GreedyFollowsTheArgmaxPathThenAddsTheBonus) {
    // Vocabulary 4; rows: root, node0, node1, node2. Tree: node0 (tok 1) and node1 (tok 2) under root,
    // node2 (tok 3) under node1.
    const std::vector<float> rows = {0, 0, 5, 0,  /* root: argmax 2 */
                                     9, 0, 0, 0,  /* after node0 */
                                     0, 0, 0, 7,  /* after node1: argmax 3 */
                                     0, 8, 0, 0}; /* after node2: bonus 1 */
    DraftTree d;
    d.add(1, -1);
    d.add(2, -1);
    d.add(3, 1);
    const auto v = verify_greedy(d, rows.data(), 4);
    EXPECT_EQ(v.accepted_nodes, (std::vector<int>{1, 2}));
    EXPECT_EQ(v.next_token, 1);
    DraftTree miss;
    miss.add(0, -1);
    const auto w = verify_greedy(miss, rows.data(), 4);
    EXPECT_TRUE(w.accepted_nodes.empty());
    EXPECT_EQ(w.next_token, 2);
}

TEST(SuffixTrie, CountsOccurrencesAndRemovesCleanly) {
    SuffixTrie t(8);
    const std::vector<std::int32_t> a = {1, 2, 3, 1, 2, 4};
    t.add_sequence(a);
    const auto n12 = t.find(std::vector<std::int32_t>{1, 2});
    ASSERT_GE(n12, 0);
    EXPECT_EQ(t.count(n12), 2);
    ASSERT_EQ(t.children(n12).size(), 2u);
    EXPECT_EQ(t.count(t.child(n12, 3)), 1);
    EXPECT_EQ(t.count(t.child(n12, 4)), 1);
    EXPECT_EQ(t.find(std::vector<std::int32_t>{2, 1}), -1);
    const auto before = t.live_nodes();
    const std::vector<std::int32_t> b = {7, 1, 2, 3};
    t.add_sequence(b);
    EXPECT_EQ(t.count(t.find(std::vector<std::int32_t>{1, 2, 3})), 2);
    t.remove_sequence(b);
    EXPECT_EQ(t.live_nodes(), before);
    EXPECT_EQ(t.count(t.find(std::vector<std::int32_t>{1, 2, 3})), 1);
    EXPECT_EQ(t.find(std::vector<std::int32_t>{7}), -1);
}

TEST(SuffixDrafter, ContinuesTheLongestEarlierMatch) {
    SuffixDrafter d({});
    const std::vector<std::int32_t> prompt = {1, 2, 3, 4, 1, 2, 3};
    d.begin(prompt, nullptr);
    // One earlier occurrence of "1 2 3": 4, then the copy runs into the present and continues with the
    // draft itself (1 2 3). Path probabilities with the match prior 2: 3/5, x 4/6, x 5/7, x 6/8 = 0.21.
    const auto draft = d.propose(prompt, {4, 0});
    EXPECT_EQ(draft.tokens, (std::vector<std::int32_t>{4, 1, 2, 3}));
    EXPECT_TRUE(draft.is_chain());
    // A 1-token match is weak evidence: 1/3, then 1/3 x 2/4 < min_token_prob 0.2.
    const std::vector<std::int32_t> p2 = {5, 9, 8, 7, 6, 5};
    SuffixDrafter e({});
    e.begin(p2, nullptr);
    EXPECT_EQ(e.propose(p2, {8, 0}).tokens, (std::vector<std::int32_t>{9}));
    // Without the prior every token has probability 1; SuffixDecoding's length cap then limits the draft
    // to max_spec_factor x match length.
    DrafterOptions o;
    o.extra = {{"match_prior", "0"}, {"max_spec_factor", "2"}};
    SuffixDrafter f(o);
    f.begin(p2, nullptr);
    EXPECT_EQ(f.propose(p2, {8, 0}).tokens, (std::vector<std::int32_t>{9, 8}));
}

TEST(SuffixDrafter, LoopsDraftPastTheirPeriod) {
    // "7 8 9" repeating: the only earlier occurrence of the longest match is one period back, and its
    // continuation runs into the present after 3 tokens; it goes on with the draft's own tokens.
    const std::vector<std::int32_t> ctx = {1, 7, 8, 9, 7, 8, 9};
    for (const auto& [overlap, want] : std::vector<std::pair<std::string, std::vector<std::int32_t>>>{
             {"1", {7, 8, 9, 7, 8, 9}}, {"0", {7, 8, 9}}}) {
        DrafterOptions o;
        o.extra = {{"match_prior", "0"}, {"overlap", overlap}};
        SuffixDrafter d(o);
        d.begin(ctx, nullptr);
        EXPECT_EQ(d.propose(ctx, {6, 0}).tokens, want) << "overlap=" << overlap;
    }
}

TEST(SuffixDrafter, EveryMatchLengthCompetes) {
    // "1 2 3" (the longest match) was followed by 7 once and 8 once; "2 3" by 9 three more times. The
    // longest match's best chain scores 3 x 0.5, the shorter one's 3 x 0.6: the shorter one drafts.
    const std::vector<std::int32_t> ctx = {1, 2, 3, 7, 7, 7, 1, 2, 3, 8, 8, 8, 4, 2, 3, 9, 9,
                                           9, 5, 2, 3, 9, 9, 9, 6, 2, 3, 9, 9, 9, 1, 2, 3};
    DrafterOptions o;
    o.extra = {{"match_prior", "0"}};
    SuffixDrafter d(o);
    d.begin(ctx, nullptr);
    EXPECT_EQ(d.propose(ctx, {3, 0}).tokens, (std::vector<std::int32_t>{9, 9, 9}));
    // Equal counts go to the most recent: with a length cap that leaves only the longest match a token
    // (0.4 x 3 = 1.2; 0.4 x 2 < 1), 8 came after 7.
    o.extra["max_spec_factor"] = "0.4";
    SuffixDrafter e(o);
    e.begin(ctx, nullptr);
    EXPECT_EQ(e.propose(ctx, {3, 0}).tokens, (std::vector<std::int32_t>{8}));
}

// Rounds without a draft still feed the local index through observe(), so a later draft is the same as if
// every round had drafted; the tokens cached are the context's, in order, the pending one first.
TEST(SuffixDrafter, RoundsWithoutDraftsKeepTheTrieCurrent) {
    const std::vector<std::int32_t> prompt = {7, 1, 2, 3, 4, 5};
    const std::vector<std::vector<std::int32_t>> rounds = {{9}, {1, 2}, {3, 4, 5, 9}, {1}};
    SuffixDrafter every({}), last({});
    every.begin(prompt, nullptr);
    last.begin(prompt, nullptr);
    std::vector<std::int32_t> ctx = prompt;
    for (const auto& cached : rounds) {
        ctx.push_back(cached.front());  // the pending token, proposed from
        (void)every.propose(ctx, {4, 0});
        every.observe(cached, nullptr);
        last.observe(cached, nullptr);
        ctx.insert(ctx.end(), cached.begin() + 1, cached.end());
    }
    EXPECT_EQ(last.tokens_in_local_index(), ctx.size());  // before any propose
    ctx.push_back(2);
    // The context ends "... 9 1 2": the longest earlier match continues 3 4 5 9.
    EXPECT_EQ(last.propose(ctx, {4, 0}).tokens, (std::vector<std::int32_t>{3, 4, 5, 9}));
    EXPECT_EQ(last.propose(ctx, {4, 0}).tokens, every.propose(ctx, {4, 0}).tokens);
}

TEST(SuffixDrafter, TreeBranchesOnEveryFrequentContinuation) {
    DrafterOptions o;
    o.extra = {{"match_prior", "0"}};  // the counts alone decide, as in SuffixDecoding
    SuffixDrafter d(o);
    // The longest earlier match of the context's end is "1 2", seen followed by 5 twice and by 6 once.
    const std::vector<std::int32_t> prompt = {1, 2, 5, 9, 1, 2, 6, 9, 1, 2, 5, 9, 3, 1, 2};
    d.begin(prompt, nullptr);
    const auto tree = d.propose(prompt, {2, 8});
    // Best-first by path probability: 5 (2/3), 9 after 5 (2/3), 6 (1/3), 9 after 6 (1/3).
    EXPECT_EQ(tree.tokens, (std::vector<std::int32_t>{5, 9, 6, 9}));
    EXPECT_EQ(tree.parents, (std::vector<std::int32_t>{-1, 0, -1, 2}));
    const auto chain = d.propose(prompt, {2, 0});
    EXPECT_EQ(chain.tokens, (std::vector<std::int32_t>{5, 9}));
}

TEST(SuffixDrafter, GlobalTrieLearnsFromEarlierResponsesAndEvicts) {
    DrafterOptions o;
    o.extra["global_max_tokens"] = "6";
    SuffixDrafter d(o);
    d.begin(std::vector<std::int32_t>{99}, nullptr);
    d.end_request(std::vector<std::int32_t>{10, 11, 12, 13});
    d.begin(std::vector<std::int32_t>{98}, nullptr);
    const std::vector<std::int32_t> ctx = {98, 10, 11};
    EXPECT_EQ(d.propose(ctx, {4, 0}).tokens, (std::vector<std::int32_t>{12, 13}));
    d.end_request(std::vector<std::int32_t>{20, 21, 22});  // 7 tokens > 6: the first response is evicted
    d.begin(std::vector<std::int32_t>{97}, nullptr);
    EXPECT_TRUE(d.propose(ctx, {4, 0}).empty());
}

// A server's slots: siblings learn from each other's finished requests (one shared global trie).
TEST(SuffixDrafter, SiblingsShareWhatTheyLearn) {
    SuffixDrafter a({});
    auto b = a.sibling();
    ASSERT_TRUE(b);
    const std::vector<std::int32_t> answer = {5, 6, 7, 8, 9, 10, 11, 12};
    a.begin(std::vector<std::int32_t>{1, 2}, nullptr);
    a.end_request(answer);
    const std::vector<std::int32_t> ctx = {3, 4, 5, 6, 7};  // never seen by b itself
    b->begin(ctx, nullptr);
    EXPECT_EQ(b->propose(ctx, {3, 0}).tokens, (std::vector<std::int32_t>{8, 9, 10}));
    EXPECT_EQ(a.global_trie().live_nodes(), static_cast<const SuffixDrafter&>(*b).global_trie().live_nodes());
    SuffixDrafter fresh({});  // an unrelated drafter learnt nothing
    fresh.begin(ctx, nullptr);
    EXPECT_TRUE(fresh.propose(ctx, {3, 0}).tokens.empty());
}

// A draft that would run past the context is cut to fit (DecodeSession truncates it); the output still
// equals plain decoding to the last token the context holds, for chains and trees.
TEST(Lossless, DraftsTruncatedAtTheContextLimit) {
    auto m = Qwen3Model::load(ModelFiles::open(fixtures::tiny_gguf("ctx_limit", TensorType::Q2_0_G128, 5)));
    const auto prompt = m->tokenizer().encode("abc abc abc abc abc abc abc abc");
    DecodeOptions o;
    o.max_new_tokens = 1000;
    o.stop_at_eos = false;
    o.context = static_cast<int>(prompt.size()) + 23;
    const auto plain = SpeculativeDecoder(m, nullptr).run(prompt, o);
    EXPECT_EQ(plain.stop_reason, StopReason::Context);
    for (const int tree : {0, 8}) {
        auto d = create_drafter("suffix", {}, m);
        o.budget = {8, tree};
        const auto r = SpeculativeDecoder(m, d.get()).run(prompt, o);
        EXPECT_EQ(r.tokens, plain.tokens) << "tree " << tree;
        EXPECT_EQ(r.stop_reason, StopReason::Context);
        EXPECT_GT(r.stats.accepted, 0) << "the drafter never drafted into the last rounds";
    }
}

TEST(NgramDrafter, ProposesWhatFollowedTheMostRecentMatch) {
    NgramDrafter d({});
    EXPECT_EQ(d.propose(std::vector<std::int32_t>{5, 6, 7, 8, 5, 6}, {3, 0}).tokens,
              (std::vector<std::int32_t>{7, 8, 5}));
    EXPECT_EQ(d.propose(std::vector<std::int32_t>{1, 2, 9, 1, 2, 8, 1, 2}, {2, 0}).tokens,
              (std::vector<std::int32_t>{8, 1}));
    EXPECT_TRUE(d.propose(std::vector<std::int32_t>{1, 2, 3}, {3, 0}).empty());
    // A tree budget caps the chain it drafts (it was ignored: 3 nodes sent on a budget of 2).
    EXPECT_EQ(d.propose(std::vector<std::int32_t>{5, 6, 7, 8, 5, 6}, {3, 2}).tokens,
              (std::vector<std::int32_t>{7, 8}));
}

TEST(DraftLength, FollowsCostsAndAcceptance) {
    // Cheap batches and a drafter that is always right: draft as long as allowed.
    DraftLengthController cheap(CostModel({1.0, 1.05, 1.1, 1.15, 1.2, 1.25, 1.3, 1.35, 1.4}), 8);
    for (int r = 0; r < 50; ++r) cheap.record(8, 8);
    EXPECT_EQ(cheap.choose(), 8);
    // Cost linear in tokens: no draft can pay for itself.
    DraftLengthController linear(CostModel({1, 2, 3, 4, 5, 6, 7, 8, 9}), 8);
    for (int r = 0; r < 50; ++r) linear.record(4, 2);
    EXPECT_EQ(linear.choose(), 0);
    // Acceptance that falls off after two tokens: a short draft.
    DraftLengthController mid(CostModel({1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 1.7, 1.8}), 8);
    for (int r = 0; r < 200; ++r) mid.record(6, 2);
    EXPECT_GE(mid.choose(), 2);
    EXPECT_LE(mid.choose(), 3);
    EXPECT_NEAR(mid.expected_tokens(2), 3.0, 0.1);
    // The same cheap batches and perfect drafter, but drafting a token costs as much as a forward: only
    // the acceptance pays for it, so shorter drafts win; at three forwards per token, none.
    DraftLengthController costly(CostModel({1.0, 1.05, 1.1, 1.15, 1.2, 1.25, 1.3, 1.35, 1.4}), 8);
    for (int r = 0; r < 50; ++r) costly.record(8, 8), costly.record_draft_cost(3.0 * 8, 8);
    EXPECT_NEAR(costly.draft_seconds_per_token(), 3.0, 1e-9);
    EXPECT_EQ(costly.choose(), 0);
    costly.record_draft_cost(0.0, 0);  // a round without a draft changes nothing
    EXPECT_NEAR(costly.draft_seconds_per_token(), 3.0, 1e-9);
    // Two tokens cost 1.6 decodes, too dear at the prior's one half: no draft, until 32 rounds without one
    // make the controller try a single token. Accepted, drafting goes on; rejected, it waits again.
    for (const bool right : {true, false}) {
        DraftLengthController explore(CostModel({1.0, 1.6, 2.2, 2.8, 3.4}), 4);
        int idle = 0;
        while (explore.choose() == 0 && idle < 100) explore.record(0, 0), ++idle;
        EXPECT_EQ(idle, 32);
        EXPECT_EQ(explore.choose(), 1);
        explore.record(1, right ? 1 : 0);
        if (right)
            EXPECT_GE(explore.choose(), 1);
        else
            EXPECT_EQ(explore.choose(), 0);
    }
    // A drafter right at depth 1 is presumed right deeper, so a cheap batch tries a longer draft.
    DraftLengthController deeper(CostModel({1.0, 1.1, 1.2, 1.3, 1.4}), 4);
    for (int r = 0; r < 20; ++r) deeper.record(1, 1);
    EXPECT_GE(deeper.choose(), 3);
}

// A model drafter catches up lazily: the first draft after rounds without one runs its head over every token
// since (the prompt, or the tokens of the rounds the controller did not draft), which is not a cost per
// drafted token. Here on a session clock: catching up costs 10 ms a token, drafting 1 ms a token; the drafter
// is wrong for the first 40 tokens (so the controller stops drafting and later tries again) and right after.
// The controller must learn about 1 ms plus the steady catch-up of the accepted tokens, not the backlog.
class LazyOracle : public Drafter {
  public:
    LazyOracle(std::vector<std::int32_t> future, std::size_t prompt, double& clock)
        : future_(std::move(future)), prompt_(prompt), clock_(clock) {}
    std::string name() const override { return "lazy-oracle"; }
    void begin(std::span<const std::int32_t> p, const HiddenRows*) override { backlog_ = p.size(); }
    void observe(std::span<const std::int32_t> cached, const HiddenRows*) override {
        backlog_ += cached.size();
    }
    DraftTree propose(std::span<const std::int32_t> ctx, const DraftBudget& b) override {
        clock_ += 0.010 * static_cast<double>(backlog_) + 0.001 * b.max_depth;
        backlog_ = 0;
        DraftTree t;
        const std::size_t at = ctx.size() - prompt_;  // index in future_ of the next token
        for (int i = 0; i < b.max_depth && at + static_cast<std::size_t>(i) < future_.size(); ++i)
            t.add(at < 40 ? (future_[at + i] + 1) % 200 : future_[at + static_cast<std::size_t>(i)],
                  static_cast<int>(t.size()) - 1);
        return t;
    }

  private:
    std::vector<std::int32_t> future_;
    std::size_t prompt_, backlog_ = 0;
    double& clock_;
};

TEST(DraftLength, ACatchUpBacklogIsNotADraftingCost) {
    auto m = Qwen3Model::load(ModelFiles::open(fixtures::tiny_gguf("lazy_oracle")));
    const auto prompt = m->tokenizer().encode(std::string(300, 'a') + " def f(x):\n    return x");
    DecodeOptions o;
    o.max_new_tokens = 160;
    o.stop_at_eos = false;
    const auto want = SpeculativeDecoder(m, nullptr).run(prompt, o).tokens;
    double clock = 0;
    o.clock = [&] { return clock; };
    o.budget = {4, 0};
    // A forward costs 10 ms more per token: drafting pays when right, and a backlog priced as drafting cost
    // (33 idle tokens at 10 ms on one drafted token) would say otherwise.
    o.adaptive = std::make_shared<DraftLengthController>(CostModel({0.10, 0.11, 0.12, 0.13, 0.14}), 4);
    int idle = 0, drafted_after_idle = 0, last = -1;
    o.on_round = [&](int drafted, int, double, double) {
        if (drafted == 0) ++idle;
        if (drafted > 0 && last == 0) ++drafted_after_idle;
        last = drafted;
    };
    LazyOracle d(want, prompt.size(), clock);
    const auto r = SpeculativeDecoder(m, &d).run(prompt, o);
    EXPECT_EQ(r.tokens, want);
    EXPECT_GT(idle, 0) << "the wrong drafts never stopped the controller";
    EXPECT_GT(drafted_after_idle, 0) << "the controller never drafted again";
    // Steady rounds: 1 ms a drafted token plus 10 ms for each of the (about 4 + 1) tokens caught up, over 4.
    EXPECT_LT(o.adaptive->draft_seconds_per_token(), 0.02);
    EXPECT_GT(r.stats.accepted, 80) << "drafting did not resume for good";
}

TEST(Lossless, AdaptiveDraftLength) {
    auto m = Qwen3Model::load(ModelFiles::open(fixtures::tiny_gguf("lossless_adaptive")));
    DecodeOptions o;
    o.max_new_tokens = 40;
    o.stop_at_eos = false;
    SpeculativeDecoder plain(m, nullptr);
    auto d = create_drafter("suffix", {}, m);
    o.budget = {8, 0};
    // Costs that make drafting attractive, so the controller actually drafts and varies K.
    o.adaptive = std::make_shared<DraftLengthController>(
        CostModel({1.0, 1.02, 1.04, 1.06, 1.08, 1.1, 1.12, 1.14, 1.16}), 8);
    std::set<int> depths;  // drafted tokens per round, as the controller chose them
    o.on_round = [&](int drafted, int, double, double) { depths.insert(drafted); };
    SpeculativeDecoder dec(m, d.get());
    long long accepted = 0;
    for (const auto& p : prompts(m->tokenizer())) {
        DecodeOptions po = o;
        po.adaptive = nullptr;
        po.on_round = nullptr;
        const auto r = dec.run(p, o);
        EXPECT_EQ(r.tokens, plain.run(p, po).tokens);
        accepted += r.stats.accepted;
    }
    EXPECT_GT(accepted, 0) << "the controller never had a draft accepted";
    depths.erase(0);
    EXPECT_GE(depths.size(), 2u) << "the controller drafted, but never varied K";
}

TEST(SuffixDrafter, LongCopiesStillDraftInFull) {
    // A copy longer than the trie's depth (32): the match is capped so the continuation has room.
    SuffixDrafter d({});
    std::vector<std::int32_t> ctx;
    for (int i = 1; i <= 40; ++i) ctx.push_back(i);
    for (int i = 1; i <= 35; ++i) ctx.push_back(i);
    d.begin(ctx, nullptr);
    EXPECT_EQ(d.propose(ctx, {4, 0}).tokens, (std::vector<std::int32_t>{36, 37, 38, 39}));
}

TEST(BatchDecode, EachRequestMatchesDecodingItAlone) {
    auto m =
        Qwen3Model::load(ModelFiles::open(fixtures::tiny_gguf("batch_decode", TensorType::Q2_0_G128, 31)));
    const std::vector<std::string> texts = {"def f(x):\n    return x", "abc abc abc abc",
                                            "import os\nimport sys\n", "x = 1\ny = 2\nz ="};
    for (const std::string name : {"none", "suffix", "ngram"})
        for (const bool greedy : {true, false}) {
            DecodeOptions opt;
            opt.max_new_tokens = 30;
            opt.stop_at_eos = false;
            opt.budget = {4, name == "suffix" ? 6 : 0};
            if (!greedy) {
                opt.sampling.temperature = 0.9f;
                opt.sampling.seed = 5;
            }
            std::vector<std::unique_ptr<Drafter>> drafters;
            std::vector<BatchRequest> reqs;
            std::vector<DecodeResult> alone;
            for (const auto& t : texts) {
                auto ids = m->tokenizer().encode(t);
                auto solo = create_drafter(name, {}, m);
                alone.push_back(SpeculativeDecoder(m, solo.get()).run(ids, opt));
                drafters.push_back(create_drafter(name, {}, m));
                reqs.push_back({ids, drafters.back().get()});
            }
            // Different lengths, so requests finish at different rounds.
            reqs[1].prompt.resize(3);
            alone[1] = SpeculativeDecoder(m, create_drafter(name, {}, m).get()).run(reqs[1].prompt, opt);
            for (const auto mode : {Overlap::Off, Overlap::On, Overlap::Auto}) {
                // Fresh drafters per run: the suffix drafter learns from the requests it served.
                for (std::size_t i = 0; i < reqs.size(); ++i) {
                    drafters[i] = create_drafter(name, {}, m);
                    reqs[i].drafter = drafters[i].get();
                }
                BatchReport rep;
                const auto together = decode_batch(m, reqs, opt, mode, &rep);
                ASSERT_EQ(together.size(), texts.size());
                // Auto decides from measured draft and forward times (either way is right); it never
                // overlaps where there is one thread, and decides after its fourth round.
                if (mode != Overlap::Auto || tbb::this_task_arena::max_concurrency() < 2) {
                    EXPECT_EQ(rep.overlapped,
                              mode == Overlap::On && tbb::this_task_arena::max_concurrency() >= 2);
                }
                if (mode == Overlap::Auto && rep.overlapped) {
                    EXPECT_GE(rep.rounds, 4);
                }
                for (std::size_t i = 0; i < texts.size(); ++i) {
                    EXPECT_EQ(together[i].tokens, alone[i].tokens)
                        << name << " request " << i << (greedy ? " greedy" : " sampled");
                    EXPECT_EQ(together[i].stats.accepted, alone[i].stats.accepted)
                        << name << " request " << i;
                }
            }
        }
}

// The engine's continuous batching with the overlapped schedule: more requests than slots, of different
// lengths, join the half that drafts next as slots free; each output equals decoding it alone, under both
// schedules, with the engine's pooled drafters (siblings sharing what they learn).
TEST(EngineCore, RequestsJoiningBetweenOverlappedRoundsMatchDecodingAlone) {
    auto m =
        Qwen3Model::load(ModelFiles::open(fixtures::tiny_gguf("engine_overlap", TensorType::Q2_0_G128, 7)));
    const std::vector<std::string> texts = {"def f(x):\n    return x", "abc abc abc abc",    "import os\n",
                                            "x = 1\ny = 2\nz =",       "for i in i in i in", "a b a b a b a"};
    for (const std::string name : {"suffix", "ngram"})
        for (const auto mode : {Overlap::Off, Overlap::On}) {
            EngineCoreOptions eo;
            eo.slots = 3;
            eo.overlap = mode;
            eo.drafters[name] = {};
            EngineCore engine(m, std::move(eo));
            std::vector<std::shared_ptr<EngineRequest>> reqs;
            std::vector<DecodeResult> alone;
            for (std::size_t i = 0; i < texts.size(); ++i) {
                auto q = std::make_shared<EngineRequest>();
                q->prompt = m->tokenizer().encode(texts[i]);
                q->options.max_new_tokens = 10 + 7 * static_cast<int>(i % 3);  // they end at different rounds
                q->options.stop_at_eos = false;
                q->options.budget = {3, 0};
                q->drafter = name;
                alone.push_back(
                    SpeculativeDecoder(m, create_drafter(name, {}, m).get()).run(q->prompt, q->options));
                reqs.push_back(std::move(q));
            }
            for (const auto& q : reqs) ASSERT_TRUE(engine.submit(q));  // together: they overlap
            for (std::size_t i = 0; i < reqs.size(); ++i) {
                std::unique_lock<std::mutex> lock(reqs[i]->mu);
                reqs[i]->cv.wait(lock, [&] { return reqs[i]->done; });
                ASSERT_EQ(reqs[i]->error, "");
                EXPECT_EQ(reqs[i]->result.tokens, alone[i].tokens) << name << " request " << i;
                EXPECT_EQ(reqs[i]->text, alone[i].text);
            }
            const auto metrics = engine.metrics();
            EXPECT_EQ(metrics.requests_finished, static_cast<std::int64_t>(texts.size()));
            EXPECT_EQ(metrics.overlapped,
                      mode == Overlap::On && tbb::this_task_arena::max_concurrency() >= 2);
        }
}

// t(M) is measured for every M, positive and finite; the cached curve is read back as it was written (a
// fresh measurement would differ in its timings), and an unreadable cache file is measured again.
TEST(CostModel, MeasuresEverySizeAndCachesTheCurve) {
    auto m = Qwen3Model::load(ModelFiles::open(fixtures::tiny_gguf("cost_model")));
    const auto measured = CostModel::measure(*m, 3, 1);
    ASSERT_EQ(measured.max_tokens(), 3);
    for (const double t : measured.curve()) EXPECT_TRUE(std::isfinite(t) && t > 0) << t;
    EXPECT_EQ(measured.seconds(0), measured.seconds(1));  // clamped to the measured range
    EXPECT_EQ(measured.seconds(9), measured.seconds(3));

    const auto dir = fixtures::temp_path("cost_cache");
    std::filesystem::remove_all(dir);
    const char* old = std::getenv("XDG_CACHE_HOME");
    const std::string saved = old ? old : "";
    setenv("XDG_CACHE_HOME", dir.c_str(), 1);
    const auto first = CostModel::cached(*m, "tiny", 4);
    const auto again = CostModel::cached(*m, "tiny", 4);
    EXPECT_EQ(again.curve(), first.curve());
    std::vector<std::filesystem::path> files;
    for (const auto& e : std::filesystem::directory_iterator(dir + "/ternspec")) files.push_back(e.path());
    ASSERT_EQ(files.size(), 1u);
    std::ofstream(files[0]) << "{not json";
    const auto remeasured = CostModel::cached(*m, "tiny", 4);
    EXPECT_EQ(remeasured.max_tokens(), 4);
    EXPECT_EQ(CostModel::cached(*m, "tiny", 4).curve(), remeasured.curve());  // and written again
    if (old)
        setenv("XDG_CACHE_HOME", saved.c_str(), 1);
    else
        unsetenv("XDG_CACHE_HOME");
}

// Adds and removes in any order keep the trie whole, and removing everything leaves the root alone.
TEST(SuffixTrie, IntegrityHoldsThroughAddsAndRemoves) {
    SuffixTrie trie(8);
    std::mt19937 rng(7);
    std::vector<std::vector<std::int32_t>> seqs;
    for (int i = 0; i < 60; ++i) {
        std::vector<std::int32_t> s(5 + rng() % 40);
        for (auto& t : s) t = static_cast<std::int32_t>(rng() % 6);  // few symbols: deep shared paths
        seqs.push_back(s);
        trie.add_sequence(s);
        if (i % 3 == 2) {
            const auto k = rng() % seqs.size();
            trie.remove_sequence(seqs[k]);
            seqs.erase(seqs.begin() + static_cast<std::ptrdiff_t>(k));
        }
        ASSERT_NO_THROW(trie.check_integrity()) << "after step " << i;
    }
    for (const auto& s : seqs) trie.remove_sequence(s);
    EXPECT_NO_THROW(trie.check_integrity());
    EXPECT_EQ(trie.live_nodes(), 1u);
    EXPECT_EQ(trie.count(trie.root()), 0);
}

// The global trie stays within its memory budget at every step, evicting the oldest responses (issue 18, 14).
TEST(SuffixDrafter, GlobalTrieStaysWithinItsMemoryBudget) {
    DrafterOptions o;
    o.extra["global_max_mb"] = "1";
    SuffixDrafter d(o);
    std::mt19937 rng(3);
    std::size_t peak = 0;
    for (int r = 0; r < 200; ++r) {
        std::vector<std::int32_t> out(400);
        for (auto& t : out) t = static_cast<std::int32_t>(rng() % 5000);
        d.end_request(out);
        peak = std::max(peak, d.global_trie().memory_bytes());
        ASSERT_LE(d.global_trie().memory_bytes(), std::size_t{1} << 20) << "after response " << r;
    }
    EXPECT_GT(peak, std::size_t{1} << 19);  // the budget was reached, so eviction was exercised
    EXPECT_NO_THROW(d.global_trie().check_integrity());
    for (const char* v : {"0", "-5", "1e30"}) {  // -5 and 1e30 were cast to size_t first: undefined
        DrafterOptions bad;
        bad.extra["global_max_mb"] = v;
        EXPECT_THROW(SuffixDrafter{bad}, InputError) << v;
    }
}

// Evicting a response costs time for its own nodes, not the whole trie's (13.7 ms per end_request at a
// 100K-token cap when every node was scanned): an end_request that evicts one response costs a small
// multiple of one that only adds (a ratio, so a slow or sanitised build passes as well).
TEST(SuffixDrafter, EvictionCostDoesNotGrowWithTheTrie) {
    DrafterOptions o;
    o.extra["global_max_tokens"] = "100000";
    SuffixDrafter d(o);
    std::mt19937 rng(5);
    auto response = [&] {
        std::vector<std::int32_t> out(500);
        for (auto& t : out) t = static_cast<std::int32_t>(rng() % 3000);
        return out;
    };
    auto timed = [&](int n) {
        std::vector<std::vector<std::int32_t>> rs;
        for (int i = 0; i < n; ++i) rs.push_back(response());
        const auto t0 = std::chrono::steady_clock::now();
        for (const auto& r : rs) d.end_request(r);
        return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / n;
    };
    for (int r = 0; r < 180; ++r) d.end_request(response());
    const double adding = timed(20);    // up to the cap: 100K tokens, 3M nodes, nothing evicted
    const double evicting = timed(20);  // each evicts the oldest response
    EXPECT_LT(evicting, 4 * adding) << evicting << " ms evicting against " << adding << " ms adding";
    EXPECT_NO_THROW(d.global_trie().check_integrity());
}

TEST(Stats, PlainDecodingHasTauOneAndNoAcceptance) {
    // tau counts verification rounds only: the token the prefill emits belongs to none.
    const auto gguf = fixtures::tiny_gguf("stats_tau", TensorType::Q2_0, 37);
    auto m = Qwen3Model::load(ModelFiles::open(gguf));
    DecodeOptions o;
    o.max_new_tokens = 17;
    o.stop_at_eos = false;
    const auto r = SpeculativeDecoder(m, nullptr).run(m->tokenizer().encode("abc"), o);
    EXPECT_EQ(r.stats.emitted, 17);
    EXPECT_EQ(r.stats.target_forwards, 16);
    EXPECT_DOUBLE_EQ(r.stats.tau(), 1.0);
    EXPECT_EQ(r.stats.drafted, 0);
}

// Per-position acceptance in both conventions: of the drafts reaching a depth (vLLM's), and of those whose
// earlier depths were accepted (conditional).
TEST(DecodeStats, BothAcceptanceConventions) {
    DecodeStats s;
    s.record_round(3, 3, 1);  // depths 1..3 drafted, depth 1 accepted
    s.record_round(3, 3, 3);  // all accepted
    s.record_round(2, 2, 0);  // depths 1..2 drafted, none accepted
    const std::vector<double> vllm{2.0 / 3, 1.0 / 3, 1.0 / 2}, conditional{2.0 / 3, 1.0 / 2, 1.0};
    EXPECT_EQ(s.per_position_acceptance(), vllm);
    EXPECT_EQ(s.conditional_acceptance(), conditional);
    DecodeStats twice = s;
    twice.merge(s);
    EXPECT_EQ(twice.conditional_acceptance(), conditional);
    const auto j = s.to_json();
    EXPECT_EQ(j["conditional_acceptance"].get<std::vector<double>>(), conditional);
}
