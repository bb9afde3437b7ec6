// The Qwen3 forward against an independent, naive double-precision implementation written here (sharing
// no code with the kernels or the forward), and the properties speculative decoding rests on: batch
// invariance, tree attention equal to the chain of its path, and KV rollback equal to never having drafted.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <numeric>
#include <random>

#include "target/formats/dequantize.hpp"
#include "target/kernels/cpu_features.hpp"
#include "target/model/attention.hpp"
#include "target/model/gguf_export.hpp"
#include "target/model/model_files.hpp"
#include "target/model/qwen3_model.hpp"
#include "target/model/ternary_import.hpp"
#include "ternspec/error.hpp"
#include "tests/support/naive_qwen3.hpp"
#include "tests/support/test_models.hpp"

using namespace ternspec;

namespace {

// Each logit within 5 % of the row's largest (the packed path quantises activations to int8 per row):
// measured at most 3.7 % (medians 2.0-2.2 %) over the 105 rows of Forward.MatchesNaiveFloatImplementation.
constexpr double kMaxLogitError = 0.05;

std::vector<float> run(const Qwen3Model& m, const std::vector<std::int32_t>& ids, int chunk) {
    return m.logits_chunked(ids, chunk);
}

const std::vector<std::int32_t> kIds = {72, 101, 108, 108, 111, 32, 119, 111, 114, 108, 100,
                                        33, 10,  100, 101, 102, 32, 102, 40,  41,  58};

}  // namespace

TEST(Forward, MatchesNaiveFloatImplementation) {
    for (auto type :
         {TensorType::Q2_0_G128, TensorType::TQ2_0, TensorType::TQ1_0, TensorType::Q2_0, TensorType::F16}) {
        const auto path =
            fixtures::tiny_gguf(std::string("naive_") + std::string(type_info(type).name), type, 5);
        const auto files = ModelFiles::open(path);
        auto m = Qwen3Model::load(files);
        fixtures::NaiveQwen3 ref(files);
        const auto want = ref.logits(kIds);
        const auto got = run(*m, kIds, static_cast<int>(kIds.size()));
        const std::size_t V = static_cast<std::size_t>(m->config().vocab_size);
        for (std::size_t i = 0; i < kIds.size(); ++i)
            fixtures::expect_close_logits(
                want[i], got.data() + i * V,
                std::string(type_info(type).name) + " position " + std::to_string(i), kMaxLogitError);
    }
}

TEST(Forward, BatchInvariantOneByOneAllAtOnceAndChunksOfSeven) {
    auto m = Qwen3Model::load(ModelFiles::open(fixtures::tiny_gguf("invariance")));
    const auto a = run(*m, kIds, 1), b = run(*m, kIds, static_cast<int>(kIds.size())), c = run(*m, kIds, 7);
    ASSERT_EQ(a.size(), b.size());
    EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(float)));
    EXPECT_EQ(0, std::memcmp(a.data(), c.data(), a.size() * sizeof(float)));
}

