// The public API: one Model shared by sessions on several threads gives each the output it gets alone;
// cancellation stops a decode; the C API reports errors through status codes and ternspec_last_error().
#include <gtest/gtest.h>
#include <tbb/task_arena.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <thread>

#include "ternspec/ternspec.h"
#include "ternspec/ternspec.hpp"
#include "tests/support/test_models.hpp"

using namespace ternspec;

namespace {
DraftOptions drafter(const std::string& name, int k = 4) {
    DraftOptions d;
    d.drafter = name;
    d.k = k;
    return d;
}
}  // namespace

TEST(Api, SessionsOnSeveralThreadsMatchRunningAlone) {
    const auto model = Model::load(fixtures::tiny_gguf("api_threads"));
    EXPECT_EQ(model.info().layers, 2);
    const std::vector<std::string> prompts = {"abc abc abc", "def f(x): return x", "hello world hello",
                                              "1 2 3 1 2 3"};
    GenerateOptions o;
    o.max_new_tokens = 24;
    o.stop_at_eos = false;
    std::vector<std::vector<std::int32_t>> alone;
    for (const auto& p : prompts) alone.push_back(Session(model, drafter("none")).generate(p, o).tokens);
    std::vector<std::vector<std::int32_t>> threaded(prompts.size());
    std::vector<std::thread> pool;
    for (std::size_t i = 0; i < prompts.size(); ++i)
        pool.emplace_back([&, i] {
            Session s(model, drafter(i % 2 ? "suffix" : "ngram"));
            threaded[i] = s.generate(prompts[i], o).tokens;
        });
    for (auto& t : pool) t.join();
    EXPECT_EQ(threaded, alone);
}

TEST(Api, SessionsServedTogetherMatchRunningAlone) {
    const auto model = Model::load(fixtures::tiny_gguf("api_together"));
    const std::vector<std::string> prompts = {"abc abc abc", "def f(x): return x", "hello world hello"};
    GenerateOptions o;
    o.max_new_tokens = 20;
    o.stop_at_eos = false;
    std::vector<Session> sessions;
    sessions.emplace_back(model, drafter("suffix", 3));
    sessions.emplace_back(model, drafter("none"));
    sessions.emplace_back(model, drafter("ngram", 5));
    std::vector<Session*> ptrs;
    for (auto& s : sessions) ptrs.push_back(&s);
    const auto together = Session::generate_together(ptrs, prompts, o);
    ASSERT_EQ(together.size(), prompts.size());
    for (std::size_t i = 0; i < prompts.size(); ++i) {
        const auto alone = Session(model, drafter("none")).generate(prompts[i], o);
        EXPECT_EQ(together[i].tokens, alone.tokens) << i;
        EXPECT_EQ(together[i].text, alone.text) << i;
    }
    EXPECT_GT(together[0].stats.drafted, 0);
    const auto other = Model::load(fixtures::tiny_gguf("api_together_other"));
    Session foreign(other);
    std::vector<Session*> mixed{ptrs[0], &foreign};
    const std::vector<std::string> two = {"a", "b"};
    EXPECT_THROW(Session::generate_together(mixed, two, o), InputError);
}

TEST(Api, CancellationAndCallbacks) {
    const auto model = Model::load(fixtures::tiny_gguf("api_cancel"));
    Session s(model, drafter("suffix"));
    std::atomic<bool> cancel{false};
    int seen = 0;
    GenerateOptions o;
    o.max_new_tokens = 100;
    o.stop_at_eos = false;
    o.cancel = &cancel;
    o.on_token = [&](std::int32_t, std::string_view) {
        if (++seen == 5) cancel = true;
        return true;
    };
    const auto r = s.generate("abc abc abc", o);
    EXPECT_EQ(r.stop_reason, "cancelled");
    EXPECT_LE(r.tokens.size(), 6u);
    EXPECT_THROW(Session(model, drafter("bogus")), InputError);
    EXPECT_THROW(Model::load(fixtures::temp_path("missing.gguf")), InputError);
}

