// The Qwen3.5 hybrid target (issue #34): the forward against an independent double-precision reference
// written from the equations, batch invariance with the recurrent state included, the refusals that keep
// it honest until rollback exists (#35), and malformed qwen35 files.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <numeric>
#include <random>

#include "drafters/drafter.hpp"
#include "drafters/mtp_modules.hpp"
#include "runtime/batch_decoder.hpp"
#include "runtime/cost_model.hpp"
#include "runtime/speculative_decoder.hpp"
#include "target/kernels/cpu_features.hpp"
#include "target/model/attention.hpp"
#include "target/model/gguf_export.hpp"
#include "target/model/qwen3_model.hpp"
#include "ternspec/error.hpp"
#include "tests/support/naive_qwen35.hpp"
#include "tests/support/test_models.hpp"

namespace ternspec {
namespace {

namespace fs = std::filesystem;

const std::vector<std::int32_t> kIds = {72,  101, 108, 108, 111, 32, 119, 111, 114, 108, 100, 33,  10, 100,
                                        101, 102, 32,  102, 40,  41, 58,  10,  32,  32,  114, 101, 116};

std::string hybrid_gguf(const std::string& name, TensorType type = TensorType::F16, std::uint64_t seed = 3) {
    const auto path = fixtures::temp_path(name + ".gguf");
    if (!fs::exists(path)) synth_model(path, synth_shape("qwen3.5-tiny"), type, seed);
    return path;
}

// A copy of the hybrid with metadata edits and tensors left out.
std::string edited(const std::string& name, const std::function<void(GgufWriter&)>& edit,
                   const std::string& drop_tensor = "") {
    const auto mf = ModelFiles::open(hybrid_gguf("hybrid_source"));
    GgufWriter w;
    for (const auto& [k, v] : mf.gguf()->metadata()) w.set(k, v);
    edit(w);
    for (const auto& t : mf.gguf()->tensors()) {
        if (t.name == drop_tensor) continue;
        w.add_tensor(t.name, t.type, t.shape,
                     {mf.gguf()->tensor_data(t), mf.gguf()->tensor_data(t) + t.n_bytes});
    }
    const auto path = fixtures::temp_path(name + ".gguf");
    w.write(path);
    return path;
}

std::string load_error(const std::string& path) {
    try {
        Qwen3Model::load(ModelFiles::open(path));
    } catch (const Error& e) {
        return e.what();
    }
    return "(loaded)";
}

void expect_same_state(const KvCache& a, const KvCache& b, const std::string& where) {
    ASSERT_EQ(a.recurrent_layers(), b.recurrent_layers());
    for (int r = 0; r < a.recurrent_layers(); ++r) {
        const auto &sa = a.recurrent().state(r), &sb = b.recurrent().state(r);
        const auto &ca = a.recurrent().conv(r), &cb = b.recurrent().conv(r);
        ASSERT_EQ(sa.size(), sb.size());
        EXPECT_EQ(0, std::memcmp(sa.data(), sb.data(), sa.size() * sizeof(float)))
            << where << ", layer " << r;
        EXPECT_EQ(0, std::memcmp(ca.data(), cb.data(), ca.size() * sizeof(float)))
            << where << ", layer " << r;
    }
}

// Logits against the reference: cosine and the largest difference relative to the largest logit.
std::pair<double, double> closeness(const std::vector<double>& want, const float* got) {
    double dot = 0, na = 0, nb = 0, max_err = 0, scale = 0;
    for (std::size_t i = 0; i < want.size(); ++i) {
        dot += want[i] * got[i];
        na += want[i] * want[i];
        nb += static_cast<double>(got[i]) * got[i];
        max_err = std::max(max_err, std::fabs(want[i] - got[i]));
        scale = std::max(scale, std::fabs(want[i]));
    }
    return {dot / std::sqrt(na * nb), max_err / scale};
}

}  // namespace

TEST(Hybrid, ConfigReadsTheLayerPattern) {
    const auto files = ModelFiles::open(hybrid_gguf("hybrid_config"));
    const auto& c = files.config();
    EXPECT_TRUE(c.hybrid());
    EXPECT_EQ(c.recurrent_count(), 3);
    EXPECT_EQ(c.kv_layers(), 1);
    EXPECT_TRUE(c.is_recurrent(0) && c.is_recurrent(2) && !c.is_recurrent(3));
    EXPECT_EQ(c.rotary_dims(), 16);
    EXPECT_EQ(c.ssm_conv_channels(), (2 * 2 + 4) * 64);
}

// Two references, both written from the equations: with the kernels' int8 rounding of activations the
// forward must agree to float-summation noise (a wrong head mapping, gate, conv tap or decay is far outside
// it); in exact arithmetic the agreement is looser, and the test pins how loose. The int8 activations cost a
// random hybrid more than a random Qwen3: per layer the hidden state's cosine to the exact reference drops by
// 3e-4 to 8e-4 where Qwen3's drops by 5e-5 (4-layer models of both), because a Gated DeltaNet output is
// S^T q over nearly orthogonal random q and k, whose small dot products carry the rounding at a larger
// relative size, and the output norm scales it back up. (Reading value head h from key head h / (Hv/Hk), the
// Hugging Face order, instead of h mod Hk drops the cosine to -0.13: far outside both bounds.)
TEST(Hybrid, MatchesNaiveReferences) {
    for (auto type :
         {TensorType::F16, TensorType::Q2_0_G128, TensorType::TQ2_0, TensorType::PQ2_0, TensorType::PTQ1_0}) {
        const std::string tn(type_info(type).name);
        const auto files = ModelFiles::open(hybrid_gguf("hybrid_naive_" + tn, type, 7));
        auto m = Qwen3Model::load(files);
        const auto got = m->logits_chunked(kIds, static_cast<int>(kIds.size()));
        const auto V = static_cast<std::size_t>(m->config().vocab_size);
        const auto as_run = fixtures::NaiveQwen35(files, true).logits(kIds);
        const auto exact = fixtures::NaiveQwen35(files, false).logits(kIds);
        double worst_cos = 1, worst_run_cos = 1, worst_run_err = 0, worst_err = 0;
        for (std::size_t i = 0; i < kIds.size(); ++i) {
            const std::string where = tn + " position " + std::to_string(i);
            const auto [cos, err] = closeness(as_run[i], got.data() + i * V);
            EXPECT_GE(cos, 0.9995) << where;
            EXPECT_LE(err, 0.03) << where;
            const auto [cos_exact, err_exact] = closeness(exact[i], got.data() + i * V);
            EXPECT_GE(cos_exact, 0.98) << where;
            EXPECT_LE(err_exact, 0.25) << where;
            worst_cos = std::min(worst_cos, cos_exact);
            worst_err = std::max(worst_err, err_exact);
            worst_run_cos = std::min(worst_run_cos, cos);
            worst_run_err = std::max(worst_run_err, err);
        }
        std::printf(
            "%s: worst cosine / error to the int8 reference %.6f / %.4f, to the exact one %.5f / %.4f\n",
            tn.c_str(), worst_run_cos, worst_run_err, worst_cos, worst_err);
    }
}

TEST(Hybrid, BatchInvariantLogitsAndState) {
    auto m = Qwen3Model::load(ModelFiles::open(hybrid_gguf("hybrid_invariance")));
    const auto a = m->logits_chunked(kIds, 1), b = m->logits_chunked(kIds, static_cast<int>(kIds.size())),
               c = m->logits_chunked(kIds, 7);
    ASSERT_EQ(a.size(), b.size());
    EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(float)));
    EXPECT_EQ(0, std::memcmp(a.data(), c.data(), a.size() * sizeof(float)));
    // The recurrent state after M tokens at once equals, byte for byte, the state after M single steps.
    auto once = m->make_cache(64), steps = m->make_cache(64);
    std::vector<std::int32_t> pos(kIds.size());
    std::iota(pos.begin(), pos.end(), 0);
    ForwardInput all;
    all.tokens = kIds;
    all.positions = pos;
    all.no_logits = true;
    m->forward(once, all);
    for (std::size_t i = 0; i < kIds.size(); ++i) {
        ForwardInput one;
        one.tokens = std::span(kIds).subspan(i, 1);
        one.positions = std::span(pos).subspan(i, 1);
        one.no_logits = true;
        m->forward(steps, one);
    }
    ASSERT_EQ(once.recurrent_layers(), 3);
    for (int r = 0; r < once.recurrent_layers(); ++r) {
        expect_same_state(once, steps, "GDN layer " + std::to_string(r));
        EXPECT_GT(std::abs(once.recurrent().state(r)[5]), 0.0f);
    }
}

