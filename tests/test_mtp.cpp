// The MTP drafter: its modules against an independent naive implementation, read alike from the sidecar
// folder and from a GGUF with nextn layers; lossless for chains and trees; its lazily caught-up caches
// give the same drafts as a fresh start; malformed sidecars fail naming the problem.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>

#include "drafters/mtp_drafter.hpp"
#include "runtime/batch_decoder.hpp"
#include "runtime/speculative_decoder.hpp"
#include "target/model/gguf_export.hpp"
#include "target/model/mtp_files.hpp"
#include "ternspec/error.hpp"
#include "tests/support/naive_qwen3.hpp"
#include "tests/support/test_models.hpp"

using namespace ternspec;

namespace {

// Each logit within 5 % of the row's largest: measured at most 3.2 % (median 2.1 %) over the 32 rows of
// Mtp.ModulesMatchANaiveImplementation.
constexpr double kMaxLogitError = 0.05;
HiddenRows final_hidden(const Qwen3Model& m, KvCache& cache, std::span<const std::int32_t> toks) {
    return fixtures::target_hidden(m, cache, toks, {m.config().n_layers});
}

// Target + sidecar written as one GGUF with llama.cpp's nextn layers.
std::string combined_gguf(const std::string& target, const std::string& sidecar, const std::string& name) {
    const auto out = fixtures::temp_path(name + ".gguf");
    const auto mtp = MtpFiles::open(sidecar);
    convert_model(ModelFiles::open(target), out, TensorType::Q2_0_G128, false, {}, &mtp,
                  MtpPlacement::SameFile);
    return out;
}

const std::vector<std::int32_t> kIds = {72,  101, 108, 108, 111, 32,  119, 111, 114,
                                        108, 100, 33,  10,  100, 101, 102, 32,  102};

}  // namespace

TEST(Mtp, ModulesMatchANaiveImplementation) {
    const auto gguf = fixtures::tiny_gguf("mtp_naive_target", TensorType::Q2_0_G128, 21);
    const auto sidecar = fixtures::random_mtp_sidecar(gguf, "mtp_naive", 2, 4);
    const auto both = combined_gguf(gguf, sidecar, "mtp_naive_combined");
    fixtures::NaiveQwen3 ref(ModelFiles::open(both));
    const int L = ref.c.n_layers, n = static_cast<int>(kIds.size());
    auto m = Qwen3Model::load(ModelFiles::open(gguf));
    for (const auto& source : {sidecar, both}) {
        auto mods = MtpModules::load(source, m);
        ASSERT_EQ(mods->depth(), 2);
        KvCache tc = m->make_cache(64);
        const auto h = final_hidden(*m, tc, kIds).at(L);
        auto prev_naive = ref.hidden(kIds);
        std::vector<float> prev(h);
        for (int d = 0; d < 2; ++d) {
            // Module d, row j: (previous state at j, token j + d + 1) for j = 0 .. n - 2 - d.
            const int rows = n - 1 - d;
            const std::string p = "blk." + std::to_string(L + d) + ".";
            fixtures::NaiveQwen3::Rows z;
            for (int j = 0; j < rows; ++j) {
                auto e = ref.norm(ref.embedding(kIds[static_cast<std::size_t>(j + d + 1)]),
                                  ref.w[p + "nextn.enorm.weight"], ref.c.rms_eps);
                const auto hn = ref.norm(prev_naive[static_cast<std::size_t>(j)],
                                         ref.w[p + "nextn.hnorm.weight"], ref.c.rms_eps);
                e.insert(e.end(), hn.begin(), hn.end());
                z.push_back(ref.matvec(ref.w[p + "nextn.eh_proj.weight"], e,
                                       static_cast<std::size_t>(ref.c.hidden_size)));
            }
            ref.block(p, z);
            KvCache cache = mods->make_cache(64);
            std::vector<std::int32_t> pos(static_cast<std::size_t>(rows));
            std::iota(pos.begin(), pos.end(), 0);
            const auto out = mods->forward(
                d, cache, prev.data(),
                std::span(kIds).subspan(static_cast<std::size_t>(d + 1), static_cast<std::size_t>(rows)), pos,
                attention_slots(0, rows, {}));
            std::vector<float> logits(static_cast<std::size_t>(rows) * ref.c.vocab_size);
            mods->logits(d, out.data(), rows, logits.data());
            for (int j = 0; j < rows; ++j) {
                const auto want =
                    ref.head(z[static_cast<std::size_t>(j)], ref.w[p + "nextn.shared_head_norm.weight"]);
                fixtures::expect_close_logits(
                    want, logits.data() + static_cast<std::size_t>(j) * ref.c.vocab_size,
                    source + " module " + std::to_string(d) + " row " + std::to_string(j), kMaxLogitError);
            }
            prev = out;
            prev_naive = z;
        }
    }
}

