// The EAGLE-3 drafter: reads the published checkpoint format, stays lossless for chains and trees, and rolls
// its own KV cache and feature alignment back exactly: after any round, its next draft equals what a fresh
// drafter proposes from the same verified context.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>

#include "drafters/eagle_drafter.hpp"
#include "runtime/speculative_decoder.hpp"
#include "ternspec/error.hpp"
#include "tests/support/test_models.hpp"

using namespace ternspec;

TEST(Eagle, LosslessChainsAndTrees) {
    const auto gguf = fixtures::tiny_gguf("eagle_target", TensorType::Q2_0_G128, 9);
    auto m = Qwen3Model::load(ModelFiles::open(gguf));
    DrafterOptions o;
    o.draft_model = fixtures::random_eagle_head(gguf, "eagle_head");
    const auto prompt = m->tokenizer().encode("def f(x):\n    return x + 1\n\ndef g(y):\n");
    fixtures::expect_lossless_drafter(m, "eagle", o, prompt, 32, {1, 3, 6}, {0, 10});
}

TEST(Eagle, RollbackMatchesAFreshStart) {
    const auto gguf = fixtures::tiny_gguf("eagle_rollback", TensorType::Q2_0_G128, 10);
    auto m = Qwen3Model::load(ModelFiles::open(gguf));
    DrafterOptions o;
    o.draft_model = fixtures::random_eagle_head(gguf, "eagle_rollback_head", 128, 3);
    for (int tree : {0, 8}) {
        EagleDrafter a(o, m);
        const auto layers = a.hidden_layers();
        std::vector<std::int32_t> ctx = m->tokenizer().encode("abc abd abe");
        KvCache cache = m->make_cache(256);
        auto hid = fixtures::target_hidden(*m, cache, ctx, layers);
        a.begin(ctx, &hid);
        ctx.push_back(65);  // the pending token
        const auto first = a.propose(ctx, {5, tree});
        ASSERT_FALSE(first.empty());
        // Accept the first two draft tokens of the path through node 0, then a new pending token.
        std::vector<std::int32_t> cached{ctx.back()};
        for (int node = 0, taken = 0; node >= 0 && taken < 2; ++taken) {
            cached.push_back(first.tokens[static_cast<std::size_t>(node)]);
            int next = -1;
            for (std::size_t j = 0; j < first.size(); ++j)
                if (first.parents[j] == node) {
                    next = static_cast<int>(j);
                    break;
                }
            node = next;
        }
        auto rows = fixtures::target_hidden(*m, cache, cached, layers);
        a.observe(cached, &rows);
        ctx.insert(ctx.end(), cached.begin() + 1, cached.end());
        ctx.push_back(66);
        const auto incremental = a.propose(ctx, {5, tree});

        EagleDrafter b(o, m);
        fixtures::expect_restart_proposes(incremental, b, *m, ctx, layers, {5, tree});
    }
}

TEST(Eagle, CheckpointErrorsNameTheProblem) {
    const auto gguf = fixtures::tiny_gguf("eagle_bad", TensorType::Q2_0_G128, 11);
    auto m = Qwen3Model::load(ModelFiles::open(gguf));
    DrafterOptions o;
    EXPECT_THROW(create_drafter("eagle", o, m), InputError);  // no --draft-model
    o.draft_model = fixtures::random_eagle_head(gguf, "eagle_bad_head");
    auto cfg = nlohmann::json::parse(std::ifstream(o.draft_model + "/config.json"));
    cfg["vocab_size"] = 1000;
    std::ofstream(o.draft_model + "/config.json", std::ios::trunc) << cfg.dump();
    try {
        create_drafter("eagle", o, m);
        ADD_FAILURE();
    } catch (const FormatError& e) {
        EXPECT_NE(std::string(e.what()).find("vocab_size 1000 differs"), std::string::npos) << e.what();
    }
}