// A draft tree forwarded in one call (rows branching from their parents): each row's logits equal those of
// decoding its path alone, and keeping one path leaves every GDN layer's state and conv window, byte for
// byte, as decoding that path alone; so does the next forward. A path that is not one (rows that are not
// parent and child) is refused, and so is a forward before the tree was resolved.
TEST(Hybrid, TreeRowsAndTheKeptPathEqualDecodingThePathAlone) {
    auto m = Qwen3Model::load(ModelFiles::open(hybrid_gguf("hybrid_tree")));
    const int V = m->config().vocab_size;
    const std::vector<std::int32_t> prefix(kIds.begin(), kIds.begin() + 9),
        toks(kIds.begin() + 9, kIds.begin() + 16);
    const std::vector<std::int32_t> parents = {-1, 0, 0, 1, 2, 3, 3};  // rows 5 and 6 share row 3
    const int n = static_cast<int>(toks.size());
    auto run = [&](KvCache& cache, std::span<const std::int32_t> t) {
        std::vector<std::int32_t> pos(t.size());
        std::iota(pos.begin(), pos.end(), cache.size());
        ForwardInput in;
        in.tokens = t;
        in.positions = pos;
        return m->forward(cache, in);
    };
    auto path_to = [&](int row) {
        std::vector<int> path;
        for (int r = row; r >= 0; r = parents[static_cast<std::size_t>(r)]) path.insert(path.begin(), r);
        return path;
    };
    auto forward_tree = [&](KvCache& cache) {
        std::vector<std::int32_t> pos(toks.size());
        for (int i = 0; i < n; ++i)
            pos[static_cast<std::size_t>(i)] = cache.size() + static_cast<int>(path_to(i).size()) - 1;
        ForwardInput in;
        in.tokens = toks;
        in.positions = pos;
        in.parents = parents;
        return m->forward(cache, in);
    };
    auto alone_on = [&](const std::vector<int>& path) {
        auto cache = m->make_cache(64);
        run(cache, prefix);
        std::vector<std::int32_t> t;
        for (int r : path) t.push_back(toks[static_cast<std::size_t>(r)]);
        auto out = run(cache, t);
        return std::make_pair(std::move(cache), std::move(out));
    };
    auto tree = m->make_cache(64);
    run(tree, prefix);
    const auto out = forward_tree(tree);
    for (int row = 0; row < n; ++row) {
        auto [cache, alone] = alone_on(path_to(row));
        const std::vector<float> got(out.logits.begin() + static_cast<std::ptrdiff_t>(row) * V,
                                     out.logits.begin() + static_cast<std::ptrdiff_t>(row + 1) * V);
        const std::vector<float> want(alone.logits.end() - V, alone.logits.end());
        EXPECT_EQ(got, want) << "tree row " << row;
    }
    for (const int leaf : {0, 1, 4, 5, 6}) {
        const auto path = path_to(leaf);
        const std::string where = "path to row " + std::to_string(leaf);
        auto spec = m->make_cache(64);
        run(spec, prefix);
        forward_tree(spec);
        spec.keep(n, path);
        auto [alone, unused] = alone_on(path);
        ASSERT_EQ(spec.size(), alone.size()) << where;
        expect_same_state(spec, alone, where);
        const std::vector<std::int32_t> next = {kIds[20], kIds[21]};
        EXPECT_EQ(run(spec, next).logits, run(alone, next).logits) << where;
        expect_same_state(spec, alone, where + ", one forward later");
        // A rollback within the kept path afterwards replays a prefix of it.
    }
    auto bad = m->make_cache(64);
    run(bad, prefix);
    forward_tree(bad);
    EXPECT_THROW(run(bad, std::span(kIds).subspan(20, 1)), Error);  // the tree is not resolved yet
    const std::vector<int> not_a_path = {0, 1, 4};                  // row 4's parent is row 2
    EXPECT_THROW(bad.keep(n, not_a_path), Error);
    EXPECT_THROW(bad.trim_by(n - 3), Error);  // rows 0, 1, 2: row 2's parent is row 0
    bad.trim_by(n - 2);                       // rows 0, 1: a path
    auto [two, unused_two] = alone_on({0, 1});
    expect_same_state(bad, two, "a tree trimmed to the path of rows 0 and 1");
}

// A draft of n tokens forwarded, then rolled back to its first `kept`: every GDN layer's state and conv
// window equal, byte for byte, those of forwarding just the kept tokens; and the next forward's logits too.
TEST(Hybrid, RollbackByReplayEqualsDecodingTheKeptTokensAlone) {
    auto m = Qwen3Model::load(ModelFiles::open(hybrid_gguf("hybrid_rollback")));
    const std::vector<std::int32_t> prefix(kIds.begin(), kIds.begin() + 9),
        draft(kIds.begin() + 9, kIds.begin() + 16);
    const int n = static_cast<int>(draft.size());
    auto run = [&](KvCache& cache, std::span<const std::int32_t> toks) {
        std::vector<std::int32_t> pos(toks.size());
        std::iota(pos.begin(), pos.end(), cache.size());
        ForwardInput in;
        in.tokens = toks;
        in.positions = pos;
        return m->forward(cache, in);
    };
    for (int kept = 0; kept <= n; ++kept)
        for (const bool by_keep : {true, false}) {
            const std::string where = "kept " + std::to_string(kept) + (by_keep ? " (keep)" : " (trim_by)");
            auto spec = m->make_cache(64), alone = m->make_cache(64);
            run(spec, prefix);
            run(spec, draft);
            if (by_keep) {
                std::vector<int> offsets(static_cast<std::size_t>(kept));
                std::iota(offsets.begin(), offsets.end(), 0);
                spec.keep(n, offsets);
            } else {
                spec.trim_by(n - kept);
            }
            run(alone, prefix);
            if (kept > 0) run(alone, std::span(draft).first(static_cast<std::size_t>(kept)));
            ASSERT_EQ(spec.size(), alone.size()) << where;
            expect_same_state(spec, alone, where);
            const std::vector<std::int32_t> next = {kIds[20], kIds[21]};
            EXPECT_EQ(run(spec, next).logits, run(alone, next).logits) << where;
            expect_same_state(spec, alone, where + ", one forward later");
        }
}