TEST(CApi, StatusCodesAndLastError) {
    ternspec_model* m = nullptr;
    EXPECT_EQ(ternspec_model_load(fixtures::temp_path("nope.gguf").c_str(), 0, &m), TERNSPEC_ERROR_INPUT);
    EXPECT_NE(std::string(ternspec_last_error()).find("no such file"), std::string::npos);
    EXPECT_EQ(ternspec_model_load(nullptr, 0, &m), TERNSPEC_ERROR_INPUT);
    const auto bad = fixtures::temp_path("c_api_bad.gguf");
    std::FILE* f = std::fopen(bad.c_str(), "wb");
    std::fputs("GGUF", f);
    std::fclose(f);
    EXPECT_EQ(ternspec_model_load(bad.c_str(), 0, &m), TERNSPEC_ERROR_FORMAT);
    ASSERT_EQ(ternspec_model_load(fixtures::tiny_gguf("c_api").c_str(), 0, &m), TERNSPEC_OK);
    EXPECT_STREQ(ternspec_last_error(), "");
    ternspec_session* s = nullptr;
    EXPECT_EQ(ternspec_session_create(m, "bogus", 4, 0, nullptr, &s), TERNSPEC_ERROR_INPUT);
    ASSERT_EQ(ternspec_session_create(m, "ngram", 4, 0, nullptr, &s), TERNSPEC_OK);
    ternspec_generate_options o;
    ternspec_generate_options_init(&o);
    o.max_new_tokens = 8;
    o.stop_at_eos = 0;
    char* text = nullptr;
    ternspec_stats st{};
    ASSERT_EQ(ternspec_generate(s, "hello hello", &o, nullptr, nullptr, &text, &st), TERNSPEC_OK);
    EXPECT_EQ(st.emitted, 8);
    ASSERT_NE(text, nullptr);
    ternspec_string_free(text);
    // A callback returning 0 stops the generation after that token.
    struct Count {
        int n = 0;
    } count;
    auto stop_after_three = [](int32_t, const char*, void* user) {
        return ++static_cast<Count*>(user)->n < 3 ? 1 : 0;
    };
    o.max_new_tokens = 20;
    ASSERT_EQ(ternspec_generate(s, "hello hello", &o, stop_after_three, &count, nullptr, &st), TERNSPEC_OK);
    EXPECT_EQ(count.n, 3);
    EXPECT_LE(st.emitted, 3 + 4);  // the round in flight may have emitted up to k more before the check
    // NULL options: the documented defaults (128 tokens, greedy, stop at end of sequence).
    ternspec_generate_options defaults;
    ternspec_generate_options_init(&defaults);
    char* a = nullptr;
    char* b = nullptr;
    ASSERT_EQ(ternspec_generate(s, "hello", nullptr, nullptr, nullptr, &a, &st), TERNSPEC_OK);
    const auto emitted_null = st.emitted;
    ASSERT_EQ(ternspec_generate(s, "hello", &defaults, nullptr, nullptr, &b, &st), TERNSPEC_OK);
    EXPECT_STREQ(a, b);
    EXPECT_EQ(emitted_null, st.emitted);
    EXPECT_LE(st.emitted, 128);
    ternspec_string_free(a);
    ternspec_string_free(b);
    ternspec_session_free(s);
    ternspec_model_free(m);
}

// Library misuse is an InputError in API terms, checked by the same code as the CLI (issue 18, 13).
TEST(Api, MisuseIsAClearError) {
    const auto model = Model::load(fixtures::tiny_gguf("api_misuse"));
    auto expect_input_error = [](auto&& fn, const std::string& mention) {
        try {
            fn();
            ADD_FAILURE() << "accepted; expected an error mentioning " << mention;
        } catch (const InputError& e) {
            EXPECT_NE(std::string(e.what()).find(mention), std::string::npos) << e.what();
        }
    };
    Session s(model, drafter("suffix"));
    GenerateOptions o;
    o.max_new_tokens = 4;
    o.context = -7;
    expect_input_error([&] { s.generate("hello", o); }, "context -7 is out of range");
    o.context = 0;
    o.sampling.temperature = -1;
    expect_input_error([&] { s.generate("hello", o); }, "temperature");
    o.sampling.temperature = 0.5f;
    o.sampling.top_p = 0;
    expect_input_error([&] { s.generate("hello", o); }, "top_p");
    o.sampling.top_p = 1;
    o.max_new_tokens = -1;
    expect_input_error([&] { s.generate("hello", o); }, "max_new_tokens -1");
    o.max_new_tokens = 4;
    const std::vector<std::string> prompts = {"a b", "c d"};
    std::vector<Session*> with_null = {&s, nullptr};
    expect_input_error([&] { Session::generate_together(with_null, prompts, o); }, "session 1 is null");
    std::vector<Session*> twice = {&s, &s};
    expect_input_error([&] { Session::generate_together(twice, prompts, o); }, "are the same session");
    expect_input_error([&] { Session(model, drafter("suffix", 65)); }, "draft length k 65 is out of range");
    // k is checked before the drafter's files are read: a bad k with a missing draft model names k.
    DraftOptions d = drafter("mtp", 0);
    d.draft_model = "/nonexistent/mtp";
    expect_input_error([&] { Session(model, d); }, "draft length k 0");
}