TEST(Eagle, GgufFormDraftsLikeTheCheckpoint) {
    const auto gguf = fixtures::tiny_gguf("eagle_gguf_target", TensorType::Q2_0_G128, 12);
    auto m = Qwen3Model::load(ModelFiles::open(gguf));
    DrafterOptions folder, file;
    folder.draft_model = fixtures::random_eagle_head(gguf, "eagle_gguf_head", 128, 5);
    file.draft_model = fixtures::temp_path("eagle_gguf_head.gguf");
    // BF16 in both forms, so the weights are bit-identical.
    write_eagle_gguf(EagleSource::open(folder.draft_model), file.draft_model, TensorType::BF16,
                     {&m->tokenizer(), m->config().n_layers, m->config().context_length});
    const auto prompt = m->tokenizer().encode("for i in range(10):\n    print(i)\n");
    DecodeOptions opt;
    opt.max_new_tokens = 24;
    opt.stop_at_eos = false;
    opt.budget = {4, 8};
    auto a = create_drafter("eagle", folder, m), b = create_drafter("eagle", file, m);
    const auto ra = SpeculativeDecoder(m, a.get()).run(prompt, opt),
               rb = SpeculativeDecoder(m, b.get()).run(prompt, opt);
    EXPECT_EQ(ra.tokens, rb.tokens);
    EXPECT_EQ(ra.stats.depth_accepted, rb.stats.depth_accepted);
    EXPECT_EQ(ra.stats.drafted, rb.stats.drafted);
    EXPECT_GT(rb.stats.drafted, 0);
    // A Qwen3 GGUF is not a head.
    DrafterOptions wrong;
    wrong.draft_model = gguf;
    EXPECT_THROW(create_drafter("eagle", wrong, m), FormatError);
}

// SpecForge's Qwen3 configs list no aux layer ids: the folder and its GGUF form both take the published
// defaults ({2, L/2, L-3}) and draft alike; fc_norm / norm_before_residual variants are refused by name.
TEST(Eagle, HeadsWithoutLayerIdsAndUnknownVariants) {
    const auto gguf = fixtures::tiny_gguf("eagle_noids_target", TensorType::Q2_0_G128, 13);
    auto m = Qwen3Model::load(ModelFiles::open(gguf));
    DrafterOptions folder, file;
    folder.draft_model = fixtures::random_eagle_head(gguf, "eagle_noids_head", 128, 6);
    const auto cfg_path = folder.draft_model + "/config.json";
    auto cfg = nlohmann::json::parse(std::ifstream(cfg_path));
    cfg.erase("eagle_aux_hidden_state_layer_ids");
    if (cfg.contains("eagle_config")) cfg["eagle_config"].erase("eagle_aux_hidden_state_layer_ids");
    std::ofstream(cfg_path, std::ios::trunc) << cfg.dump();
    file.draft_model = fixtures::temp_path("eagle_noids_head.gguf");
    write_eagle_gguf(EagleSource::open(folder.draft_model), file.draft_model, TensorType::BF16,
                     {&m->tokenizer(), m->config().n_layers, m->config().context_length});
    const int L = m->config().n_layers;
    const std::vector<int> defaults = {std::min(2, L - 1), L / 2, std::max(0, L - 3)};
    EXPECT_EQ(EagleHead::load(folder.draft_model, m)->config().aux_layers, defaults);
    EXPECT_EQ(EagleHead::load(file.draft_model, m)->config().aux_layers, defaults);
    for (const char* variant : {"fc_norm", "norm_before_residual"}) {
        auto v = cfg;
        v[variant] = true;
        std::ofstream(cfg_path, std::ios::trunc) << v.dump();
        try {
            EagleHead::load(folder.draft_model, m);
            ADD_FAILURE() << variant << " accepted";
        } catch (const FormatError& e) {
            EXPECT_NE(std::string(e.what()).find(std::string(variant) + " is true"), std::string::npos)
                << e.what();
        }
    }
}

TEST(Eagle, TernaryHeadsArePackedAndLossless) {
    // The published head shape for a tiny target, written ternary and as f16 (int8 at load): the ternary one
    // is packed with the target's kernels and reads fewer bytes; both are lossless.
    const auto gguf = fixtures::tiny_gguf("eagle_ternary_target", TensorType::Q2_0, 31);
    auto m = Qwen3Model::load(ModelFiles::open(gguf));
    const auto ternary = fixtures::temp_path("eagle_ternary.gguf"),
               int8 = fixtures::temp_path("eagle_int8.gguf");
    synth_eagle3(ternary, m->config(), 100, TensorType::Q2_0, 3);
    synth_eagle3(int8, m->config(), 100, TensorType::F16, 3);
    const auto t = EagleHead::load(ternary, m), i = EagleHead::load(int8, m);
    EXPECT_TRUE(t->ternary());
    EXPECT_FALSE(i->ternary());
    EXPECT_LT(t->step_bytes() * 3, i->step_bytes());
    const auto prompt = m->tokenizer().encode("x = [i * i for i in range(5)]\n");
    DecodeOptions plain;
    plain.max_new_tokens = 24;
    plain.stop_at_eos = false;
    const auto want = SpeculativeDecoder(m, nullptr).run(prompt, plain).tokens;
    for (const auto& path : {ternary, int8})
        for (int tree : {0, 6}) {
            DrafterOptions o;
            o.draft_model = path;
            auto d = create_drafter("eagle", o, m);
            DecodeOptions opt = plain;
            opt.budget = {3, tree};
            const auto r = SpeculativeDecoder(m, d.get()).run(prompt, opt);
            EXPECT_EQ(r.tokens, want) << path << " tree " << tree;
            EXPECT_GT(r.stats.drafted, 0);
        }
}