TEST(Hybrid, RollbackPastTheLastCallAndNonPrefixesOfAChainAreRefused) {
    auto m = Qwen3Model::load(ModelFiles::open(hybrid_gguf("hybrid_refusals")));
    auto cache = m->make_cache(64);
    std::vector<std::int32_t> pos(kIds.size());
    std::iota(pos.begin(), pos.end(), 0);
    ForwardInput in;
    in.tokens = std::span(kIds).first(10);
    in.positions = std::span(pos).first(10);
    m->forward(cache, in);
    in.tokens = std::span(kIds).subspan(10, 4);
    in.positions = std::span(pos).subspan(10, 4);
    const auto first = m->forward(cache, in);
    try {
        cache.trim_by(5);  // one more than the last call
        FAIL() << "rolled back past the last forward call";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("last forward call"), std::string::npos) << e.what();
    }
    EXPECT_EQ(cache.size(), 14);
    const std::vector<int> path = {0, 2};  // after a chain forward, not a prefix: no such path
    EXPECT_THROW(cache.keep(4, path), Error);
    cache.truncate(0);  // starting over is the zero state
    in.tokens = std::span(kIds).first(10);
    in.positions = std::span(pos).first(10);
    auto fresh = m->make_cache(64);
    EXPECT_EQ(m->forward(cache, in).logits, m->forward(fresh, in).logits);
    // A long call (a prefill) keeps no journal: it rolls back whole, not in part.
    {
        const int n = RecurrentState::kMaxJournaled + 1;
        std::vector<std::int32_t> longer(static_cast<std::size_t>(n)), lpos(static_cast<std::size_t>(n));
        for (int i = 0; i < n; ++i)
            longer[static_cast<std::size_t>(i)] = kIds[static_cast<std::size_t>(i) % kIds.size()];
        std::iota(lpos.begin(), lpos.end(), cache.size());
        auto before = m->make_cache(256);
        ForwardInput pre;
        pre.tokens = std::span(kIds).first(10);
        pre.positions = std::span(pos).first(10);
        m->forward(before, pre);
        auto c2 = m->make_cache(256);
        m->forward(c2, pre);
        ForwardInput big;
        big.tokens = longer;
        big.positions = lpos;
        m->forward(c2, big);
        EXPECT_THROW(c2.trim_by(1), Error);
        c2.trim_by(n);
        expect_same_state(c2, before, "a long call rolled back whole");
    }
    // A draft tree larger than a call's journal could not be resolved to one path: refused before it runs.
    const int big_tree = RecurrentState::kMaxJournaled + 1;
    std::vector<std::int32_t> toks(static_cast<std::size_t>(big_tree), 1), tpos(toks.size()),
        parents(toks.size());
    for (int i = 0; i < big_tree; ++i) {
        tpos[static_cast<std::size_t>(i)] = cache.size() + (i == 0 ? 0 : 1);
        parents[static_cast<std::size_t>(i)] = i == 0 ? -1 : 0;
    }
    ForwardInput tree;
    tree.tokens = toks;
    tree.positions = tpos;
    tree.parents = parents;
    const int before_size = cache.size();
    EXPECT_THROW(m->forward(cache, tree), InputError);
    EXPECT_EQ(cache.size(), before_size);
    (void)first;
}

// Greedy speculation on the hybrid equals plain decoding for the model-free drafters at every k, with drafts
// rejected along the way (so rollback by replay ran); with draft trees too.
// Knows the plain greedy output and drafts it with one wrong token, at a depth that moves every round (none
// in some rounds): every round accepts a different prefix, so rollback by replay keeps 1 to k + 1 tokens.
class ChainOracle : public Drafter {
  public:
    ChainOracle(std::vector<std::int32_t> full, std::int32_t vocab) : full_(std::move(full)), vocab_(vocab) {}
    std::string name() const override { return "chain-oracle"; }
    void begin(std::span<const std::int32_t>, const HiddenRows*) override {}
    void observe(std::span<const std::int32_t>, const HiddenRows*) override {}
    DraftTree propose(std::span<const std::int32_t> ctx, const DraftBudget& b) override {
        DraftTree t;
        const int wrong_at = round_++ % (b.max_depth + 1);  // == max_depth: no wrong token
        for (int i = 0; i < b.max_depth && ctx.size() + i < full_.size(); ++i) {
            const std::int32_t tok = full_[ctx.size() + i];
            t.add(i == wrong_at ? (tok + 1) % vocab_ : tok, static_cast<int>(t.size()) - 1);
        }
        return t;
    }

  private:
    std::vector<std::int32_t> full_;
    std::int32_t vocab_;
    int round_ = 0;
};

// Greedy speculation on the hybrid equals plain decoding at every k: with the oracle (partial acceptance
// every round) and with the suffix and n-gram drafters; draft trees are refused by name.
TEST(Hybrid, SpeculationIsLosslessWithRollbackByReplay) {
    for (std::uint64_t seed : {3, 4}) {
        auto m = Qwen3Model::load(ModelFiles::open(
            hybrid_gguf("hybrid_lossless_" + std::to_string(seed), TensorType::Q2_0_G128, seed)));
        const auto prompt = m->tokenizer().encode("abc abc abc abc def def def abc abc");
        DecodeOptions plain;
        plain.max_new_tokens = 64;
        plain.stop_at_eos = false;
        const auto want = SpeculativeDecoder(m, nullptr).run(prompt, plain).tokens;
        std::vector<std::int32_t> full = prompt;
        full.insert(full.end(), want.begin(), want.end());
        for (const int k : {1, 2, 4, 8}) {
            ChainOracle oracle(full, m->config().vocab_size);
            DecodeOptions opt = plain;
            opt.budget = {k, 0};
            const auto r = SpeculativeDecoder(m, &oracle).run(prompt, opt);
            EXPECT_EQ(r.tokens, want) << "oracle k " << k << " seed " << seed;
            EXPECT_GT(r.stats.accepted, 0) << "oracle k " << k;
            EXPECT_LT(r.stats.accepted, r.stats.drafted) << "oracle k " << k;
        }
        for (const std::string name : {"suffix", "ngram"})
            fixtures::expect_lossless_drafter(m, name, {}, prompt, 64, {1, 2, 4, 8}, {0}, {});
        // A repeat penalty (applied along the draft path in verification) and the adaptive draft length,
        // whose rounds draft anywhere from 0 to 8 tokens (zero-draft rounds included), with the oracle.
        for (const bool penalty : {true, false}) {
            DecodeOptions base = plain;
            if (penalty) base.sampling.repeat_penalty = 1.3f;
            const auto want_p = SpeculativeDecoder(m, nullptr).run(prompt, base).tokens;
            std::vector<std::int32_t> full_p = prompt;
            full_p.insert(full_p.end(), want_p.begin(), want_p.end());
            ChainOracle oracle(full_p, m->config().vocab_size);
            DecodeOptions opt = base;
            opt.budget = {8, 0};
            if (!penalty)
                opt.adaptive = std::make_shared<DraftLengthController>(
                    CostModel({1.0, 1.02, 1.04, 1.06, 1.08, 1.1, 1.12, 1.14, 1.16}), 8);
            const auto r = SpeculativeDecoder(m, &oracle).run(prompt, opt);
            EXPECT_EQ(r.tokens, want_p) << (penalty ? "repeat penalty" : "adaptive k") << " seed " << seed;
            EXPECT_GT(r.stats.accepted, 0);
        }
        // Draft trees: each row's state follows from its parent's, and the accepted path is replayed.
        for (const std::string name : {"suffix", "ngram"})
            fixtures::expect_lossless_drafter(m, name, {}, prompt, 64, {2, 4, 8}, {4, 8}, {});
    }
}