// What the C++ API reaches, the C API reaches too: load options, model info, tokenize and detokenize,
// the chat prompt, session options with drafter options, per-round callbacks, statistics per position,
// and cancellation from another thread.
TEST(CApi, ReachesWhatTheCppApiDoes) {
    const auto path = fixtures::tiny_gguf("c_api_full");
    ternspec_load_options lo;
    ternspec_load_options_init(&lo);
    lo.threads = -1;
    ternspec_model* m = nullptr;
    EXPECT_EQ(ternspec_model_load_with(path.c_str(), &lo, &m), TERNSPEC_ERROR_INPUT);
    EXPECT_NE(std::string(ternspec_last_error()).find("threads -1"), std::string::npos);
    lo.threads = 0;
    ASSERT_EQ(ternspec_model_load_with(path.c_str(), &lo, &m), TERNSPEC_OK);
    const auto cpp = Model::load(path);

    ternspec_model_info info{};
    ASSERT_EQ(ternspec_model_get_info(m, &info), TERNSPEC_OK);
    EXPECT_EQ(info.vocab_size, cpp.info().vocab_size);
    EXPECT_EQ(info.layers, cpp.info().layers);
    EXPECT_EQ(info.weight_bytes, cpp.info().weight_bytes);
    EXPECT_STREQ(ternspec_active_kernels(), active_kernels().c_str());

    size_t n = 0;
    EXPECT_EQ(ternspec_tokenize(m, "hello world hello", nullptr, 0, &n), TERNSPEC_ERROR_INPUT);
    ASSERT_EQ(n, cpp.encode("hello world hello").size());
    std::vector<int32_t> ids(n);
    ASSERT_EQ(ternspec_tokenize(m, "hello world hello", ids.data(), ids.size(), &n), TERNSPEC_OK);
    EXPECT_EQ(ids, cpp.encode("hello world hello"));
    char* text = nullptr;
    ASSERT_EQ(ternspec_detokenize(m, ids.data(), ids.size(), &text), TERNSPEC_OK);
    EXPECT_STREQ(text, "hello world hello");
    ternspec_string_free(text);
    const int32_t bad = info.vocab_size;
    EXPECT_EQ(ternspec_detokenize(m, &bad, 1, &text), TERNSPEC_ERROR_INPUT);
    ASSERT_EQ(ternspec_chat_prompt(m, "hi", &text), TERNSPEC_OK);
    EXPECT_EQ(std::string(text), cpp.chat_prompt("hi"));
    ternspec_string_free(text);

    ternspec_session_options so;
    ternspec_session_options_init(&so);
    so.drafter = "suffix";
    so.k = 6;
    so.extra = "max_spec_factr=2";  // a typo: a warning, as in the CLI
    ternspec_session* s = nullptr;
    ASSERT_EQ(ternspec_session_create_with(m, &so, &s), TERNSPEC_OK);
    so.extra = "no_equals_sign";
    ternspec_session* s2 = nullptr;
    EXPECT_EQ(ternspec_session_create_with(m, &so, &s2), TERNSPEC_ERROR_INPUT);

    // Per-round callback and per-position statistics agree with the C++ session's.
    struct Rounds {
        int rounds = 0, drafted = 0, accepted = 0;
    } rounds;
    ternspec_generate_options o;
    ternspec_generate_options_init(&o);
    o.max_new_tokens = 40;
    o.stop_at_eos = 0;
    o.on_round = [](int drafted, int accepted, double, double, void* u) {
        auto* r = static_cast<Rounds*>(u);
        ++r->rounds, r->drafted += drafted, r->accepted += accepted;
    };
    ternspec_stats st{};
    const char* prompt = "abc abc abc abc abc abc abc abc";
    ASSERT_EQ(ternspec_generate(s, prompt, &o, nullptr, &rounds, nullptr, &st), TERNSPEC_OK);
    EXPECT_EQ(rounds.drafted, st.drafted);
    EXPECT_EQ(rounds.accepted, st.accepted);
    EXPECT_EQ(rounds.rounds, st.target_forwards);  // target_forwards counts the verifying forwards
    GenerateOptions g;
    g.max_new_tokens = 40;
    g.stop_at_eos = false;
    DraftOptions d = drafter("suffix", 6);
    const auto want = Session(cpp, d).generate(prompt, g).stats;
    ASSERT_EQ(st.n_positions, static_cast<int>(want.per_position_acceptance.size()));
    for (int i = 0; i < st.n_positions; ++i)
        EXPECT_DOUBLE_EQ(st.per_position_acceptance[i],
                         want.per_position_acceptance[static_cast<std::size_t>(i)]);
    ASSERT_EQ(st.n_histogram, static_cast<int>(want.accepted_length_histogram.size()));
    EXPECT_GT(st.seconds_verify, 0);

    // Cancellation from another thread ends a long generation early.
    o.max_new_tokens = 100000;
    o.on_round = nullptr;
    std::atomic<int> tokens{0};
    std::thread canceller([&] {
        while (tokens.load() < 5) std::this_thread::yield();
        ternspec_session_cancel(s);
    });
    ASSERT_EQ(ternspec_generate(
                  s, prompt, &o,
                  [](int32_t, const char*, void* u) {
                      static_cast<std::atomic<int>*>(u)->fetch_add(1);
                      return 1;
                  },
                  &tokens, nullptr, &st),
              TERNSPEC_OK);
    canceller.join();
    EXPECT_LT(st.emitted, 100000);
    ternspec_session_free(s);
    ternspec_model_free(m);
}