TEST(Mtp, CombinedGgufKeepsTheTargetAndItsLayerCount) {
    const auto gguf = fixtures::tiny_gguf("mtp_combined_target", TensorType::Q2_0_G128, 22);
    const auto both =
        combined_gguf(gguf, fixtures::random_mtp_sidecar(gguf, "mtp_combined", 3, 5), "mtp_combined_both");
    auto a = Qwen3Model::load(ModelFiles::open(gguf));
    auto b = Qwen3Model::load(ModelFiles::open(both));
    EXPECT_EQ(b->config().n_layers, a->config().n_layers);
    EXPECT_EQ(a->logits_chunked(kIds, 5), b->logits_chunked(kIds, 5));
    EXPECT_EQ(MtpFiles::open(both).depth(), 3);
    EXPECT_THROW(MtpFiles::open(gguf), FormatError);  // no nextn layers
}

// convert's default: the target file stays plain (what llama.cpp loads) and the modules go to OUT.mtp.gguf,
// which serves --draft-model with the same drafts as the sidecar; a combined input is split the same way.
TEST(Mtp, ConvertWritesTheModulesToAFileOfTheirOwn) {
    const auto gguf = fixtures::tiny_gguf("mtp_split_target", TensorType::Q2_0_G128, 25);
    const auto sidecar = fixtures::random_mtp_sidecar(gguf, "mtp_split", 3, 8);
    const auto sidecar_files = MtpFiles::open(sidecar);
    for (const auto& [source, name] : {std::pair{gguf, std::string("mtp_split_out")},
                                       std::pair{combined_gguf(gguf, sidecar, "mtp_split_both"),
                                                 std::string("mtp_split_from_combined")}}) {
        const auto out = fixtures::temp_path(name + ".gguf");
        convert_model(ModelFiles::open(source), out, TensorType::Q2_0_G128, false, {},
                      source == gguf ? &sidecar_files : nullptr);
        const auto target = ModelFiles::open(out);
        EXPECT_EQ(target.extra_layers(), 0);
        EXPECT_EQ(target.gguf()->find("qwen3.nextn_predict_layers"), nullptr);
        for (const auto& [tensor, t] : target.tensors())
            EXPECT_EQ(tensor.find("nextn"), std::string::npos) << tensor;
        ASSERT_EQ(mtp_gguf_path(out), fixtures::temp_path(name + ".mtp.gguf"));
        const auto modules = MtpFiles::open(mtp_gguf_path(out));
        EXPECT_EQ(modules.depth(), 3);
        EXPECT_THROW(Qwen3Model::load(ModelFiles::open(mtp_gguf_path(out))), FormatError);  // not a target
        // Same drafts from the split file as from the sidecar.
        auto m = Qwen3Model::load(target);
        const auto prompt = m->tokenizer().encode("def f(x):\n    return x + 1\n");
        DecodeOptions opt;
        opt.max_new_tokens = 24;
        opt.stop_at_eos = false;
        opt.budget = {3, 0};
        DrafterOptions a, b;
        a.draft_model = sidecar;
        b.draft_model = mtp_gguf_path(out);
        auto da = create_drafter("mtp", a, m), db = create_drafter("mtp", b, m);
        const auto ra = SpeculativeDecoder(m, da.get()).run(prompt, opt);
        const auto rb = SpeculativeDecoder(m, db.get()).run(prompt, opt);
        EXPECT_EQ(ra.tokens, rb.tokens);
        EXPECT_EQ(ra.stats.accepted, rb.stats.accepted);
        EXPECT_EQ(ra.stats.drafted, rb.stats.drafted);
    }
}