TEST(Forward, TreeNodesEqualTheChainOfTheirPath) {
    auto m = Qwen3Model::load(ModelFiles::open(fixtures::tiny_gguf("tree")));
    const std::vector<std::int32_t> prefix = {72, 101, 108, 108};
    // Tree after the prefix: root r, children a,b of r; child c of b; child d of c.
    const std::vector<std::int32_t> toks = {111, 44, 32, 119, 98}, parents = {-1, 0, 0, 2, 3},
                                    depth = {0, 1, 1, 2, 3};
    KvCache cache = m->make_cache(64);
    std::vector<std::int32_t> pos(prefix.size());
    std::iota(pos.begin(), pos.end(), 0);
    ForwardInput pre{prefix, pos, {}, {}, true, {}};
    m->forward(cache, pre);
    std::vector<std::int32_t> tpos;
    for (auto d : depth) tpos.push_back(static_cast<std::int32_t>(prefix.size()) + d);
    ForwardInput tin;
    tin.tokens = toks;
    tin.positions = tpos;
    tin.parents = parents;
    const auto tree = m->forward(cache, tin);
    const std::size_t V = static_cast<std::size_t>(m->config().vocab_size);
    // Path to node 4: r(0) -> b(2) -> c(3) -> d(4).
    std::vector<std::int32_t> chain = prefix;
    for (int n : {0, 2, 3, 4}) chain.push_back(toks[static_cast<std::size_t>(n)]);
    const auto plain = run(*m, chain, static_cast<int>(chain.size()));
    int row = static_cast<int>(prefix.size());
    for (int n : {0, 2, 3, 4}) {
        EXPECT_EQ(0, std::memcmp(tree.logits.data() + static_cast<std::size_t>(n) * V,
                                 plain.data() + static_cast<std::size_t>(row) * V, V * sizeof(float)))
            << "node " << n;
        ++row;
    }
    // Keeping that path leaves the cache exactly as plain decoding of the path builds it.
    cache.keep(static_cast<int>(toks.size()), std::vector<int>{0, 2, 3, 4});
    KvCache ref = m->make_cache(64);
    std::vector<std::int32_t> cpos(chain.size());
    std::iota(cpos.begin(), cpos.end(), 0);
    ForwardInput cin{chain, cpos, {}, {}, true, {}};
    m->forward(ref, cin);
    ASSERT_EQ(cache.size(), ref.size());
    const std::size_t w = static_cast<std::size_t>(cache.head_dim()) * 2;
    for (int l = 0; l < m->config().n_layers; ++l)
        for (int s = 0; s < ref.size(); ++s)
            for (int h = 0; h < m->config().n_kv_heads; ++h)
                for (const bool value : {false, true})
                    EXPECT_EQ(0, std::memcmp(cache.slice(l, value, h, s), ref.slice(l, value, h, s), w))
                        << "layer " << l << " slot " << s << " head " << h << (value ? " value" : " key");
}

TEST(Forward, HiddenStatesAreTheResidualStream) {
    auto m = Qwen3Model::load(ModelFiles::open(fixtures::tiny_gguf("hidden")));
    KvCache cache = m->make_cache(64);
    std::vector<std::int32_t> pos(kIds.size());
    std::iota(pos.begin(), pos.end(), 0);
    ForwardInput in;
    in.tokens = kIds;
    in.positions = pos;
    in.hidden_layers = {0, m->config().n_layers};
    auto r = m->forward(cache, in);
    const int H = m->config().hidden_size;
    std::vector<float> e(static_cast<std::size_t>(H));
    m->embed(kIds[3], e.data());
    EXPECT_EQ(0,
              std::memcmp(e.data(), r.hidden[0].data() + 3 * H, static_cast<std::size_t>(H) * sizeof(float)))
        << "layer 0 input is the embedding";
    std::vector<float> lg(static_cast<std::size_t>(m->config().vocab_size));
    m->lm_head(r.hidden[m->config().n_layers].data() + 3 * H, 1, lg.data());
    EXPECT_EQ(0, std::memcmp(lg.data(), r.logits.data() + 3 * lg.size(), lg.size() * sizeof(float)));
}

TEST(Formats, HfFolderAndGgufGiveIdenticalLogits) {
    const auto gguf = fixtures::tiny_gguf("hf_vs_gguf");
    const auto dir = fixtures::hf_folder_from_gguf(gguf, "hf_vs_gguf_hf");
    auto a = Qwen3Model::load(ModelFiles::open(gguf));
    auto b = Qwen3Model::load(ModelFiles::open(dir));
    const auto la = run(*a, kIds, 4), lb = run(*b, kIds, 4);
    EXPECT_EQ(0, std::memcmp(la.data(), lb.data(), la.size() * sizeof(float)));
    EXPECT_EQ(a->tokenizer().encode("hello <|im_end|>"), b->tokenizer().encode("hello <|im_end|>"));
}

TEST(ShippedModel, WeightsAreExactlyTernaryAndBothFormsAgree) {
    const auto dir = fixtures::shipped_model();
    if (dir.empty()) GTEST_SKIP() << "no trained model shipped in models/";
    const auto files = ModelFiles::open(dir);
    for (const auto& [name, t] : files.tensors()) {
        if (t.shape.size() == 2) {
            EXPECT_NO_THROW(import_ternary(t, false)) << name;  // throws unless exactly ternary per 128
        }
    }
    auto hf = Qwen3Model::load(files);
    EXPECT_FALSE(hf->quantized_on_load());
    const auto gguf = dir + "/" + std::filesystem::path(dir).filename().string() + ".gguf";
    if (!std::filesystem::exists(gguf)) GTEST_SKIP() << gguf << " missing";
    auto gg = Qwen3Model::load(ModelFiles::open(gguf));
    const auto ids = hf->tokenizer().encode("import os\nimport sys\n\ndef main(argv):\n");
    EXPECT_EQ(ids, gg->tokenizer().encode("import os\nimport sys\n\ndef main(argv):\n"));
    const auto la = run(*hf, ids, 3), lb = run(*gg, ids, 5);
    EXPECT_EQ(0, std::memcmp(la.data(), lb.data(), la.size() * sizeof(float)));
}