// Explicit aux layer ids in SGLang's convention (the output of layer id) name the stream entering id + 1:
// chosen by the config's eagle_aux_hidden_state_layer_convention, or by the drafter option where the config
// says nothing; a contradiction between the two is an error. Both forms (folder, GGUF) read alike.
TEST(Eagle, SglangLayerConventionShiftsIdsByOne) {
    const auto gguf = fixtures::tiny_gguf("eagle_conv_target", TensorType::Q2_0_G128, 17);
    auto m = Qwen3Model::load(ModelFiles::open(gguf));
    const auto dir = fixtures::random_eagle_head(gguf, "eagle_conv_head", 128, 6);
    const auto cfg_path = dir + "/config.json";
    auto cfg = nlohmann::json::parse(std::ifstream(cfg_path));
    cfg.erase("eagle_aux_hidden_state_layer_ids");
    cfg["eagle_config"] = {{"eagle_aux_hidden_state_layer_ids", {0, 1, 1}}};
    auto write = [&](const nlohmann::json& c) { std::ofstream(cfg_path, std::ios::trunc) << c.dump(); };
    write(cfg);
    EXPECT_EQ(EagleHead::load(dir, m)->config().aux_layers, (std::vector<int>{0, 1, 1}));  // vLLM's
    EXPECT_EQ(EagleHead::load(dir, m, "sglang")->config().aux_layers, (std::vector<int>{1, 2, 2}));
    auto said = cfg;
    said["eagle_config"]["eagle_aux_hidden_state_layer_convention"] = "sglang";
    write(said);
    EXPECT_EQ(EagleHead::load(dir, m)->config().aux_layers, (std::vector<int>{1, 2, 2}));
    const auto file = fixtures::temp_path("eagle_conv_head.gguf");
    write_eagle_gguf(EagleSource::open(dir), file, TensorType::BF16,
                     {&m->tokenizer(), m->config().n_layers, m->config().context_length});
    EXPECT_EQ(EagleHead::load(file, m)->config().aux_layers, (std::vector<int>{1, 2, 2}));
    EXPECT_THROW(EagleHead::load(dir, m, "vllm"), InputError);  // contradicts the config
    said["eagle_config"]["eagle_aux_hidden_state_layer_convention"] = "hf";
    write(said);
    try {
        EagleHead::load(dir, m);
        ADD_FAILURE() << "an unknown convention was accepted";
    } catch (const FormatError& e) {
        EXPECT_NE(std::string(e.what()).find("eagle_aux_hidden_state_layer_convention is \"hf\""),
                  std::string::npos)
            << e.what();
    }
    // In SGLang's convention id L - 1 is the last usable one (the final state); L would point past the stack.
    auto past = cfg;
    past["eagle_config"]["eagle_aux_hidden_state_layer_ids"] = {0, 1, m->config().n_layers};
    past["eagle_config"]["eagle_aux_hidden_state_layer_convention"] = "sglang";
    write(past);
    EXPECT_THROW(EagleHead::load(dir, m), FormatError);
}

// A server's slots share one copy of the head (Drafter::sibling): the sibling reads the same weights and
// drafts exactly as a freshly loaded drafter does, with state of its own.
TEST(Eagle, SiblingsShareTheHeadAndDraftAlike) {
    const auto gguf = fixtures::tiny_gguf("eagle_sibling_target", TensorType::Q2_0_G128, 9);
    auto m = Qwen3Model::load(ModelFiles::open(gguf));
    DrafterOptions o;
    o.draft_model = fixtures::random_eagle_head(gguf, "eagle_sibling_head", 128, 9);
    auto first = create_drafter("eagle", o, m);
    auto sib = first->sibling();
    ASSERT_TRUE(sib);
    EXPECT_EQ(&dynamic_cast<EagleDrafter&>(*sib).head(), &dynamic_cast<EagleDrafter&>(*first).head());
    auto fresh = create_drafter("eagle", o, m);
    fixtures::expect_sibling_drafts_like_fresh(m, *first, *sib, *fresh, {3, 6});
}
