// The engine through the public APIs: requests with their own drafter, draft length (k = auto too), stop
// strings and prompt form, submitted from several threads into fewer slots than requests, each give what a
// Session gives them alone; streamed pieces add up to the result; bad requests are refused by name.
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "ternspec/ternspec.h"
#include "ternspec/ternspec.hpp"
#include "tests/support/test_models.hpp"

using namespace ternspec;

namespace {

// A stop string cut from `text`: a few bytes whose first occurrence starts at or after `from`, so the output
// ends there. Empty when the text has none.
std::string stop_inside(const std::string& text, std::size_t from) {
    for (std::size_t p = from; p + 3 <= text.size(); ++p) {
        const std::string s = text.substr(p, 3);
        if (text.find(s) == p) return s;
    }
    return "";
}

struct Case {
    std::string prompt;
    const char* drafter;
    int k;
    bool k_auto;
    int tree_nodes;
    bool as_tokens;
    bool with_stop;
};

}  // namespace

TEST(Engine, CApiServesConcurrentRequestsWithTheirOwnOptionsAsTheyDecodeAlone) {
    const auto path = fixtures::shipped_model();  // real text, so stop strings and drafts are real
    ASSERT_FALSE(path.empty()) << "models/tern-pystd-7m is missing from the checkout";
    ternspec_model* m = nullptr;
    ASSERT_EQ(ternspec_model_load(path.c_str(), 0, &m), TERNSPEC_OK) << ternspec_last_error();
    const auto cpp = Model::load(path);

    const std::vector<Case> cases = {
        {"def add(a, b):\n    return", "suffix", 8, true, 0, false, true},  // k = auto, a stop string
        {"import os\nimport sys\n\ndef main():\n", "suffix", 3, false, 0, true, false},  // token ids
        {"for i in range(10):\n    print(i)\nfor", "ngram", 4, false, 0, false, true},
        {"class Point:\n    def __init__(self, x, y):\n", "suffix", 4, false, 6, false, false},  // trees
        {"def read(path):\n    with open(path) as f:\n", "none", 4, false, 0, false, true},
        {"x = [1, 2, 3]\ny = [", "ngram", 2, true, 0, true, false},
    };
    // What each request gives alone, through a Session, and the stop string cut from that text.
    std::vector<Result> alone;
    std::vector<std::string> stops;
    for (const auto& c : cases) {
        GenerateOptions g;
        g.max_new_tokens = 40;
        g.stop_at_eos = false;
        DraftOptions d;
        d.drafter = "none";
        const auto plain = Session(cpp, d).generate(c.prompt, g);
        stops.push_back(c.with_stop ? stop_inside(plain.text, 6) : "");
        if (c.with_stop) {
            ASSERT_FALSE(stops.back().empty()) << "no stop string to cut from: " << plain.text;
            g.stop = {stops.back()};
        }
        alone.push_back(Session(cpp, d).generate(c.prompt, g));
        if (c.with_stop) {
            EXPECT_EQ(alone.back().stop_reason, "stop");
            EXPECT_EQ(alone.back().text, plain.text.substr(0, plain.text.find(stops.back())));
        }
    }

    // Two slots for six requests: the rest queue and join as slots free.
    const ternspec_drafter_spec drafters[] = {{"suffix", nullptr, nullptr}, {"ngram", nullptr, nullptr}};
    ternspec_engine_options eo;
    ternspec_engine_options_init(&eo);
    eo.slots = 2;
    eo.drafters = drafters;
    eo.n_drafters = 2;
    ternspec_engine* engine = nullptr;
    ASSERT_EQ(ternspec_engine_create(m, &eo, &engine), TERNSPEC_OK) << ternspec_last_error();

    std::vector<std::string> streamed(cases.size()), waited(cases.size());
    std::vector<ternspec_stats> stats(cases.size());
    std::vector<std::thread> clients;
    for (std::size_t i = 0; i < cases.size(); ++i)
        clients.emplace_back([&, i] {
            const auto& c = cases[i];
            ternspec_request_options o;
            ternspec_request_options_init(&o);
            o.generate.max_new_tokens = 40;
            o.generate.stop_at_eos = 0;
            const char* stop[] = {stops[i].c_str()};
            if (c.with_stop) o.generate.stop = stop, o.generate.n_stop = 1;
            o.drafter = c.drafter;
            o.k = c.k;
            o.k_auto = c.k_auto;
            o.tree_nodes = c.tree_nodes;
            std::vector<std::int32_t> ids;
            if (c.as_tokens) {
                ids = cpp.encode(c.prompt);
                o.prompt_tokens = ids.data();
                o.n_prompt_tokens = ids.size();
            }
            ternspec_request* r = nullptr;
            ASSERT_EQ(ternspec_engine_submit(engine, c.as_tokens ? nullptr : c.prompt.c_str(), &o, &r),
                      TERNSPEC_OK)
                << ternspec_last_error();
            for (int more = 1; more;) {
                char* piece = nullptr;
                ASSERT_EQ(ternspec_request_next(r, &piece, &more), TERNSPEC_OK);
                streamed[i] += piece;
                ternspec_string_free(piece);
            }
            char* text = nullptr;
            ASSERT_EQ(ternspec_request_wait(r, &text, &stats[i]), TERNSPEC_OK) << ternspec_last_error();
            waited[i] = text;
            ternspec_string_free(text);
            ternspec_request_free(r);
        });
    for (auto& t : clients) t.join();

    std::int64_t drafted = 0, rejected = 0;
    for (std::size_t i = 0; i < cases.size(); ++i) {
        SCOPED_TRACE(cases[i].prompt);
        EXPECT_EQ(waited[i], alone[i].text);    // greedy: the text it gets alone
        EXPECT_EQ(streamed[i], alone[i].text);  // the streamed pieces add up to it
        EXPECT_STREQ(stats[i].stop_reason, alone[i].stop_reason.c_str());
        EXPECT_EQ(stats[i].emitted, static_cast<std::int64_t>(alone[i].tokens.size()));
        if (std::string(cases[i].drafter) == "none") {
            EXPECT_EQ(stats[i].drafted, 0);
        }
        drafted += stats[i].drafted;
        rejected += stats[i].drafted - stats[i].accepted;
    }
    EXPECT_GT(drafted, 0);   // the drafters drafted
    EXPECT_GT(rejected, 0);  // and some drafts were rejected, so rollback ran under the batch

    // Refused by name, at submit: an unknown drafter, a draft length out of range, both prompt forms.
    ternspec_request_options bad;
    ternspec_request_options_init(&bad);
    ternspec_request* r = nullptr;
    bad.drafter = "eagle";
    EXPECT_EQ(ternspec_engine_submit(engine, "abc", &bad, &r), TERNSPEC_ERROR_INPUT);
    EXPECT_NE(std::string(ternspec_last_error()).find("eagle"), std::string::npos);
    bad.drafter = "suffix";
    bad.k = 65;
    EXPECT_EQ(ternspec_engine_submit(engine, "abc", &bad, &r), TERNSPEC_ERROR_INPUT);
    EXPECT_NE(std::string(ternspec_last_error()).find("draft length k"), std::string::npos);
    bad.k = 4;
    const std::int32_t ids[] = {1, 2};
    bad.prompt_tokens = ids;
    bad.n_prompt_tokens = 2;
    EXPECT_EQ(ternspec_engine_submit(engine, "abc", &bad, &r), TERNSPEC_ERROR_INPUT);
    bad.prompt_tokens = nullptr;
    bad.generate.context = 2;  // the prompt does not fit
    EXPECT_EQ(ternspec_engine_submit(engine, "abc abc abc abc", &bad, &r), TERNSPEC_ERROR_INPUT);
    EXPECT_NE(std::string(ternspec_last_error()).find("context"), std::string::npos);
    EXPECT_EQ(r, nullptr);
    ternspec_engine_free(engine);
    ternspec_model_free(m);
}