// EAGLE-3 and MTP read the hybrid's hidden states like any target's: lossless at every k. Batched requests
// (one forward for all, each cache rolled back on its own) equal decoding each alone, greedy and sampled.
TEST(Hybrid, EagleMtpAndBatchedRequestsStayLossless) {
    const auto gguf = hybrid_gguf("hybrid_eagle", TensorType::Q2_0_G128, 5);
    auto m = Qwen3Model::load(ModelFiles::open(gguf));
    DrafterOptions o;
    o.draft_model = fixtures::random_eagle_head(gguf, "hybrid_eagle_head", 128, 3);
    fixtures::expect_lossless_drafter(m, "eagle", o, m->tokenizer().encode("def f(x):\n    return x"), 40,
                                      {1, 2, 4}, {0}, {});
    // MTP modules (ternspec's sidecar, plain Qwen3 layers fed the hybrid's final hidden state) too.
    DrafterOptions mtp;
    mtp.draft_model = fixtures::random_mtp_sidecar(gguf, "hybrid_mtp_sidecar", 2, 3);
    fixtures::expect_lossless_drafter(m, "mtp", mtp, m->tokenizer().encode("def f(x):\n    return x"), 40,
                                      {1, 2}, {0}, {});
    // And their draft trees.
    fixtures::expect_lossless_drafter(m, "eagle", o, m->tokenizer().encode("def f(x):\n    return x"), 40,
                                      {3}, {6}, {});
    fixtures::expect_lossless_drafter(m, "mtp", mtp, m->tokenizer().encode("def f(x):\n    return x"), 40,
                                      {2}, {4}, {});
    const std::vector<std::string> texts = {"def f(x):\n    return x", "abc abc abc abc", "x = 1\ny ="};
    for (const std::string name : {"none", "suffix", "ngram"})
        for (const bool greedy : {true, false}) {
            DecodeOptions opt;
            opt.max_new_tokens = 30;
            opt.stop_at_eos = false;
            opt.budget = {4, 0};
            if (!greedy) opt.sampling.temperature = 0.9f, opt.sampling.seed = 5;
            std::vector<std::unique_ptr<Drafter>> drafters;
            std::vector<BatchRequest> reqs;
            std::vector<DecodeResult> alone;
            for (const auto& t : texts) {
                const auto ids = m->tokenizer().encode(t);
                alone.push_back(SpeculativeDecoder(m, create_drafter(name, {}, m).get()).run(ids, opt));
                drafters.push_back(create_drafter(name, {}, m));
                reqs.push_back({ids, drafters.back().get()});
            }
            const auto together = decode_batch(m, reqs, opt, Overlap::Off);
            for (std::size_t i = 0; i < texts.size(); ++i)
                EXPECT_EQ(together[i].tokens, alone[i].tokens)
                    << name << " request " << i << (greedy ? " greedy" : " sampled");
        }
}

// A qwen35 target with Qwen3.5's own MTP layer stored after its stack, as llama.cpp names it
// (blk.<L>.nextn.*).
std::string hybrid_with_nextn(const std::string& name, std::uint64_t seed) {
    const auto target = hybrid_gguf(name + "_target", TensorType::Q2_0_G128, seed);
    const auto both = fixtures::temp_path(name + ".gguf");
    if (fs::exists(both)) return both;
    const auto layer = fixtures::temp_path(name + ".mtp.gguf");
    synth_mtp(layer, ModelFiles::open(target).config(), 1, 0, TensorType::Q2_0_G128, seed + 1,
              MtpForm::Qwen35Nextn);
    const auto mtp = MtpFiles::open(layer);
    convert_model(ModelFiles::open(target), both, TensorType::Q2_0_G128, false, {}, &mtp,
                  MtpPlacement::SameFile);
    return both;
}

// Qwen3.5's MTP layer computes what llama.cpp's graph_mtp computes, applied recursively (against the naive
// reference, each step fed the reference's token); the drafter's chain is that computation's greedy chain;
// and caught up round by round it proposes what a fresh start on the same context does.
TEST(Hybrid, NextnLayerDraftsAsTheReferenceComputes) {
    const auto both = hybrid_with_nextn("hybrid_nextn_ref", 11);
    auto m = Qwen3Model::load(ModelFiles::open(both));
    EXPECT_EQ(m->config().n_layers, 4);  // the nextn layer is not part of the target's stack
    fixtures::NaiveQwen35 ref(ModelFiles::open(both), true);
    const auto mods = MtpModules::load(both, m);
    DrafterOptions o;
    o.draft_model = both;
    const int L = m->config().n_layers, H = m->config().hidden_size, V = m->config().vocab_size;
    for (const std::size_t n : {std::size_t{6}, std::size_t{15}, kIds.size()}) {
        const std::vector<std::int32_t> ctx(kIds.begin(), kIds.begin() + static_cast<std::ptrdiff_t>(n));
        const int N = static_cast<int>(n);
        const auto want = ref.nextn_chain(ctx, 4);
        KvCache cache = m->make_cache(256);
        const auto verified = std::span(ctx).first(ctx.size() - 1);
        auto hid = fixtures::target_hidden(*m, cache, verified, {L});
        // The module by hand: rows 0 .. N - 2 in one forward, then one row per step.
        auto run = [&](const std::function<std::int32_t(int step, const std::vector<float>&)>& next) {
            KvCache mc = mods->make_cache(256);
            std::vector<float> prev(static_cast<std::size_t>(N - 1) * H);
            mods->hidden_in(hid.at(L).data(), N - 1, true, prev.data());
            std::vector<std::int32_t> toks(ctx.begin() + 1, ctx.end()), pos(static_cast<std::size_t>(N - 1));
            std::iota(pos.begin(), pos.end(), 0);
            auto out = mods->forward(0, mc, prev.data(), toks, pos, attention_slots(0, N - 1, {}));
            std::vector<float> last(out.end() - H, out.end()), logits(static_cast<std::size_t>(V));
            std::vector<std::int32_t> chain;
            for (int step = 0; step < 4; ++step) {
                mods->logits(0, last.data(), 1, logits.data());
                chain.push_back(next(step, logits));
                std::vector<float> p(static_cast<std::size_t>(H));
                mods->hidden_in(last.data(), 1, false, p.data());
                std::vector<int> slots(static_cast<std::size_t>(N + step));
                std::iota(slots.begin(), slots.end(), 0);
                const std::vector<std::int32_t> t{chain.back()}, at{N - 1 + step};
                last = mods->forward(0, mc, p.data(), t, at, {slots});
            }
            return chain;
        };
        run([&](int step, const std::vector<float>& logits) {
            fixtures::expect_close_logits(
                want[static_cast<std::size_t>(step)], logits.data(),
                "context " + std::to_string(n) + ", step " + std::to_string(step + 1), 0.05);
            const auto& w = want[static_cast<std::size_t>(step)];
            return static_cast<std::int32_t>(std::max_element(w.begin(), w.end()) - w.begin());
        });
        const auto greedy = run([](int, const std::vector<float>& logits) {
            return static_cast<std::int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
        });
        auto d = create_drafter("mtp", o, m);
        d->begin(verified, &hid);
        EXPECT_EQ(d->propose(ctx, {4, 0}).tokens, greedy) << "context " << n;
    }
    for (const int tree : {0, 8}) {
        auto a = create_drafter("mtp", o, m);
        std::vector<std::int32_t> ctx = m->tokenizer().encode("abc abd abe");
        KvCache cache = m->make_cache(256);
        auto hid = fixtures::target_hidden(*m, cache, ctx, {L});
        a->begin(ctx, &hid);
        ctx.push_back(65);
        const auto first = a->propose(ctx, {3, tree});
        ASSERT_FALSE(first.empty());
        std::vector<std::int32_t> cached{ctx.back(), first.tokens[0]};
        auto rows = fixtures::target_hidden(*m, cache, cached, {L});
        a->observe(cached, &rows);
        ctx.push_back(first.tokens[0]);
        ctx.push_back(66);
        const auto incremental = a->propose(ctx, {4, tree});
        auto b = create_drafter("mtp", o, m);
        fixtures::expect_restart_proposes(incremental, *b, *m, ctx, {L}, {4, tree});
    }
}