TEST(Convert, LosslessOrRefused) {
    const auto src = fixtures::tiny_gguf("convert_src");
    const auto files = ModelFiles::open(src);
    const auto out64 = fixtures::temp_path("convert_g64.gguf");
    convert_model(files, out64, TensorType::Q2_0, false);
    const auto converted = ModelFiles::open(out64);
    EXPECT_EQ(converted.get("blk.0.ffn_up.weight").type, TensorType::Q2_0);
    auto a = Qwen3Model::load(files), b = Qwen3Model::load(converted);
    const auto la = run(*a, kIds, 5), lb = run(*b, kIds, 5);
    EXPECT_EQ(0, std::memcmp(la.data(), lb.data(), la.size() * sizeof(float)));
    // Group-128 scales cannot share TQ2_0's one scale per 256 weights.
    try {
        convert_model(files, fixtures::temp_path("convert_tq2.gguf"), TensorType::TQ2_0, false);
        ADD_FAILURE() << "lossy conversion accepted";
    } catch (const InputError& e) {
        EXPECT_NE(std::string(e.what()).find("cannot be written as TQ2_0 without loss"), std::string::npos)
            << e.what();
    }
}

// Storage follows the rows written, not the capacity, and growing keeps every row in place.
TEST(KvCacheStorage, GrowsWithRowsWrittenAndKeepsContents) {
    ModelConfig c;
    c.n_layers = 3;
    c.n_kv_heads = 2;
    c.head_dim = 8;
    KvCache cache(c, 40000, KvType::F32);
    EXPECT_EQ(cache.bytes(), 0u);
    const int width = cache.row_width();
    auto row = [&](int layer, int slot, int which) {
        std::vector<float> r(static_cast<std::size_t>(width));
        for (int i = 0; i < width; ++i)
            r[static_cast<std::size_t>(i)] =
                static_cast<float>(((layer * 2 + which) * 1000 + slot) * 100 + i);
        return r;
    };
    auto write = [&](int from, int to) {
        for (int slot = from; slot < to; ++slot)
            for (int l = 0; l < c.n_layers; ++l)
                cache.store(l, slot, row(l, slot, 0).data(), row(l, slot, 1).data());
        cache.commit(to - from);
    };
    write(0, 10);
    const std::size_t per_row = static_cast<std::size_t>(c.n_layers) * 2 * width * 4;
    EXPECT_LE(cache.bytes(), 64 * per_row);
    write(10, 300);  // several doublings
    EXPECT_LE(cache.bytes(), 512 * per_row);
    cache.trim_by(5);
    cache.keep(4, std::vector<int>{1, 3});
    ASSERT_EQ(cache.size(), 293);
    std::vector<float> got(static_cast<std::size_t>(width));
    for (int slot = 0; slot < cache.size(); ++slot) {
        const int source = slot < 291 ? slot : (slot == 291 ? 292 : 294);
        for (int l = 0; l < c.n_layers; ++l)
            for (int which = 0; which < 2; ++which) {
                cache.load_part(l, slot, which == 1, 0, width, got.data());
                ASSERT_EQ(got, row(l, source, which)) << "layer " << l << " slot " << slot;
            }
    }
    KvCache small(c, 70, KvType::F16);
    for (int slot = 0; slot < 70; ++slot)
        small.store(0, slot, row(0, slot, 0).data(), row(0, slot, 1).data());
    EXPECT_EQ(small.bytes(),
              static_cast<std::size_t>(c.n_layers) * 2 * 70 * width * 2);  // capped at capacity
    EXPECT_THROW(small.store(0, 70, got.data(), got.data()), InputError);
}