TEST(Engine, CancelAndShutdownEndRequestsWithTheirTextSoFar) {
    const auto model = Model::load(fixtures::tiny_gguf("engine_cancel"));
    EngineOptions eo;
    eo.slots = 1;
    eo.max_queue = 1;
    DraftOptions suffix;
    suffix.drafter = "suffix";
    eo.drafters = {suffix};
    auto engine = std::make_unique<Engine>(model, eo);
    RequestOptions o;
    o.generate.max_new_tokens = 1000000;
    o.generate.stop_at_eos = false;
    o.generate.context = 4096;
    o.draft.drafter = "suffix";
    auto running = engine->submit("abc abc abc", o);
    auto queued = engine->submit("def def def", o);
    // One slot and one place in the queue: a third request is refused, saying so.
    EXPECT_THROW(engine->submit("ghi", o), InputError);
    std::string piece;
    ASSERT_TRUE(running.next(piece));  // it runs
    running.cancel();
    const auto r = running.wait();
    EXPECT_EQ(r.stop_reason, "cancelled");
    EXPECT_GT(r.tokens.size(), 0u);
    // Shutting the engine down cancels the request that took the slot.
    std::string first;
    ASSERT_TRUE(queued.next(first));
    engine.reset();
    EXPECT_TRUE(queued.done());
    const auto q = queued.wait();
    EXPECT_EQ(q.stop_reason, "cancelled");
    std::string rest;
    while (queued.next(piece)) rest += piece;
    EXPECT_EQ(first + rest, q.text);
    // Options that belong to a Session or to the engine's drafters are refused, not ignored.
    Engine again(model, eo);
    RequestOptions cb = o;
    cb.generate.on_token = [](std::int32_t, std::string_view) { return true; };
    EXPECT_THROW(again.submit("abc", cb), InputError);
    RequestOptions weights = o;
    weights.draft.draft_model = "/nonexistent";
    EXPECT_THROW(again.submit("abc", weights), InputError);
    EngineOptions twice = eo;
    twice.drafters = {suffix, suffix};
    EXPECT_THROW(Engine(model, twice), InputError);
}

