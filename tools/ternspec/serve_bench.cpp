#include "tools/ternspec/serve_bench.hpp"

#include <tbb/task_arena.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "runtime/batch_decoder.hpp"
#include "ternspec/ternspec.hpp"
#include "tools/ternspec/model_args.hpp"
#include "tools/ternspec/output_file.hpp"
#include "tools/ternspec/serve_http_bench.hpp"

namespace ternspec::cli {
namespace {

enum class Mode { OneAtATime, Batched, Overlapped };
const char* mode_name(Mode m) {
    return m == Mode::OneAtATime ? "one at a time" : m == Mode::Batched ? "batched" : "batched+overlap";
}

struct Row {
    std::string drafter;
    Mode mode;
    std::vector<double> tokens_per_s;
    bool lossless = true, overlapped = false;
    DecodeStats stats;
};

std::vector<Option> bench_serve_options() {
    auto opts = model_options();
    opts.push_back({"draft", 0, "LIST", "drafters to compare (none is always included)", "none,suffix"});
    opts.push_back({"prompts", 0, "FILE", "JSONL workload, {\"prompt\": ...} per line", ""});
    opts.push_back({"n-predict", 'n', "N", "tokens to generate per request", "64"});
    opts.push_back({"k", 'k', "K", "draft length", "4"});
    opts.push_back({"parallel", 0, "N", "requests at a time in the batched modes", "4"});
    opts.push_back({"reps", 0, "R", "repetitions (interleaved; medians reported)", "3"});
    opts.push_back({"prompt-tokens", 0, "N", "keep only the first N tokens of each prompt (0: all)", "0"});
    for (auto& o : drafter_option_list()) opts.push_back(o);
    opts.push_back({"json", 0, "OUT", "write every figure as JSON to OUT", ""});
    opts.push_back(
        {"http", 0, "",
         "instead: start `ternspec serve` and measure throughput, TTFT and inter-token latency over "
         "HTTP with --clients concurrent streams, none vs the drafter",
         ""});
    opts.push_back({"clients", 0, "LIST", "with --http: concurrent streaming clients", "1,4,16"});
    return opts;
}

ServeBenchOptions parse_serve_bench(const Args& args) {
    ServeBenchOptions o;
    o.model = args.str("model");
    o.prompts = args.str("prompts");
    o.quantize = args.flag("quantize");
    o.http = args.flag("http");
    if (args.has("threads")) o.threads = static_cast<int>(args.integer("threads", 1, 1024));  // 0: no limit
    if (args.has("json")) check_writable(o.json_out = args.str("json"), "--json");
    if (args.has("draft-model")) o.draft_model_arg = args.str("draft-model");
    o.drafters = {"none"};
    for (const auto& d : args.str_list("draft"))
        if (d != "none") o.drafters.push_back(d);
    o.n_predict =
        static_cast<int>(args.integer("n-predict", o.http ? 1 : 0, std::numeric_limits<int>::max()));
    o.k = static_cast<int>(args.integer("k", 1, kMaxDraftTokens));
    o.reps = static_cast<int>(args.integer("reps", 1, 1000));
    if (o.http) {
        for (auto c : args.int_list("clients", 1, 256)) o.clients.push_back(static_cast<int>(c));
    } else {
        o.parallel = static_cast<int>(args.integer("parallel", 1, 256));
        if (o.parallel < 2 || o.parallel > 64) throw InputError("--parallel must be between 2 and 64");
        o.prompt_tokens = static_cast<int>(args.integer("prompt-tokens", 0, std::numeric_limits<int>::max()));
    }
    return o;
}

std::vector<std::vector<std::int32_t>> encode_prompts(const ServeBenchOptions& o, const Qwen3Model& model) {
    std::vector<std::vector<std::int32_t>> ids;
    const auto keep = static_cast<std::size_t>(o.prompt_tokens);
    for (const auto& p : read_prompts_jsonl(o.prompts)) {
        ids.push_back(model.tokenizer().encode(p));
        if (keep > 0 && ids.back().size() > keep) ids.back().resize(keep);
    }
    return ids;
}

// One repetition of one row: every request served in the row's mode, outputs checked against the
// reference (recorded by plain decoding one at a time in the first repetition).
struct RowRun {
    const std::map<std::string, DrafterOptions>& drafter_options;
    std::shared_ptr<const Qwen3Model> model;
    const std::vector<std::vector<std::int32_t>>& ids;
    const DecodeOptions& opt;
    int parallel;
    std::vector<std::vector<std::int32_t>>& reference;