// attend() directly: every token of a call (chain or tree, any head size, either cache type) gets the bits it
// gets alone, on every kernel path, and the values of a naive double-precision softmax attention.
TEST(Attention, BatchedEqualsAloneOnEveryPathAndMatchesNaive) {
    for (const int hd : {20, 64})
        for (const KvType type : {KvType::F16, KvType::F32}) {
            ModelConfig c;
            c.n_layers = 2;
            c.n_kv_heads = 2;
            c.head_dim = hd;
            const int nh = 6, base = 37, M = 6, layer = 1, width = 2 * hd, qd = nh * hd;
            KvCache cache(c, base + M, type);
            std::mt19937 rng(static_cast<unsigned>(hd));
            std::normal_distribution<float> normal(0.0f, 1.0f);
            std::vector<float> k(static_cast<std::size_t>(width)), v(k.size());
            for (int slot = 0; slot < base + M; ++slot)
                for (int l = 0; l < c.n_layers; ++l) {
                    for (std::size_t i = 0; i < k.size(); ++i) {
                        k[i] = normal(rng);
                        v[i] = normal(rng);
                    }
                    cache.store(l, slot, k.data(), v.data());
                }
            cache.commit(base);
            const std::size_t stride = static_cast<std::size_t>(qd) + 5;  // q rows inside wider rows
            std::vector<float> q(static_cast<std::size_t>(M) * stride);
            for (auto& x : q) x = 2.0f * normal(rng);
            const std::vector<std::int32_t> tree = {-1, 0, 0, 1, -1, 4};
            for (const bool is_tree : {false, true}) {
                const auto slots = attention_slots(
                    base, M, is_tree ? std::span<const std::int32_t>(tree) : std::span<const std::int32_t>());
                const KernelPath best = best_kernel_path();
                std::vector<std::vector<float>> outs;
                for (const KernelPath path : {KernelPath::Scalar, best}) {
                    force_kernel_path(path);
                    std::vector<float> together(static_cast<std::size_t>(M) * qd), alone(together.size());
                    attend(cache, layer, slots, q.data(), stride, nh, c.n_kv_heads, hd, together.data());
                    for (int i = 0; i < M; ++i)
                        attend(cache, layer, {slots[static_cast<std::size_t>(i)]},
                               q.data() + static_cast<std::size_t>(i) * stride, stride, nh, c.n_kv_heads, hd,
                               alone.data() + static_cast<std::size_t>(i) * qd);
                    ASSERT_EQ(0, std::memcmp(together.data(), alone.data(), together.size() * sizeof(float)))
                        << kernel_path_name(path) << " hd " << hd << (is_tree ? " tree" : " chain");
                    outs.push_back(together);
                }
                force_kernel_path(best);
                EXPECT_EQ(0, std::memcmp(outs[0].data(), outs[1].data(), outs[0].size() * sizeof(float)));
                std::vector<float> kr(static_cast<std::size_t>(width)), vr(kr.size());
                for (int i = 0; i < M; ++i)
                    for (int h = 0; h < nh; ++h) {
                        const int g = h / (nh / c.n_kv_heads);
                        const float* qh = q.data() + static_cast<std::size_t>(i) * stride +
                                          static_cast<std::size_t>(h) * hd;
                        const auto& sl = slots[static_cast<std::size_t>(i)];
                        std::vector<double> w(sl.size());
                        double mx = -1e300, denom = 0;
                        for (std::size_t s = 0; s < sl.size(); ++s) {
                            cache.load_part(layer, sl[s], false, 0, width, kr.data());
                            double d = 0;
                            for (int e = 0; e < hd; ++e)
                                d += double(qh[e]) * kr[static_cast<std::size_t>(g * hd + e)];
                            w[s] = d / std::sqrt(double(hd));
                            mx = std::max(mx, w[s]);
                        }
                        for (auto& x : w) denom += (x = std::exp(x - mx));
                        for (int e = 0; e < hd; ++e) {
                            double o = 0;
                            for (std::size_t s = 0; s < sl.size(); ++s) {
                                cache.load_part(layer, sl[s], true, g * hd + e, 1, vr.data());
                                o += w[s] / denom * vr[0];
                            }
                            const float got =
                                outs[1][static_cast<std::size_t>(i) * qd + static_cast<std::size_t>(h) * hd +
                                        static_cast<std::size_t>(e)];
                            ASSERT_NEAR(got, o, 1e-5 + 1e-5 * std::fabs(o)) << "token " << i << " head " << h;
                        }
                    }
            }
        }
}