TEST(Mtp, LosslessChainsAndTrees) {
    const auto gguf = fixtures::tiny_gguf("mtp_target", TensorType::Q2_0_G128, 23);
    auto m = Qwen3Model::load(ModelFiles::open(gguf));
    DrafterOptions o;
    o.draft_model = fixtures::random_mtp_sidecar(gguf, "mtp_lossless", 3, 6);
    const auto prompt = m->tokenizer().encode("def f(x):\n    return x + 1\n\ndef g(y):\n");
    fixtures::expect_lossless_drafter(
        m, "mtp", o, prompt, 40, {1, 2, 3, 6}, {0, 9}, [](const DecodeResult& r, int k) {
            EXPECT_LE(static_cast<int>(r.stats.depth_drafted.size()), std::min(k, 3))
                << "drafts deeper than the modules";
        });
}

TEST(Mtp, CaughtUpCachesMatchAFreshStart) {
    const auto gguf = fixtures::tiny_gguf("mtp_rollback", TensorType::Q2_0_G128, 24);
    auto m = Qwen3Model::load(ModelFiles::open(gguf));
    DrafterOptions o;
    o.draft_model = fixtures::random_mtp_sidecar(gguf, "mtp_rollback", 3, 7);
    for (int tree : {0, 8}) {
        MtpDrafter a(o, m);
        std::vector<std::int32_t> ctx = m->tokenizer().encode("abc abd abe");
        KvCache cache = m->make_cache(256);
        auto hid = final_hidden(*m, cache, ctx);
        a.begin(ctx, &hid);
        ctx.push_back(65);
        const auto first = a.propose(ctx, {3, tree});
        ASSERT_FALSE(first.empty());
        // Accept one draft token, then a round that only drafts one deep (modules 1 and 2 fall behind).
        std::vector<std::int32_t> cached{ctx.back(), first.tokens[0]};
        auto rows = final_hidden(*m, cache, cached);
        a.observe(cached, &rows);
        ctx.push_back(first.tokens[0]);
        ctx.push_back(66);
        a.propose(ctx, {1, tree});
        cached = {66};
        rows = final_hidden(*m, cache, cached);
        a.observe(cached, &rows);
        ctx.push_back(67);
        const auto incremental = a.propose(ctx, {3, tree});

        MtpDrafter b(o, m);
        fixtures::expect_restart_proposes(incremental, b, *m, ctx, {m->config().n_layers}, {3, tree});
    }
}

TEST(Mtp, SidecarErrorsNameTheProblem) {
    const auto gguf = fixtures::tiny_gguf("mtp_bad", TensorType::Q2_0_G128, 25);
    auto m = Qwen3Model::load(ModelFiles::open(gguf));
    DrafterOptions o;
    EXPECT_THROW(create_drafter("mtp", o, m), InputError);  // no --draft-model
    auto expect_error = [&](const std::string& path, const std::string& words) {
        DrafterOptions bad = o;
        bad.draft_model = path;
        try {
            create_drafter("mtp", bad, m);
            ADD_FAILURE() << "no error for " << words;
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
        }
    };
    auto edit = [&](const std::string& name, const std::function<void(nlohmann::json&)>& change) {
        const auto dir = fixtures::random_mtp_sidecar(gguf, name, 2, 8);
        auto cfg = nlohmann::json::parse(std::ifstream(dir + "/config.json"));
        change(cfg);
        std::ofstream(dir + "/config.json", std::ios::trunc) << cfg.dump();
        return dir;
    };
    expect_error(edit("mtp_bad_hidden", [](auto& c) { c["hidden_size"] = 128; }), "hidden_size is 128");
    expect_error(edit("mtp_bad_layers", [](auto& c) { c["num_hidden_layers"] = 5; }), "num_hidden_layers");
    expect_error(edit("mtp_bad_depth", [](auto& c) { c["num_nextn_predict_layers"] = 3; }),
                 "missing MTP tensor blk.4.nextn.enorm.weight");
    expect_error(edit("mtp_bad_arch", [](auto& c) { c["architectures"] = {"LlamaForCausalLMEagle3"}; }),
                 "Qwen3MTPSidecar");
    expect_error(gguf, "no MTP layers");
    DrafterOptions deep = o;
    deep.draft_model = fixtures::random_mtp_sidecar(gguf, "mtp_bad_option", 2, 9);
    deep.extra["mtp_depth"] = "3";
    EXPECT_THROW(create_drafter("mtp", deep, m), InputError);
}