// LoadOptions::threads scopes the model's work to an arena of that many threads: a decode sees it, the
// rest of the process keeps TBB's default, and the output is the same as with every core.
TEST(Api, ThreadsApplyToTheModelNotTheProcess) {
    const auto path = fixtures::tiny_gguf("api_arena");
    const int process_default = tbb::this_task_arena::max_concurrency();
    LoadOptions one;
    one.threads = 1;
    const auto narrow = Model::load(path, one);
    const auto wide = Model::load(path);
    GenerateOptions o;
    o.max_new_tokens = 12;
    o.stop_at_eos = false;
    int seen_narrow = 0, seen_wide = 0;
    o.on_token = [&](std::int32_t, std::string_view) {
        seen_narrow = tbb::this_task_arena::max_concurrency();
        return true;
    };
    const auto a = Session(narrow, drafter("suffix")).generate("abc abc abc", o);
    o.on_token = [&](std::int32_t, std::string_view) {
        seen_wide = tbb::this_task_arena::max_concurrency();
        return true;
    };
    const auto b = Session(wide, drafter("suffix")).generate("abc abc abc", o);
    EXPECT_EQ(seen_narrow, 1);
    EXPECT_EQ(seen_wide, process_default);
    EXPECT_EQ(tbb::this_task_arena::max_concurrency(), process_default);
    EXPECT_EQ(a.tokens, b.tokens);
    LoadOptions bad;
    bad.threads = -1;
    EXPECT_THROW(Model::load(path, bad), InputError);
}

// Structured output through the public API: a document the schema allows, the same with and without a
// drafter (alone and served together), a bounded schema that completes, and a keyword outside the subset
// refused by name. The model's token table is built once and shared by its sessions.
TEST(Api, StructuredOutputIsLosslessAndValid) {
    const auto path = fixtures::shipped_model();
    ASSERT_FALSE(path.empty()) << "models/tern-pystd-7m is missing from the checkout";
    const auto model = Model::load(path);
    GenerateOptions g;
    g.max_new_tokens = 400;  // the 7M model pads with whitespace up to the bound
    g.json_schema = R"({"type": "object", "properties": {"mode": {"enum": ["fast", "slow"]},
        "debug": {"type": "boolean"}}, "required": ["mode", "debug"], "additionalProperties": false})";
    const std::string prompt = "config = {\"mode\": \"fast\", \"debug\": true}\nconfig = ";
    Session plain(model);
    const auto a = plain.generate(prompt, g);
    EXPECT_EQ(a.stop_reason, "complete") << a.text;
    const auto doc = nlohmann::json::parse(a.text, nullptr, false);
    ASSERT_TRUE(doc.is_object()) << a.text;
    EXPECT_TRUE(doc["debug"].is_boolean());
    DraftOptions d;
    d.drafter = "suffix";
    d.k = 4;
    Session spec(model, d), spec2(model, d);
    const auto b = spec.generate(prompt, g);
    EXPECT_EQ(b.text, a.text);
    EXPECT_GT(b.stats.drafted, 0);
    Session* both[] = {&spec, &spec2};
    const std::string prompts[] = {prompt, prompt};
    for (const auto& r : Session::generate_together(both, prompts, g)) EXPECT_EQ(r.text, a.text);
    GenerateOptions bad = g;
    bad.json_schema = R"({"type": "object", "patternProperties": {}})";
    try {
        plain.generate(prompt, bad);
        FAIL() << "an unsupported keyword was accepted";
    } catch (const InputError& e) {
        EXPECT_NE(std::string(e.what()).find("patternProperties"), std::string::npos) << e.what();
    }
}