TEST(Engine, KAutoSessionsAndStopStringsStayLossless) {
    const auto model = Model::load(fixtures::tiny_gguf("engine_kauto"));
    GenerateOptions g;
    g.max_new_tokens = 48;
    g.stop_at_eos = false;
    DraftOptions none;
    const auto plain = Session(model, none).generate("abc abc abc abc", g);
    DraftOptions a;
    a.drafter = "suffix";
    a.k = 8;
    a.k_auto = true;
    Session s(model, a);
    std::string streamed;
    g.on_token = [&](std::int32_t, std::string_view p) {
        streamed += p;
        return true;
    };
    const auto r = s.generate("abc abc abc abc", g);
    EXPECT_EQ(r.tokens, plain.tokens);
    EXPECT_EQ(streamed, r.text);
    // A stop string: the text is cut before it, the pieces never showed any of it.
    const std::string stop = stop_inside(plain.text, 4);
    ASSERT_FALSE(stop.empty());
    g.stop = {stop};
    streamed.clear();
    const auto cut = s.generate("abc abc abc abc", g);
    EXPECT_EQ(cut.stop_reason, "stop");
    EXPECT_EQ(cut.text, plain.text.substr(0, plain.text.find(stop)));
    EXPECT_EQ(streamed, cut.text);
}

namespace {

// Requests sharing prefixes (one system prompt; a chat's next turn that extends the previous turn's prompt
// and answer, as token ids: a re-tokenised answer need not match the generated tokens) served by an engine
// with a prefix cache: every output equals the Session's alone, and later requests read their shared tokens
// from the cache.
void expect_prefix_cache_lossless(const std::string& path, bool hybrid) {
    const auto model = Model::load(path);
    const std::string system = "# utilities for reading and writing files\nimport os\nimport sys\n\n";
    std::vector<std::vector<std::int32_t>> prompts = {model.encode(system + "def read(path):\n"),
                                                      model.encode(system + "def write(path, text):\n"),
                                                      model.encode(system + "def read(path):\n")};
    DraftOptions none, suffix;
    suffix.drafter = "suffix";
    GenerateOptions g;
    g.max_new_tokens = 24;
    g.stop_at_eos = false;
    const auto more = model.encode("\n\ndef main():\n");
    for (const bool sampled : {false, true}) {
        SCOPED_TRACE(sampled ? "sampled" : "greedy");
        g.sampling.temperature = sampled ? 0.8f : 0.0f;
        g.sampling.seed = 11;
        EngineOptions eo;
        eo.slots = 1;  // one at a time, so each request finds what the previous ones left
        eo.drafters = {suffix};
        eo.prefix_cache_bytes = 64 << 20;
        Engine engine(model, eo);
        std::vector<std::int64_t> cached;
        std::vector<std::int32_t> answer;
        prompts.resize(3);
        for (std::size_t i = 0; i < 4; ++i) {
            if (i == 3) {  // the first request's next turn: its prompt, its answer, more text
                prompts.push_back(prompts[0]);
                prompts[3].insert(prompts[3].end(), answer.begin(), answer.end());
                prompts[3].insert(prompts[3].end(), more.begin(), more.end());
            }
            RequestOptions ro;
            ro.generate = g;
            // Sampled: no drafter, so the seed fixes the text (with one, it fixes the distribution).
            ro.draft.drafter = i % 2 && !sampled ? "suffix" : "none";
            const auto r = engine.submit_tokens(prompts[i], ro).wait();
            const auto alone = Session(model, none).generate_tokens(prompts[i], g);
            EXPECT_EQ(r.tokens, alone.tokens) << "request " << i;
            if (i == 0) answer = r.tokens;
            cached.push_back(r.stats.cached_prompt_tokens);
        }
        // The first request found nothing; the next turn reuses all of the first request's prompt and answer
        // but the answer's last token (never fed to the model, so computed with the new text).
        EXPECT_EQ(cached[0], 0);
        EXPECT_EQ(cached[3], static_cast<std::int64_t>(prompts[0].size() + answer.size() - 1));
        if (!hybrid) {
            // Attention targets reuse any shared prefix: the system prompt, the repeated prompt but its last
            // token. A hybrid target's state sits at an entry's end, which neither of these extends.
            EXPECT_GT(cached[1], 0);
            EXPECT_EQ(cached[2], static_cast<std::int64_t>(prompts[2].size()) - 1);
        } else {
            EXPECT_EQ(cached[1], 0);
        }
    }
}

}  // namespace

TEST(Engine, PrefixCacheIsLosslessAndReusesSharedPrefixes) {
    const auto path = fixtures::shipped_model();
    ASSERT_FALSE(path.empty()) << "models/tern-pystd-7m is missing from the checkout";
    expect_prefix_cache_lossless(path, false);
}

TEST(Engine, PrefixCacheOnAHybridTargetRestoresTheRecurrentState) {
    const std::string path = std::string(TERNSPEC_SOURCE_DIR) + "/models/tern-pystd-hybrid";
    expect_prefix_cache_lossless(path, true);
}