// Greedy speculation with the nextn layer is lossless at every k, chains and trees, alone and batched (the
// target file's own nextn layer drafting when no draft model is named).
TEST(Hybrid, NextnLayerSpeculationIsLossless) {
    const auto both = hybrid_with_nextn("hybrid_nextn_lossless", 13);
    auto m = Qwen3Model::load(ModelFiles::open(both));
    DrafterOptions o;
    o.draft_model = both;
    const auto prompt = m->tokenizer().encode("def f(x):\n    return x");
    fixtures::expect_lossless_drafter(m, "mtp", o, prompt, 40, {1, 2, 4, 8}, {0, 6},
                                      [](const DecodeResult& r, int) {
                                          EXPECT_LT(r.stats.accepted, r.stats.drafted) << "no draft rejected";
                                      });
    DecodeOptions opt;
    opt.max_new_tokens = 30;
    opt.stop_at_eos = false;
    opt.budget = {3, 0};
    std::vector<std::unique_ptr<Drafter>> drafters;
    std::vector<BatchRequest> reqs;
    std::vector<DecodeResult> alone;
    for (const std::string t : {"def f(x):\n    return x", "abc abc abc abc", "x = 1\ny ="}) {
        const auto ids = m->tokenizer().encode(t);
        alone.push_back(SpeculativeDecoder(m, nullptr).run(ids, opt));
        drafters.push_back(create_drafter("mtp", {}, m));  // no draft model: the target file's nextn layer
        reqs.push_back({ids, drafters.back().get()});
    }
    const auto together = decode_batch(m, reqs, opt, Overlap::Off);
    for (std::size_t i = 0; i < together.size(); ++i) {
        EXPECT_EQ(together[i].tokens, alone[i].tokens) << "request " << i;
        EXPECT_GT(together[i].stats.drafted, 0) << "request " << i;
    }
}

// A model drafter's pass over the prompt run up front (Drafter::catch_up, which the session counts with the
// prefill) gives the drafts the lazy pass in the first propose gives, for EAGLE-3, MTP and the nextn layer.
TEST(Hybrid, DrafterCatchUpBeforeTheFirstDraftChangesNoDraft) {
    const auto both = hybrid_with_nextn("hybrid_nextn_catch_up", 17);
    auto m = Qwen3Model::load(ModelFiles::open(both));
    std::map<std::string, DrafterOptions> drafters;
    drafters["eagle"].draft_model = fixtures::random_eagle_head(both, "hybrid_catch_up_head", 128, 5);
    drafters["mtp"].draft_model = fixtures::random_mtp_sidecar(both, "hybrid_catch_up_mtp", 3, 6);
    drafters["nextn"].draft_model = both;
    const auto prompt = m->tokenizer().encode("def f(x):\n    return x + 1\n\nprint(f(2))");
    std::vector<std::int32_t> ctx = prompt;
    ctx.push_back(65);
    for (const auto& [kind, o] : drafters)
        for (const DraftBudget budget : {DraftBudget{4, 0}, DraftBudget{3, 8}}) {
            auto lazy = create_drafter(kind == "eagle" ? "eagle" : "mtp", o, m);
            auto eager = create_drafter(kind == "eagle" ? "eagle" : "mtp", o, m);
            KvCache cache = m->make_cache(256);
            auto hid = fixtures::target_hidden(*m, cache, prompt, lazy->hidden_layers());
            lazy->begin(prompt, &hid);
            eager->begin(prompt, &hid);
            eager->catch_up(prompt, budget.max_depth);
            const auto a = lazy->propose(ctx, budget), b = eager->propose(ctx, budget);
            EXPECT_FALSE(a.empty()) << kind;
            EXPECT_EQ(a.tokens, b.tokens) << kind << " tree " << budget.max_nodes;
            EXPECT_EQ(a.parents, b.parents) << kind << " tree " << budget.max_nodes;
        }
}

// What a nextn layer ternspec cannot run is refused by name.
TEST(Hybrid, NextnLayersTernspecCannotRunAreRefused) {
    const auto target = hybrid_gguf("hybrid_nextn_bad_target", TensorType::Q2_0_G128, 15);
    auto m = Qwen3Model::load(ModelFiles::open(target));
    auto error = [&](const std::string& path) -> std::string {
        DrafterOptions o;
        o.draft_model = path;
        try {
            create_drafter("mtp", o, m);
        } catch (const Error& e) {
            return e.what();
        }
        return "(loaded)";
    };
    const auto two = fixtures::temp_path("hybrid_nextn_two.mtp.gguf");
    synth_mtp(two, m->config(), 2, 0, TensorType::Q2_0_G128, 3, MtpForm::Qwen35Nextn);
    EXPECT_NE(error(two).find("2 nextn layers"), std::string::npos) << error(two);
    EXPECT_THROW(synth_mtp(fixtures::temp_path("qwen3_nextn.gguf"), synth_shape("tiny"), 1, 0,
                           TensorType::Q2_0_G128, 3, MtpForm::Qwen35Nextn),
                 InputError);
    // Whether PrismML stores a rotated file's nextn layers rotated is not documented: refused, not guessed.
    const auto rotated_target = fixtures::temp_path("hybrid_nextn_rotated_target.gguf");
    synth_model(rotated_target, synth_shape("qwen3.5-tiny"), TensorType::Q2_0_G128, 4, {}, 64);
    const auto layer = fixtures::temp_path("hybrid_nextn_rotated.mtp.gguf");
    synth_mtp(layer, m->config(), 1, 0, TensorType::Q2_0_G128, 3, MtpForm::Qwen35Nextn);
    const auto mtp = MtpFiles::open(layer);
    const auto rotated = fixtures::temp_path("hybrid_nextn_rotated.gguf");
    convert_model(ModelFiles::open(rotated_target), rotated, TensorType::Q2_0_G128, false, {}, &mtp,
                  MtpPlacement::SameFile);
    EXPECT_NE(error(rotated).find("Hadamard-rotated"), std::string::npos) << error(rotated);
    // ternspec's own modules for a hybrid are plain Qwen3 layers in a qwen3 file, and still load.
    const auto sidecar = fixtures::temp_path("hybrid_sidecar_form.mtp.gguf");
    synth_mtp(sidecar, m->config(), 2, 0, TensorType::Q2_0_G128, 3, MtpForm::Sidecar);
    EXPECT_EQ(error(sidecar), "(loaded)");
}

