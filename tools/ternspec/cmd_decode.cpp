// `generate` (plain decoding) and `decode` (speculative, any drafter): both run the same decode loop.
#include <spdlog/spdlog.h>
#include <tbb/task_arena.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>

#include "runtime/engine.hpp"
#include "runtime/speculative_decoder.hpp"
#include "ternspec/ternspec.hpp"
#include "tools/ternspec/commands.hpp"
#include "tools/ternspec/model_args.hpp"
#include "tools/ternspec/output_file.hpp"

namespace ternspec::cli {
namespace {

std::vector<Option> prompt_options() {
    return {
        {"prompt", 'p', "TEXT", "prompt text", ""},
        {"file", 'f', "FILE", "read the prompt from FILE", ""},
        {"n-predict", 'n', "N", "tokens to generate at most", "128"},
        {"chat", 0, "", "render the prompt as a user turn with the model's chat template", ""},
        {"system-prompt", 0, "TEXT", "with --chat: a system turn before the prompt", "", {"-sys"}},
        {"chat-template-file", 0, "FILE", "with --chat: this Jinja template instead of the model's", ""},
        {"conversation",
         0,
         "",
         "interactive chat: one user turn per line of input (implies --chat); Ctrl-C stops a reply, /exit or "
         "end of input leaves",
         "",
         {"-cnv"}},
        {"chat-template-kwargs", 0, "JSON",
         "with --chat: template variables, e.g. '{\"enable_thinking\":false}'", ""},
        {"escape", 'e', "", "process escapes (\\n \\t \\\\ \\\" \\') in -p and --system-prompt", ""},
        {"stop",
         0,
         "TEXT",
         "end the output before TEXT (repeatable); the stop reason is \"stop\"",
         "",
         {"-r", "--reverse-prompt"},
         true},
        {"ctx", 0, "N", "context (KV cache) length; default the model's", "", {"-c", "--ctx-size"}},
        {"kv", 0, "TYPE", "KV cache type: f16 or f32", "f16"},
        {"ignore-eos", 0, "", "keep going past end of sequence", ""},
        {"json", 0, "", "print one JSON object: requests (text, ids, statistics), totals, configuration", ""},
        json_output_option()};
}

// What `generate` and `decode` were asked for, parsed once (parse_decode_command): nothing after it reads
// the arguments.
struct DecodeCommand {
    std::string model;
    bool quantize = false;
    int threads = 0;  // -t; 0: no limit
    std::string drafter;
    DrafterOptions drafter_options;
    DecodeOptions opt;    // the budget set; -k auto's controller added once the model is loaded
    bool k_auto = false;  // -k auto (opt.budget.max_depth is --k-max then)
    std::optional<std::string> k_text, tree;  // -k and --tree as given (labels, the JSON's config)
    std::string seed_text;                    // --seed as given (the JSON's config)
    int parallel = 1;
    Overlap overlap = Overlap::Auto;
    bool conversation = false, compare = false;
    std::string prompts_file;  // --prompts
    PromptSource prompt;
    JsonOutput json;
};

DecodeCommand parse_decode_command(const Args& args, const std::string& drafter) {
    DecodeCommand c;
    c.json = json_output_from(args);
    c.model = args.str("model");
    c.quantize = args.flag("quantize");
    if (args.has("threads")) c.threads = static_cast<int>(args.integer("threads", 1, 1024));
    c.drafter = drafter;
    c.drafter_options = drafter_options(args, drafter);
    DecodeOptions& o = c.opt;
    o.max_new_tokens = static_cast<int>(args.integer("n-predict", 0, std::numeric_limits<int>::max()));
    o.sampling = sampling_from(args);
    c.seed_text = args.str("seed");
    o.stop_at_eos = !args.flag("ignore-eos");
    o.stop = args.all("stop");
    o.json_schema = structured_output_from(args);
    if (args.has("ctx"))
        o.context = static_cast<int>(args.integer("ctx", 1, std::numeric_limits<int>::max()));
    const auto kv = args.str("kv");
    if (kv != "f16" && kv != "f32") throw InputError("--kv must be f16 or f32");
    o.kv_type = kv == "f16" ? KvType::F16 : KvType::F32;
    // The draft budget; generate has no -k: plain decoding.
    c.k_text = args.opt("k");
    if (!c.k_text) {
        o.budget.max_depth = 1;
    } else if (*c.k_text == "auto") {
        c.k_auto = true;
        o.budget.max_depth = static_cast<int>(args.integer("k-max", 1, kMaxDraftTokens));
    } else {
        o.budget.max_depth = static_cast<int>(args.integer("k", 1, kMaxDraftTokens));
    }
    if (args.has("tree")) {
        c.tree = args.str("tree");
        o.budget.max_nodes = static_cast<int>(args.integer("tree", 1, kMaxDraftTokens));
    }
    if (args.has("draft-min")) o.draft_min = static_cast<int>(args.integer("draft-min", 0, kMaxDraftTokens));
    if (args.has("parallel")) c.parallel = static_cast<int>(args.integer("parallel", 1, 64));
    if (args.has("overlap")) {
        const auto ov = args.str("overlap");
        if (ov != "auto" && ov != "on" && ov != "off")
            throw InputError("--overlap is auto, on or off, not " + ov);
        c.overlap = ov == "on" ? Overlap::On : ov == "off" ? Overlap::Off : Overlap::Auto;
    }
    c.prompt = prompt_source_from(args);
    c.conversation = args.flag("conversation");
    if (c.conversation)
        for (const char* o2 : {"prompts", "file", "parallel", "json"})
            if (args.has(o2))
                throw InputError(std::string("--") + o2 + " does not go with -cnv/--conversation");
    if (args.has("prompts")) {
        if (args.has("prompt") || args.has("file")) throw InputError("--prompts replaces -p and -f");
        c.prompts_file = args.str("prompts");
    }
    c.compare = args.has("compare");
    if (c.compare && args.str("compare") != "none")
        throw InputError("--compare takes none (plain decoding), not " + args.str("compare"));
    if (c.compare && c.parallel > 1)
        throw InputError("--compare none runs with one request at a time (no --parallel)");
    return c;
}

// Streams a decode's text to standard output: the runtime passes each piece once it is certain (held back
// while it could still grow into a stop string).
bool print_piece(std::int32_t, const std::string& piece) {
    std::fwrite(piece.data(), 1, piece.size(), stdout);
    std::fflush(stdout);
    return true;
}

nlohmann::json result_json(const DecodeResult& r) {
    return {{"text", r.text},
            {"ids", r.tokens},
            {"stop_reason", stop_reason_name(r.stop_reason)},
            {"stats", r.stats.to_json()}};
}

// "suffix k=4", "suffix k=auto tree=8", "none": the configuration at the head of each summary line.
std::string run_label(const DecodeCommand& c) {
    if (c.drafter == "none") return "none";
    std::string label = c.drafter + " k=" + c.k_text.value_or("");
    if (c.tree) label += " tree=" + *c.tree;
    return label;
}

void print_summary(const std::string& label, const DecodeStats& s, const std::string& stop_reason = "") {
    // Plain decoding drafted nothing: no acceptance figure to give.
    char acceptance[96] = "";
    if (s.drafted)
        std::snprintf(acceptance, sizeof acceptance, ", acceptance %.1f%% (%lld/%lld)",
                      100 * s.acceptance_rate(), static_cast<long long>(s.accepted),
                      static_cast<long long>(s.drafted));
    // Acceptance at each draft depth in both conventions, named: of the drafts reaching the depth (vLLM's),
    // and of those whose earlier depths were accepted (conditional).
    auto row = [](const std::vector<double>& v) {
        std::string out;
        for (std::size_t d = 0; d < v.size() && d < 8; ++d) {
            char b[16];
            std::snprintf(b, sizeof b, " %.0f%%", 100 * v[d]);
            out += b;
        }
        return out + (v.size() > 8 ? " ..." : "");
    };
    const auto per = s.per_position_acceptance();
    std::string depths;
    if (!per.empty())
        depths = " | by depth, of drafts reaching it" + row(per) + "; given the depth before" +
                 row(s.conditional_acceptance());
    // The draft depth actually used (with -k auto, what the controller chose; shorter near the end).
    double depth_sum = 0;
    for (auto n : s.depth_drafted) depth_sum += static_cast<double>(n);
    if (s.drafted && s.target_forwards) {
        char b[80];
        std::snprintf(b, sizeof b, " | mean draft depth %.2f, %.2f nodes per round",
                      depth_sum / static_cast<double>(s.target_forwards),
                      static_cast<double>(s.drafted) / static_cast<double>(s.target_forwards));
        depths += b;
    }
    if (!stop_reason.empty()) depths += " | stop " + stop_reason;
    std::fprintf(
        stderr,
        "\n[%s] prompt %lld tok, output %lld tok | prefill %.1f tok/s, decode %.2f tok/s | forwards %lld, "
        "tau %.2f%s%s | draft %.3fs verify %.3fs\n",
        label.c_str(), static_cast<long long>(s.prompt_tokens), static_cast<long long>(s.emitted),
        s.t_prefill > 0 ? s.prompt_tokens / s.t_prefill : 0.0, s.decode_tokens_per_s(),
        static_cast<long long>(s.target_forwards), s.tau(), acceptance, depths.c_str(), s.t_draft,
        s.t_verify);
}

// One request of a run: its line in a --prompts file (0 for -p/-f), its tokens, and what became of it.
struct Request {
    int line = 0;
    std::string prompt, error;
    std::vector<std::int32_t> ids;
    std::optional<DecodeResult> result;
    std::optional<DecodeResult> plain;  // --compare none: the same request decoded without a drafter
};

// The requests, each tokenized and checked against the context; a bad one carries its error and is skipped.
std::vector<Request> gather_requests(const DecodeCommand& c, const Qwen3Model& model,
                                     const DecodeOptions& opt) {
    std::vector<Request> reqs;
    if (!c.prompts_file.empty()) {
        const auto chat = chat_template_from(c.prompt, model);
        for (auto& p : read_prompt_lines(c.prompts_file, chat ? &*chat : nullptr, c.prompt.chat_options))
            reqs.push_back({p.line, std::move(p.prompt), std::move(p.error), {}, {}, {}});
    } else {
        reqs.push_back({0, prompt_text(c.prompt, model), "", {}, {}, {}});
    }
    const int ctx = request_context(model, opt);
    for (auto& r : reqs) {
        if (!r.error.empty()) continue;
        // Certain not to fit: refused without tokenizing it (50 MB took 28 s and 1 GB to be refused).
        if (const auto at_least = model.tokenizer().min_tokens(r.prompt.size());
            at_least >= static_cast<std::size_t>(ctx)) {
            r.error = "prompt of " + std::to_string(r.prompt.size()) + " bytes (at least " +
                      std::to_string(at_least) + " tokens) does not fit the context of " +
                      std::to_string(ctx) + " tokens";
            continue;
        }
        r.ids = model.tokenizer().encode(r.prompt);
        try {
            check_request(model, opt, r.ids);
        } catch (const InputError& e) {
            r.error = e.what();
        }
    }
    return reqs;
}

// --parallel N: the engine the server runs, with N slots: requests join as slots free (continuous
// batching), each slot's drafter a sibling of one (so what one request taught the suffix drafter serves the
// next).
void decode_in_parallel(const DecodeCommand& c, const std::shared_ptr<const Qwen3Model>& model,
                        DecodeOptions opt, std::vector<Request>& reqs) {
    const std::string& drafter_name = c.drafter;
    const DrafterOptions& dopt = c.drafter_options;
    opt.on_token = nullptr;
    EngineCoreOptions eo;
    eo.slots = c.parallel;
    eo.max_queue = static_cast<int>(reqs.size());
    eo.overlap = c.overlap;
    if (drafter_name != "none") {
        eo.loaded[drafter_name] = create_drafter(drafter_name, dopt, model);
        eo.drafters[drafter_name] = dopt;
    }
    EngineCore engine(model, std::move(eo));
    std::vector<std::pair<Request*, std::shared_ptr<EngineRequest>>> jobs;
    for (auto& r : reqs) {
        if (!r.error.empty()) continue;
        auto q = std::make_shared<EngineRequest>();
        q->prompt = r.ids;
        q->options = opt;
        q->drafter = drafter_name;
        engine.submit(q);  // the queue holds every request
        jobs.emplace_back(&r, std::move(q));
    }
    for (auto& [r, q] : jobs) {
        const auto lock = q->wait_done();
        if (q->error.empty())
            r->result = std::move(q->result);
        else
            r->error = q->error;
    }
}

// Decode-phase speed of the speculative run over the plain one (prefill excluded from both).
double speedup(const DecodeStats& spec, const DecodeStats& plain) {
    const double p = plain.decode_tokens_per_s();
    return p > 0 ? spec.decode_tokens_per_s() / p : 0.0;
}

// Equal where both ran (a stop string ends the speculative run; the plain one does not watch for it).
bool same_output(const DecodeResult& a, const DecodeResult& b) {
    const std::size_t n = std::min(a.tokens.size(), b.tokens.size());
    return std::equal(a.tokens.begin(), a.tokens.begin() + static_cast<std::ptrdiff_t>(n), b.tokens.begin());
}

nlohmann::json comparison_json(const DecodeStats& spec, const DecodeStats& plain, bool identical) {
    return {{"plain_decode_tokens_per_s", plain.decode_tokens_per_s()},
            {"speedup", speedup(spec, plain)},
            {"outputs_identical", identical}};
}

// The configuration a --json result was made with, echoed so that the file explains itself.
nlohmann::json run_config(const DecodeCommand& c) {
    const SamplingParams& sp = c.opt.sampling;
    nlohmann::json sampling = {{"temp", static_cast<double>(sp.temperature)},
                               {"top_k", sp.top_k},
                               {"top_p", static_cast<double>(sp.top_p)},
                               {"min_p", static_cast<double>(sp.min_p)},
                               {"repeat_penalty", static_cast<double>(sp.repeat_penalty)},
                               {"repeat_last_n", sp.repeat_last_n},
                               {"seed", c.seed_text}};
    return {{"model", c.model},
            {"drafter", c.drafter},
            {"k", c.k_text ? nlohmann::json(*c.k_text) : nlohmann::json()},
            {"tree", c.tree ? nlohmann::json(*c.tree) : nlohmann::json()},
            {"n_predict", c.opt.max_new_tokens},
            {"chat", c.prompt.chat && !c.conversation},
            {"sampling", sampling},
            {"parallel", c.parallel},
            {"threads", tbb::this_task_arena::max_concurrency()},
            {"version", TERNSPEC_VERSION},
            {"kernels", active_kernels()}};
}

// What report() gathered over the requests.
struct RunTotals {
    DecodeStats total, plain;  // plain: --compare none's runs
    bool identical;
    std::size_t failed;
};

// One schema for one prompt and for many: `requests`, `total` and `config` always; one prompt's fields are
// also at the top level (what earlier versions printed for -p).
void emit_report_json(const DecodeCommand& c, double wall, const nlohmann::json& requests,
                      const RunTotals& t) {
    const std::string& drafter_name = c.drafter;
    const int parallel = c.parallel;
    nlohmann::json out = requests.size() == 1 && t.failed == 0 ? requests[0] : nlohmann::json::object();
    out["requests"] = requests;
    out["config"] = run_config(c);
    out["drafter"] = drafter_name;
    out["total"] = t.total.to_json();
    if (t.plain.target_forwards) {
        out["compare_none"] = comparison_json(t.total, t.plain, t.identical);
        out["compare_none"]["sampling"] = c.opt.sampling.temperature > 0 ? "sampled" : "greedy";
    }
    out["wall_seconds"] = wall;
    out["parallel"] = parallel;
    out["failed"] = t.failed;
    out["throughput_tokens_per_s"] = wall > 0 ? static_cast<double>(t.total.emitted) / wall : 0.0;
    emit_json(c.json, out.dump());
}

int report(const DecodeCommand& c, double wall, const std::vector<Request>& reqs) {
    const bool json = c.json.json;
    const int parallel = c.parallel;
    if (c.prompts_file.empty() && !reqs[0].result) throw InputError(reqs[0].error);
    const std::string& file = c.prompts_file;
    DecodeStats total, plain_total;
    bool identical = true;
    nlohmann::json requests = nlohmann::json::array();
    std::size_t failed = 0;
    for (std::size_t i = 0; i < reqs.size(); ++i) {
        const auto& r = reqs[i];
        if (!r.result) {
            ++failed;
            std::fprintf(stderr, "%s:%d: %s\n", file.c_str(), r.line, r.error.c_str());
            if (json) requests.push_back({{"line", r.line}, {"error", r.error}});
            continue;
        }
        total.merge(r.result->stats);
        if (r.plain)
            plain_total.merge(r.plain->stats), identical = identical && same_output(*r.result, *r.plain);
        if (json) {
            requests.push_back(result_json(*r.result));
            if (r.line) requests.back()["line"] = r.line;
            if (r.plain)
                requests.back()["compare_none"] =
                    comparison_json(r.result->stats, r.plain->stats, same_output(*r.result, *r.plain));
        } else if (parallel > 1) {
            std::printf("%s=== request %zu ===\n%s\n", i ? "\n" : "", i + 1, r.result->text.c_str());
            print_summary(run_label(c), r.result->stats, stop_reason_name(r.result->stop_reason));
        } else if (reqs.size() > 1 || spdlog::get_level() <= spdlog::level::info) {
            print_summary(run_label(c), r.result->stats, stop_reason_name(r.result->stop_reason));
        }
        if (!json && r.result->stop_reason == StopReason::Context)
            std::fprintf(stderr,
                         "\nternspec: %s stopped at the end of the context (%lld tokens with the prompt); "
                         "-c/--ctx-size sets it, up to the model's\n",
                         reqs.size() > 1 ? ("request " + std::to_string(i + 1)).c_str() : "generation",
                         static_cast<long long>(r.result->stats.prompt_tokens + r.result->stats.emitted));
    }
    if (json) {
        emit_report_json(c, wall, requests, {total, plain_total, identical, failed});
    } else if (reqs.size() > 1) {
        std::fprintf(stderr, "\n=== total over %zu requests ===", reqs.size() - failed);
        print_summary(run_label(c), total);
        std::fprintf(stderr, "throughput %.2f tok/s over %.2f s wall (%d at a time)\n",
                     wall > 0 ? total.emitted / wall : 0.0, wall, parallel);
    } else {
        std::printf("\n");
    }
    if (plain_total.target_forwards && !json) {
        std::fprintf(stderr,
                     "speed-up over plain decoding: %.2fx (plain %.1f tok/s, decoded right after each "
                     "request); outputs %s\n",
                     speedup(total, plain_total), plain_total.decode_tokens_per_s(),
                     c.opt.sampling.temperature > 0 ? "sampled (not compared)"
                     : identical                    ? "identical"
                                                    : "DIFFER");
    }
    if (plain_total.target_forwards && c.opt.sampling.temperature <= 0 && !identical)
        throw Error("--compare none: speculative output differs from plain decoding (greedy): not lossless");
    if (failed == 0) return 0;
    std::fprintf(stderr, "ternspec: %zu of %zu requests failed (listed above)\n", failed, reqs.size());
    return 1;
}

// -cnv's Ctrl-C: set by SIGINT while a reply streams (the reply stops, the conversation goes on); at the
// prompt the default action (ending the process) is back, as llama-cli has it.
std::atomic<bool> g_interrupt{false};
extern "C" void on_interrupt(int) {
    g_interrupt.store(true);
}

// -cnv: a conversation, one user turn per line of standard input (-p, when given, is the first), each
// answer streamed and kept in the history the chat template renders for the next turn.
int converse(const DecodeCommand& c, const std::shared_ptr<const Qwen3Model>& model, DecodeOptions opt) {
    const std::string& drafter_name = c.drafter;
    const DrafterOptions& dopt = c.drafter_options;
    const auto chat = chat_template_from(c.prompt, *model);
    const ChatOptions& options = c.prompt.chat_options;
    auto history = nlohmann::ordered_json::array();
    if (c.prompt.system) history.push_back({{"role", "system"}, {"content", *c.prompt.system}});
    auto drafter = create_drafter(drafter_name, dopt, model);
    SpeculativeDecoder dec(model, drafter.get());
    opt.on_token = [](std::int32_t token, const std::string& piece) {
        print_piece(token, piece);
        return !g_interrupt.load();
    };
    const bool tty = ::isatty(0) != 0;
    std::optional<std::string> first = c.prompt.prompt;
    for (;;) {
        std::string line;
        if (first) {
            line = *first;
            first.reset();
        } else {
            if (tty) std::fputs("\n> ", stdout), std::fflush(stdout);
            if (!std::getline(std::cin, line)) break;
            if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
            if (line == "/exit") break;
        }
        history.push_back({{"role", "user"}, {"content", line}});
        const auto ids = model->tokenizer().encode(chat->render(history, options));
        check_request(*model, opt, ids);  // a conversation past the context ends here, saying so
        g_interrupt.store(false);
        std::signal(SIGINT, on_interrupt);  // Ctrl-C stops this reply only
        DecodeResult r = dec.run(ids, opt);
        std::signal(SIGINT, SIG_DFL);
        if (r.stop_reason == StopReason::Cancelled) std::fputs("\n[interrupted]", stdout);
        std::fputs("\n", stdout);
        std::fflush(stdout);
        if (spdlog::get_level() <= spdlog::level::info)
            print_summary(run_label(c), r.stats, stop_reason_name(r.stop_reason));
        history.push_back({{"role", "assistant"}, {"content", r.text}});
        if (r.stop_reason == StopReason::Context) {
            std::fprintf(stderr, "ternspec: the conversation reached the end of the context\n");
            return 1;
        }
    }
    return 0;
}

int run_decode(const DecodeCommand& c) {
    auto threads = limit_threads(c.threads);
    auto model = load_model(c.model, c.quantize);
    DecodeOptions opt = c.opt;
    if (c.k_auto && c.drafter != "none")
        opt.adaptive = ternspec::adaptive_controller(*model, cost_key(c.model, *model), opt.budget.max_depth);
    if (c.conversation) return converse(c, model, opt);
    auto reqs = gather_requests(c, *model, opt);
    const bool json = c.json.json;
    if (!json) opt.on_token = print_piece;
    const auto wall0 = std::chrono::steady_clock::now();
    if (c.parallel == 1) {
        auto drafter = create_drafter(c.drafter, c.drafter_options, model);
        SpeculativeDecoder dec(model, drafter.get());
        for (std::size_t i = 0; i < reqs.size(); ++i) {
            if (!reqs[i].error.empty()) continue;
            if (!json && reqs.size() > 1) std::printf("%s=== request %zu ===\n", i ? "\n" : "", i + 1);
            reqs[i].result = dec.run(reqs[i].ids, opt);
            if (c.compare) {  // right after, on the same machine state: interleaved request by request
                DecodeOptions plain_opt = opt;
                plain_opt.on_token = nullptr;
                plain_opt.adaptive = nullptr;
                reqs[i].plain = SpeculativeDecoder(model, nullptr).run(reqs[i].ids, plain_opt);
            }
        }
    } else {
        decode_in_parallel(c, model, opt, reqs);
    }
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
    return report(c, wall, reqs);
}

}  // namespace

int cmd_generate(int argc, char** argv) {
    auto opts = model_options();
    for (auto& o : prompt_options()) opts.push_back(o);
    for (auto& o : structured_output_options()) opts.push_back(o);
    for (auto& o : sampling_options()) opts.push_back(o);
    Args args("generate", "-m MODEL (-p TEXT | -f FILE) [-n N] [sampling] [--chat] [--json]",
              "Plain decoding: stream the model's continuation of the prompt, stop at end of sequence.",
              opts);
    if (!args.parse(argc, argv)) return 0;
    return run_decode(parse_decode_command(args, "none"));
}

int cmd_decode(int argc, char** argv) {
    auto opts = model_options();
    for (auto& o : prompt_options()) opts.push_back(o);
    for (auto& o : structured_output_options()) opts.push_back(o);
    for (auto& o : sampling_options()) opts.push_back(o);
    std::string names;
    for (const auto& n : drafter_names()) names += (names.empty() ? "" : "|") + n;
    opts.push_back({"draft", 0, "NAME", "drafter: " + names, "suffix"});
    opts.push_back({"k",
                    'k',
                    "K|auto",
                    "draft length (longest path); auto: chosen per round from measured costs",
                    "4",
                    {"--draft-max"}});
    opts.push_back({"k-max", 0, "K", "longest draft -k auto may choose", "8"});
    opts.push_back(
        {"draft-min", 0, "N", "drafts of fewer tokens are not verified (llama.cpp's --draft-min)", "0"});
    opts.push_back({"compare", 0, "none",
                    "also decode each request without a drafter, right after it: speed-up and output check",
                    ""});
    opts.push_back({"tree", 0, "N", "draft a tree of at most N nodes instead of a chain", ""});
    for (auto& o : drafter_option_list()) opts.push_back(o);
    opts.push_back(
        {"prompts", 0, "FILE", "serve the JSONL requests ({\"prompt\": ...} per line) in one process", ""});
    opts.push_back(
        {"parallel", 0, "N", "with --prompts: N requests at a time, verified in one batched forward", ""});
    opts.push_back({"overlap", 0, "auto|on|off",
                    "with --parallel: draft one half of the requests while the other is verified", "auto"});
    Args args(
        "decode",
        "-m MODEL --draft=NAME [-k K] [--tree N] [sampling] (-p TEXT | -f FILE | --prompts FILE.jsonl)",
        "Speculative decoding: the drafter proposes, one batched target forward verifies. Greedy output is\n"
        "identical to plain decoding; statistics explain the speed.",
        opts);
    if (!args.parse(argc, argv)) return 0;
    return run_decode(parse_decode_command(args, args.str("draft")));
}

}  // namespace ternspec::cli