TEST(Mtp, ShippedModulesAreLosslessAndAccept) {
    const auto target = fixtures::shipped_model();
    const auto sidecar = std::filesystem::path(TERNSPEC_SOURCE_DIR) / "models" / "tern-pystd-7m-mtp";
    if (target.empty() || !std::filesystem::exists(sidecar)) GTEST_SKIP() << "no shipped MTP modules";
    auto m = Qwen3Model::load(ModelFiles::open(target));
    DrafterOptions o;
    o.draft_model = sidecar.string();
    const auto prompt =
        m->tokenizer().encode("import os\n\n\ndef read_lines(path):\n    with open(path) as f:\n");
    DecodeOptions plain;
    plain.max_new_tokens = 48;
    plain.stop_at_eos = false;
    const auto want = SpeculativeDecoder(m, nullptr).run(prompt, plain).tokens;
    auto d = create_drafter("mtp", o, m);
    DecodeOptions opt = plain;
    opt.budget = {3, 0};
    const auto r = SpeculativeDecoder(m, d.get()).run(prompt, opt);
    EXPECT_EQ(r.tokens, want);
    EXPECT_GT(r.stats.tau(), 1.3);
}

TEST(Mtp, ChainDraftIsTeacherForcingOnItsOwnTokens) {
    // Drafting row j of module d conditions on t[j + d + 1]; once the chain's tokens are appended to the
    // context, whole-sequence passes of each module must pick the same tokens.
    const auto gguf = fixtures::tiny_gguf("mtp_teacher", TensorType::Q2_0_G128, 26);
    auto m = Qwen3Model::load(ModelFiles::open(gguf));
    DrafterOptions o;
    o.draft_model = fixtures::random_mtp_sidecar(gguf, "mtp_teacher", 3, 10);
    MtpDrafter drafter(o, m);
    std::vector<std::int32_t> ctx(kIds.begin(), kIds.end() - 1);
    KvCache cache = m->make_cache(64);
    auto hid = final_hidden(*m, cache, ctx);
    drafter.begin(ctx, &hid);
    ctx.push_back(kIds.back());
    const auto chain = drafter.propose(ctx, {3, 0});
    ASSERT_EQ(chain.size(), 3u);
    const int N = static_cast<int>(ctx.size()), H = m->config().hidden_size, V = m->config().vocab_size;
    std::vector<std::int32_t> seq = ctx;
    seq.insert(seq.end(), chain.tokens.begin(), chain.tokens.end());
    std::vector<float> prev = hid.at(m->config().n_layers);
    for (int d = 0; d < 3; ++d) {
        const int rows = N - 1;
        KvCache mc = drafter.modules().make_cache(64);
        std::vector<std::int32_t> pos(static_cast<std::size_t>(rows));
        std::iota(pos.begin(), pos.end(), 0);
        const auto out = drafter.modules().forward(
            d, mc, prev.data(),
            std::span(seq).subspan(static_cast<std::size_t>(d + 1), static_cast<std::size_t>(rows)), pos,
            attention_slots(0, rows, {}));
        std::vector<float> logits(static_cast<std::size_t>(V));
        drafter.modules().logits(d, out.data() + static_cast<std::size_t>(rows - 1) * H, 1, logits.data());
        EXPECT_EQ(std::max_element(logits.begin(), logits.end()) - logits.begin(),
                  chain.tokens[static_cast<std::size_t>(d)])
            << "depth " << d + 1;
        prev = out;
    }
}

TEST(Mtp, BatchedRequestsMatchDecodingAlone) {
    const auto gguf = fixtures::tiny_gguf("mtp_batch", TensorType::Q2_0_G128, 27);
    auto m = Qwen3Model::load(ModelFiles::open(gguf));
    DrafterOptions o;
    o.draft_model = fixtures::random_mtp_sidecar(gguf, "mtp_batch", 2, 11);
    DecodeOptions opt;
    opt.max_new_tokens = 24;
    opt.stop_at_eos = false;
    opt.budget = {2, 5};
    std::vector<std::unique_ptr<Drafter>> drafters;
    std::vector<BatchRequest> reqs;
    std::vector<std::vector<std::int32_t>> alone;
    for (const auto* t : {"def f(x):", "while True:\n    pass\n", "a = [1, 2, 3]"}) {
        const auto ids = m->tokenizer().encode(t);
        alone.push_back(SpeculativeDecoder(m, create_drafter("mtp", o, m).get()).run(ids, opt).tokens);
        drafters.push_back(create_drafter("mtp", o, m));
        reqs.push_back({ids, drafters.back().get()});
    }
    for (const auto mode : {Overlap::Off, Overlap::On}) {
        const auto together = decode_batch(m, reqs, opt, mode);
        for (std::size_t i = 0; i < reqs.size(); ++i)
            EXPECT_EQ(together[i].tokens, alone[i]) << "request " << i;
    }
}