// Drafts the target's own greedy continuation of the context (a fresh forward per round): under sampling at a
// low temperature its drafts are often accepted and often not.
class SelfDrafter : public Drafter {
  public:
    explicit SelfDrafter(std::shared_ptr<const Qwen3Model> m) : m_(std::move(m)) {}
    std::string name() const override { return "self"; }
    void begin(std::span<const std::int32_t>, const HiddenRows*) override {}
    void observe(std::span<const std::int32_t>, const HiddenRows*) override {}
    DraftTree propose(std::span<const std::int32_t> ctx, const DraftBudget& b) override {
        auto cache = m_->make_cache(static_cast<int>(ctx.size()) + b.max_depth + 1);
        std::vector<std::int32_t> toks(ctx.begin(), ctx.end()), pos(ctx.size());
        std::iota(pos.begin(), pos.end(), 0);
        DraftTree t;
        const int V = m_->config().vocab_size;
        for (int i = 0; i < b.max_depth; ++i) {
            ForwardInput in;
            in.tokens = toks;
            in.positions = pos;
            in.logit_rows = {static_cast<std::int32_t>(toks.size()) - 1};
            const auto out = m_->forward(cache, in);
            const auto next = static_cast<std::int32_t>(
                std::max_element(out.logits.begin(), out.logits.begin() + V) - out.logits.begin());
            t.add(next, static_cast<int>(t.size()) - 1);
            pos = {cache.size()};
            toks = {next};
        }
        return t;
    }

  private:
    std::shared_ptr<const Qwen3Model> m_;
};

// Sampled speculation on the hybrid keeps the target's distribution: the tokens at output positions 1 to 4,
// drawn 3,000 times with the target's own greedy continuation as the draft (accepted often, rejected often,
// so rollback by replay runs under stochastic acceptance), against 3,000 plain samples: a two-sample
// chi-squared test per position over the five commonest tokens and the rest (0.999 quantile, 5 degrees of
// freedom: 20.52).
TEST(Hybrid, SampledSpeculationKeepsTheDistribution) {
    auto m = Qwen3Model::load(ModelFiles::open(hybrid_gguf("hybrid_sampled", TensorType::Q2_0_G128, 9)));
    const auto prompt = m->tokenizer().encode("abc abc");
    DecodeOptions opt;
    opt.max_new_tokens = 5;
    opt.stop_at_eos = false;
    opt.sampling.temperature = 0.3f;  // random models are flat: a low temperature gives the drafts a chance
    const auto greedy = SpeculativeDecoder(m, nullptr)
                            .run(prompt,
                                 [&] {
                                     DecodeOptions g = opt;
                                     g.sampling.temperature = 0;
                                     return g;
                                 }())
                            .tokens;
    std::vector<std::int32_t> full = prompt;
    full.insert(full.end(), greedy.begin(), greedy.end());
#if defined(__SANITIZE_ADDRESS__)
    const int trials =
        600;  // under AddressSanitizer the test is about memory, and 3,000 draws took 3 minutes
#else
    const int trials = 3000;
#endif
    const int positions = 4;
    std::vector<std::map<std::int32_t, int>> plain(positions), spec(positions);
    std::int64_t accepted = 0, drafted = 0;
    for (int t = 0; t < trials; ++t) {
        DecodeOptions o = opt;
        o.sampling.seed = static_cast<std::uint64_t>(t) + 1;
        const auto a = SpeculativeDecoder(m, nullptr).run(prompt, o).tokens;
        o.sampling.seed = static_cast<std::uint64_t>(t) + 100001;
        o.budget = {3, 0};
        SelfDrafter self(m);
        const auto r = SpeculativeDecoder(m, &self).run(prompt, o);
        accepted += r.stats.accepted, drafted += r.stats.drafted;
        for (int p = 0; p < positions; ++p) {
            plain[static_cast<std::size_t>(p)][a[static_cast<std::size_t>(p + 1)]]++;
            spec[static_cast<std::size_t>(p)][r.tokens[static_cast<std::size_t>(p + 1)]]++;
        }
    }
    std::printf("accepted %lld of %lld drafted\n", static_cast<long long>(accepted),
                static_cast<long long>(drafted));
    EXPECT_GT(accepted, drafted / 10) << "the drafts were hardly ever accepted";
    EXPECT_LT(accepted, drafted) << "no draft was rejected";
    for (int p = 0; p < positions; ++p) {
        std::vector<std::pair<int, std::int32_t>> by_count;
        for (const auto& [tok, n] : plain[static_cast<std::size_t>(p)]) by_count.push_back({-n, tok});
        std::sort(by_count.begin(), by_count.end());
        std::vector<std::pair<int, int>> cells;  // (plain, speculative) counts: five tokens, then the rest
        int rest_a = trials, rest_b = trials;
        for (std::size_t i = 0; i < 5 && i < by_count.size(); ++i) {
            const int na = -by_count[i].first, nb = spec[static_cast<std::size_t>(p)][by_count[i].second];
            cells.push_back({na, nb});
            rest_a -= na, rest_b -= nb;
        }
        cells.push_back({rest_a, rest_b});
        double x = 0;
        for (const auto& [na, nb] : cells)
            if (na + nb > 0) x += static_cast<double>(na - nb) * (na - nb) / (na + nb);
        EXPECT_LT(x, 20.52) << "output position " << p + 1;
    }
}