    void operator()(Row& row, int rep) const {
        // Slots as a server has them: slot s serves requests s, s + N, ...; one drafter per slot.
        const int n_slots = row.mode == Mode::OneAtATime ? 1 : parallel;
        std::vector<std::unique_ptr<Drafter>> slots;
        for (int s = 0; s < n_slots; ++s)
            slots.push_back(create_drafter(row.drafter, drafter_options.at(row.drafter), model));
        DecodeStats total;
        const double t0 = seconds();
        for (std::size_t first = 0; first < ids.size(); first += static_cast<std::size_t>(n_slots)) {
            std::vector<BatchRequest> batch;
            for (std::size_t i = first; i < std::min(ids.size(), first + static_cast<std::size_t>(n_slots));
                 ++i)
                batch.push_back({ids[i], slots[i - first].get()});
            std::vector<DecodeResult> rs;
            if (row.mode == Mode::OneAtATime) {
                rs.push_back(SpeculativeDecoder(model, batch[0].drafter).run(batch[0].prompt, opt));
            } else {
                BatchReport info;
                rs = decode_batch(model, batch, opt,
                                  row.mode == Mode::Overlapped ? Overlap::On : Overlap::Off, &info);
                row.overlapped = row.overlapped || info.overlapped;
            }
            for (std::size_t k = 0; k < rs.size(); ++k) {
                if (row.drafter == "none" && row.mode == Mode::OneAtATime && rep == 0)
                    reference[first + k] = rs[k].tokens;
                if (rs[k].tokens != reference[first + k]) row.lossless = false;
                total.merge(rs[k].stats);
            }
        }
        row.tokens_per_s.push_back(static_cast<double>(total.emitted) / (seconds() - t0));
        row.stats = total;
    }
};

// Ratios are taken per repetition between runs made minutes apart at most, then the median: this
// machine changes speed for seconds at a time, and a ratio of medians can mix its modes.
double median_ratio(const Row& a, const Row& b) {
    std::vector<double> r;
    for (std::size_t k = 0; k < a.tokens_per_s.size(); ++k)
        r.push_back(a.tokens_per_s[k] / b.tokens_per_s[k]);
    return median(r);
}

// The table on stdout and each row's figures appended to out["rows"].
void report_rows(const std::vector<Row>& rows, nlohmann::json& out) {
    print_table_header({"drafter", "serving", "tau", "tokens/s", "vs none one at a time",
                        "vs same drafter one at a time", "outputs match"},
                       "lllllll");
    for (std::size_t i = 0; i < rows.size(); ++i) {
        const auto& r = rows[i];
        const Row& own = rows[i - static_cast<std::size_t>(r.mode)];
        const double tps = median(r.tokens_per_s), vs_none = median_ratio(r, rows[0]),
                     vs_own = median_ratio(r, own);
        std::printf("| %s | %s | %.2f | %.1f | %.2fx | %.2fx | %s |\n", r.drafter.c_str(), mode_name(r.mode),
                    r.stats.tau(), tps, vs_none, vs_own, r.lossless ? "yes" : "NO");
        out["rows"].push_back(
            {{"drafter", r.drafter},
             {"serving", mode_name(r.mode)},
             {"tau", r.stats.tau()},
             {"tokens_per_s", r.tokens_per_s},
             {"median_tokens_per_s", tps},
             {"speedup_vs_none", vs_none},
             {"speedup_vs_one_at_a_time", vs_own},
             {"speedup_vs_batched", r.mode == Mode::Overlapped ? median_ratio(r, rows[i - 1]) : 1.0},
             {"lossless", r.lossless},
             {"overlapped", r.overlapped}});
    }
}

}  // namespace

int bench_serve(int argc, char** argv) {
    Args args("bench serve",
              "-m MODEL --prompts FILE.jsonl [--draft none,suffix,eagle] [--parallel N] [--json OUT]",
              "The requests served one at a time, N at a time with one batched target forward per\n"
              "round, and N at a time with drafting overlapped with verification; throughput (output\n"
              "tokens / wall time) as ratios against one-at-a-time plain decoding in the same run;\n"
              "every output checked against it (greedy).",
              bench_serve_options());
    if (!args.parse(argc, argv)) return 0;
    const ServeBenchOptions o = parse_serve_bench(args);
    if (o.http) return bench_serve_http(o, argc, argv);
    std::map<std::string, DrafterOptions> drafters;  // each drafter's --draft-model entry
    for (const auto& d : o.drafters)
        drafters[d] = drafter_options(args, d, "draft-model", d == "eagle" || d == "mtp");
    auto threads = limit_threads(o.threads);
    const auto model = load_model(o.model, o.quantize);
    const auto ids = encode_prompts(o, *model);
    const int parallel = o.parallel, reps = o.reps;
    DecodeOptions opt;
    opt.max_new_tokens = o.n_predict;
    opt.stop_at_eos = false;
    opt.budget = {o.k, 0};
    std::vector<Row> rows;
    for (const auto& d : o.drafters)
        for (Mode m : {Mode::OneAtATime, Mode::Batched, Mode::Overlapped})
            rows.push_back({d, m, {}, true, false, {}});
    std::vector<std::vector<std::int32_t>> reference(ids.size());
    const RowRun run{drafters, model, ids, opt, parallel, reference};
    ProgressLine bar("bench serve");
    long long done = 0;
    for (int rep = 0; rep < reps; ++rep)
        for (auto& row : rows) {
            run(row, rep);
            bar.update(++done, static_cast<long long>(reps) * static_cast<long long>(rows.size()),
                       row.drafter + " " + mode_name(row.mode));
        }
    bar.finish();
    // -t, or every core TBB was given (the default).
    const int threads_used = tbb::this_task_arena::max_concurrency();
    std::printf(
        "\n%zu requests x %d tokens, %d at a time in the batched modes, k = %d, %d threads, %s kernels\n\n",
        ids.size(), opt.max_new_tokens, parallel, opt.budget.max_depth, threads_used,
        active_kernels().c_str());
    nlohmann::json out = {{"command", command_line("bench serve", argc, argv)},
                          {"model", o.model},
                          {"prompts", o.prompts},
                          {"requests", ids.size()},
                          {"n_predict", opt.max_new_tokens},
                          {"parallel", parallel},
                          {"k", opt.budget.max_depth},
                          {"threads", threads_used},
                          {"kernels", active_kernels()},
                          {"reps", reps},
                          {"rows", nlohmann::json::array()}};
    report_rows(rows, out);
    if (!o.json_out.empty()) write_output_file(o.json_out, out.dump(1) + "\n", "--json");
    for (const auto& r : rows)
        if (!r.lossless) throw Error("an output differed from one-at-a-time plain decoding: not lossless");
    return 0;
}

}  // namespace ternspec::cli