namespace {

// Forwards to a drafter and keeps every token it proposed.
class RecordingDrafter : public Drafter {
  public:
    explicit RecordingDrafter(std::unique_ptr<Drafter> d) : d_(std::move(d)) {}
    std::string name() const override { return d_->name(); }
    std::vector<int> hidden_layers() const override { return d_->hidden_layers(); }
    void begin(std::span<const std::int32_t> p, const HiddenRows* h) override { d_->begin(p, h); }
    void observe(std::span<const std::int32_t> c, const HiddenRows* h) override { d_->observe(c, h); }
    DraftTree propose(std::span<const std::int32_t> ctx, const DraftBudget& b) override {
        auto t = d_->propose(ctx, b);
        proposed.insert(proposed.end(), t.tokens.begin(), t.tokens.end());
        return t;
    }
    std::vector<std::int32_t> proposed;

  private:
    std::unique_ptr<Drafter> d_;
};

}  // namespace

TEST(Mtp, DraftVocabularyBoundsProposalsAndStaysLossless) {
    const auto gguf = fixtures::tiny_gguf("mtp_dv_target", TensorType::Q2_0, 29);
    auto m = Qwen3Model::load(ModelFiles::open(gguf));
    const auto path = fixtures::temp_path("mtp_dv.mtp.gguf");
    constexpr int kDraftVocab = 40;
    synth_mtp(path, m->config(), 3, kDraftVocab, TensorType::Q2_0, 5);
    DrafterOptions o;
    o.draft_model = path;
    const auto prompt = m->tokenizer().encode("for i in range(10):\n    print(i)\n");
    DecodeOptions plain;
    plain.max_new_tokens = 32;
    plain.stop_at_eos = false;
    const auto want = SpeculativeDecoder(m, nullptr).run(prompt, plain).tokens;
    for (int tree : {0, 8}) {
        RecordingDrafter d(create_drafter("mtp", o, m));
        DecodeOptions opt = plain;
        opt.budget = {3, tree};
        EXPECT_EQ(SpeculativeDecoder(m, &d).run(prompt, opt).tokens, want) << "tree " << tree;
        ASSERT_FALSE(d.proposed.empty());
        for (auto t : d.proposed) EXPECT_LT(t, kDraftVocab) << "a token outside the draft vocabulary";
    }
    // The head over 40 rows reads less than the head over the whole vocabulary of 512.
    const auto full_path = fixtures::temp_path("mtp_full.mtp.gguf");
    synth_mtp(full_path, m->config(), 3, 0, TensorType::Q2_0, 5);
    DrafterOptions full_o;
    full_o.draft_model = full_path;
    const MtpDrafter restricted(o, m), full(full_o, m);
    EXPECT_EQ(restricted.modules().draft_vocab_size(), kDraftVocab);
    EXPECT_EQ(full.modules().draft_vocab_size(), m->config().vocab_size);
    EXPECT_EQ(full.modules().step_bytes(0) - restricted.modules().step_bytes(0),
              m->head_matrix().bytes() - m->head_matrix().bytes() * kDraftVocab / m->config().vocab_size);
}

// A server's slots share one copy of the modules (Drafter::sibling): the sibling reads the same weights and
// drafts exactly as a freshly loaded drafter does, with caches of its own.
TEST(Mtp, SiblingsShareTheModulesAndDraftAlike) {
    const auto gguf = fixtures::tiny_gguf("mtp_sibling_target", TensorType::Q2_0_G128, 29);
    auto m = Qwen3Model::load(ModelFiles::open(gguf));
    DrafterOptions o;
    o.draft_model = fixtures::random_mtp_sidecar(gguf, "mtp_sibling", 2, 29);
    o.extra["mtp_depth"] = "2";
    auto first = create_drafter("mtp", o, m);
    auto sib = first->sibling();
    ASSERT_TRUE(sib);
    EXPECT_EQ(&dynamic_cast<MtpDrafter&>(*sib).modules(), &dynamic_cast<MtpDrafter&>(*first).modules());
    EXPECT_EQ(dynamic_cast<MtpDrafter&>(*sib).depth(), 2);
    auto fresh = create_drafter("mtp", o, m);
    fixtures::expect_sibling_drafts_like_fresh(m, *first, *sib, *fresh, {2, 5});
}