namespace {

// The hybrid's weights read as stored in PrismML's rotated basis: block 64, random signs for the widths 256
// and 512, every ternary matrix and alpha/beta folded, token_embd latent, value heads grouped before ssm_out.
struct RotatedFixture {
    fixtures::NaiveQwen35::Rotation rot;
    std::string path;
};

RotatedFixture rotated_hybrid(const std::string& name, const std::function<void(GgufWriter&)>& edit = {}) {
    RotatedFixture f;
    f.rot.block = 64;
    f.rot.v_grouped = true;
    f.rot.latent_embedding = true;
    std::mt19937 rng(17);
    std::vector<GgufValue> widths, values;
    for (const int width : {256, 512}) {
        widths.push_back(GgufValue::i32(width));
        for (int i = 0; i < width; ++i) {
            const int v = rng() % 2 ? 1 : -1;
            f.rot.signs[width].push_back(v);
            values.push_back(GgufValue::i32(v));
        }
    }
    const auto files = ModelFiles::open(hybrid_gguf("hybrid_source"));
    std::vector<GgufValue> names;
    for (const auto& [n, t] : files.tensors())
        if (t.shape.size() == 2 && n != "token_embd.weight" && n.find("ssm_conv1d") == std::string::npos) {
            names.push_back(GgufValue::str(n));
            f.rot.folded.insert(n);
        }
    f.rot.folded.insert("token_embd.weight");  // the tied head reads rotated input
    f.path = edited(name, [&](GgufWriter& w) {
        const std::string p = "prism.hadamard.";
        w.set(p + "version", GgufValue::u32(1));
        w.set(p + "block_size", GgufValue::u32(64));
        w.set(p + "transform", GgufValue::str("normalized-sylvester-walsh-hadamard"));
        w.set(p + "axis", GgufValue::str("input-last-dimension"));
        w.set(p + "sign_mode", GgufValue::str("explicit"));
        w.set(p + "sign_widths", GgufValue::array(GgufType::I32, widths));
        w.set(p + "sign_values", GgufValue::array(GgufType::I32, values));
        w.set(p + "weight_names", GgufValue::array(GgufType::STRING, names));
        w.set(p + "inverse_weight_names",
              GgufValue::array(GgufType::STRING, {GgufValue::str("token_embd.weight")}));
        w.set(p + "gdn_v_grouped", GgufValue::boolean(true));
        if (edit) edit(w);
    });
    return f;
}

}  // namespace

// A file in the rotated basis against the reference that applies the rotation from its definition (explicit
// Hadamard matrix, signs, the value-head permutation, the latent embedding): the same agreement as unrotated.
TEST(Hybrid, RotatedBasisMatchesItsDefinition) {
    const auto f = rotated_hybrid("hybrid_rotated");
    const auto files = ModelFiles::open(f.path);
    ASSERT_NE(files.rotation(), nullptr);
    auto m = Qwen3Model::load(files);
    const auto got = m->logits_chunked(kIds, static_cast<int>(kIds.size()));
    const auto V = static_cast<std::size_t>(m->config().vocab_size);
    const auto as_run = fixtures::NaiveQwen35(files, true, f.rot).logits(kIds);
    const auto exact = fixtures::NaiveQwen35(files, false, f.rot).logits(kIds);
    const auto unrotated = fixtures::NaiveQwen35(files, false).logits(kIds);
    double worst = 1, worst_exact = 1, best_unrotated = -1;
    for (std::size_t i = 0; i < kIds.size(); ++i) {
        const auto [cos, err] = closeness(as_run[i], got.data() + i * V);
        EXPECT_GE(cos, 0.9995) << "position " << i;
        EXPECT_LE(err, 0.03) << "position " << i;
        worst = std::min(worst, cos);
        worst_exact = std::min(worst_exact, closeness(exact[i], got.data() + i * V).first);
        best_unrotated = std::max(best_unrotated, closeness(unrotated[i], got.data() + i * V).first);
    }
    EXPECT_GE(worst_exact, 0.98);
    EXPECT_LT(best_unrotated, 0.9);  // the rotation matters: the same bytes read unrotated are another model
    std::printf(
        "rotated: worst cosine to the int8 reference %.6f, to the exact one %.5f; best to the unrotated "
        "reading %.3f\n",
        worst, worst_exact, best_unrotated);
    // Batch invariance holds with the rotation too.
    EXPECT_EQ(m->logits_chunked(kIds, 1), got);
}

// convert re-encodes a hybrid (ternary matrices in the new type; conv, alpha and beta stay F32) and keeps a
// rotation's keys: the logits of every output are byte-identical to the input's.
TEST(Hybrid, ConvertKeepsTheModelExactly) {
    const auto rotated = rotated_hybrid("hybrid_convert_rotated").path;
    for (const auto& src : {hybrid_gguf("hybrid_source"), rotated}) {
        auto m = Qwen3Model::load(ModelFiles::open(src));
        const auto want = m->logits_chunked(kIds, 9);
        for (auto type : {TensorType::Q2_0, TensorType::PQ2_0, TensorType::PTQ1_0, TensorType::F16}) {
            const auto out =
                fixtures::temp_path("hybrid_converted_" + std::string(type_info(type).name) + ".gguf");
            convert_model(ModelFiles::open(src), out, type, false);
            const auto files = ModelFiles::open(out);
            EXPECT_EQ(files.rotation() != nullptr, src == rotated);
            EXPECT_EQ(files.tensors().at("blk.0.ssm_alpha.weight").type, TensorType::F32);
            EXPECT_EQ(Qwen3Model::load(files)->logits_chunked(kIds, 9), want)
                << src << " as " << type_info(type).name;
        }
    }
}

// Every kernel path gives the same bytes on the hybrid, rotated or not (the recurrence and the rotation are
// one code path; the matrices go through the dispatched kernels).
TEST(Hybrid, KernelPathsAreBitIdentical) {
    for (const auto& path :
         {hybrid_gguf("hybrid_paths", TensorType::TQ2_0, 11), rotated_hybrid("hybrid_paths_rot").path}) {
        auto m = Qwen3Model::load(ModelFiles::open(path));
        std::vector<std::vector<float>> outs;
        for (const KernelPath p : {KernelPath::Scalar, KernelPath::Avx2, best_kernel_path()}) {
            if (static_cast<int>(p) > static_cast<int>(best_kernel_path())) continue;
            force_kernel_path(p);
            outs.push_back(m->logits_chunked(kIds, 5));
        }
        force_kernel_path(best_kernel_path());
        for (std::size_t i = 1; i < outs.size(); ++i) EXPECT_EQ(outs[i], outs[0]) << path << " path " << i;
    }
}

// On a target in the rotated basis the drafters that read its embedding and head (EAGLE-3, MTP) and the
// suffix drafter stay lossless.
TEST(Hybrid, DraftersOnARotatedTargetStayLossless) {
    const auto path = rotated_hybrid("hybrid_rotated_drafters").path;
    auto m = Qwen3Model::load(ModelFiles::open(path));
    const auto prompt = m->tokenizer().encode("def f(x):\n    return x");
    DrafterOptions eagle, mtp;
    eagle.draft_model = fixtures::random_eagle_head(path, "hybrid_rotated_eagle", 128, 3);
    mtp.draft_model = fixtures::random_mtp_sidecar(path, "hybrid_rotated_mtp", 2, 3);
    fixtures::expect_lossless_drafter(m, "eagle", eagle, prompt, 32, {1, 4}, {0}, {});
    fixtures::expect_lossless_drafter(m, "mtp", mtp, prompt, 32, {1, 2}, {0}, {});
    fixtures::expect_lossless_drafter(m, "suffix", {}, m->tokenizer().encode("abc abc abc abc"), 32, {2, 8},
                                      {0}, {});
}

TEST(Hybrid, RotationMetadataIsCheckedKeyByKey) {
    auto expect = [](const std::string& path, const std::string& needle) {
        const auto e = load_error(path);
        EXPECT_NE(e.find(needle), std::string::npos) << e;
    };
    const std::string p = "prism.hadamard.";
    expect(rotated_hybrid("rot_unknown", [&](GgufWriter& w) { w.set(p + "scale_mode", GgufValue::str("x")); })
               .path,
           p + "scale_mode");
    expect(
        rotated_hybrid("rot_version", [&](GgufWriter& w) { w.set(p + "version", GgufValue::u32(3)); }).path,
        p + "version");
    expect(
        rotated_hybrid("rot_transform", [&](GgufWriter& w) { w.set(p + "transform", GgufValue::str("dct")); })
            .path,
        p + "transform");
    expect(
        rotated_hybrid("rot_axis", [&](GgufWriter& w) { w.set(p + "axis", GgufValue::str("output")); }).path,
        p + "axis");
    expect(
        rotated_hybrid("rot_block", [&](GgufWriter& w) { w.set(p + "block_size", GgufValue::u32(96)); }).path,
        p + "block_size");
    expect(
        rotated_hybrid("rot_block_big", [&](GgufWriter& w) { w.set(p + "block_size", GgufValue::u32(1024)); })
            .path,
        p + "block_size");
    expect(rotated_hybrid("rot_sign",
                          [&](GgufWriter& w) {
                              w.set(p + "sign_widths",
                                    GgufValue::array(GgufType::I32, {GgufValue::i32(256)}));
                          })
               .path,
           p + "sign_values");
    expect(
        rotated_hybrid("rot_partial",
                       [&](GgufWriter& w) {
                           w.set(p + "weight_names",
                                 GgufValue::array(GgufType::STRING, {GgufValue::str("blk.0.ffn_up.weight")}));
                       })
            .path,
        "leaves out");
}

TEST(Hybrid, MalformedFilesNameTheFault) {
    auto expect = [](const std::string& path, const std::string& needle) {
        const auto e = load_error(path);
        EXPECT_NE(e.find(needle), std::string::npos) << e;
        EXPECT_NE(e.find(path), std::string::npos) << e;
    };
    expect(edited("hybrid_unknown_key",
                  [](GgufWriter& w) { w.set("qwen35.ssm.dt_rank_scale", GgufValue::f32(2)); }),
           "qwen35.ssm.dt_rank_scale");
    expect(edited("hybrid_rotation",
                  [](GgufWriter& w) { w.set("prism.hadamard.block_size", GgufValue::u32(512)); }),
           "prism.hadamard.version");  // a rotation declared in part
    expect(
        edited("hybrid_heads", [](GgufWriter& w) { w.set("qwen35.ssm.time_step_rank", GgufValue::u32(3)); }),
        "ssm.time_step_rank");
    expect(edited("hybrid_inner", [](GgufWriter& w) { w.set("qwen35.ssm.inner_size", GgufValue::u32(100)); }),
           "qwen35.ssm.inner_size");
    expect(
        edited("hybrid_no_eps", [](GgufWriter& w) { w.remove("qwen35.attention.layer_norm_rms_epsilon"); }),
        "layer_norm_rms_epsilon");
    expect(edited("hybrid_no_sections", [](GgufWriter& w) { w.remove("qwen35.rope.dimension_sections"); }),
           "rope.dimension_sections");
    expect(edited(
               "hybrid_no_conv", [](GgufWriter&) {}, "blk.1.ssm_conv1d.weight"),
           "blk.1.ssm_conv1d.weight");
    expect(edited(
               "hybrid_no_a", [](GgufWriter&) {}, "blk.0.ssm_a"),
           "blk.0.ssm_a");
}

}  // namespace ternspec

namespace ternspec {

// The shipped hybrid: its Hugging Face folder (read by the C++ reader, which applies llama.cpp's conventions)
// and its GGUF (written by train/export_gguf_hybrid.py, the same conventions in Python, then packed by
// convert) give byte-identical logits; and speculation on it is lossless with every model-free drafter.
TEST(Hybrid, ShippedModelFolderAndGgufAgreeAndSpeculationIsLossless) {
    const std::string folder = std::string(TERNSPEC_SOURCE_DIR) + "/models/tern-pystd-hybrid";
    ASSERT_TRUE(fs::exists(folder + "/tern-pystd-hybrid.gguf")) << folder;
    auto from_folder = Qwen3Model::load(ModelFiles::open(folder));
    auto from_gguf = Qwen3Model::load(ModelFiles::open(folder + "/tern-pystd-hybrid.gguf"));
    ASSERT_TRUE(from_gguf->config().hybrid());
    const auto ids =
        from_gguf->tokenizer().encode("import os\nimport sys\n\n\ndef main(argv):\n    for arg in argv:\n");
    EXPECT_EQ(from_folder->logits_chunked(ids, 7),
              from_gguf->logits_chunked(ids, static_cast<int>(ids.size())));
    for (const std::string name : {"suffix", "ngram"})
        fixtures::expect_lossless_drafter(from_gguf, name, {}, ids, 48, {2, 4, 8}, {0}, {});
}

}  // namespace ternspec

namespace ternspec {

// The drafters trained for the shipped hybrid (train/train_eagle.py --ternary, train/train_mtp.py and
// train/train_nextn.py against models/tern-pystd-hybrid): speculation with each equals plain decoding at
// every draft length, chains and trees, drafts are made, some rejected, and enough accepted that they are
// drafters (tau above 1.3 at k = 4).
TEST(Hybrid, ShippedEagleAndMtpDraftersAreLosslessAndAccept) {
    const std::string models = std::string(TERNSPEC_SOURCE_DIR) + "/models/";
    auto m = Qwen3Model::load(ModelFiles::open(models + "tern-pystd-hybrid/tern-pystd-hybrid.gguf"));
    const auto ids = m->tokenizer().encode(
        "import os\n\n\ndef read_lines(path):\n    with open(path) as f:\n        return [line.rstrip() for");
    // Qwen3.5's own MTP layer trained for it (train/train_nextn.py, scripts/ship_nextn.sh): "mtp" on that
    // file.
    const std::string nextn = models + "tern-pystd-hybrid-nextn/tern-pystd-hybrid.mtp.gguf";
    for (const std::string kind : {"eagle", "mtp", "nextn"}) {
        const std::string name = kind == "eagle" ? "eagle" : "mtp";
        const std::string folder =
            kind == "nextn" ? nextn : models + "tern-pystd-hybrid-" + (kind == "eagle" ? "eagle3" : "mtp");
        ASSERT_TRUE(fs::exists(kind == "nextn" ? nextn : folder + "/model.safetensors")) << folder;
        DrafterOptions o;
        o.draft_model = folder;
        fixtures::expect_lossless_drafter(m, name, o, ids, 48, {1, 2, 4, 8}, {0, 8},
                                          [&](const DecodeResult& r, int k) {
                                              EXPECT_LT(r.stats.accepted, r.stats.drafted)
                                                  << kind << " k " << k << ": nothing was rejected";
                                              if (k == 4) {
                                                  EXPECT_GT(r.stats.tau(), 1.3) << kind;
                                              }
                                          });
    }
}

}  // namespace ternspec
