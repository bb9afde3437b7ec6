#include "tools/ternspec/spec_bench.hpp"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "bench/harness/replay_drafter.hpp"
#include "runtime/cost_model.hpp"
#include "runtime/speculative_decoder.hpp"
#include "ternspec/ternspec.hpp"
#include "tools/ternspec/model_args.hpp"
#include "tools/ternspec/output_file.hpp"
#include "tools/ternspec/read_bandwidth.hpp"
#include "tools/ternspec/spec_plot.hpp"

namespace ternspec::cli {
namespace {

struct Config {
    std::string drafter;
    int k;  // 0: adaptive (-k auto)
    int tree;
    std::string label() const {
        if (drafter == "none") return "none";
        return drafter + " k=" + (k ? std::to_string(k) : std::string("auto")) +
               (tree ? " tree=" + std::to_string(tree) : "");
    }
};

struct Outcome {
    std::vector<double> tokens_per_s;  // one per run
    // One per repetition: tokens/s over the mean of the two `none` runs either side of this run. This
    // machine switches between speed modes for seconds at a time (whole repetitions ran at 0.6x), so a
    // ratio of medians taken minutes apart can say 1.5x for a run that drafted nothing.
    std::vector<double> speedups;
    DecodeStats stats;  // of the last run
    bool lossless = true;
    double draft_bytes_per_token = 0;  // weight bytes the drafter read per drafted token (--replay)
    double speedup() const { return speedups.empty() ? 1.0 : median(speedups); }
};

// The plot's series: every configuration but none, in the order run.
std::vector<PlotSeries> plot_series(const std::vector<Config>& cfgs, const std::vector<Outcome>& res) {
    std::vector<PlotSeries> out;
    for (std::size_t i = 0; i < cfgs.size(); ++i) {
        if (cfgs[i].drafter == "none") continue;
        const std::string label = cfgs[i].label();
        out.push_back({cfgs[i].drafter, label.substr(cfgs[i].drafter.size() + 1),
                       res[i].stats.per_position_acceptance(), res[i].speedups});
    }
    return out;
}

}  // namespace

namespace {

std::vector<Option> spec_bench_options() {
    auto opts = model_options();
    opts.push_back({"draft", 0, "LIST",
                    "drafters to compare (none is always included); NAME#LABEL is drafter NAME with the "
                    "--draft-model entry NAME#LABEL=PATH",
                    "none,suffix,ngram"});
    opts.push_back({"prompts", 0, "FILE", "JSONL workload, {\"prompt\": ...} per line", ""});
    opts.push_back({"n-predict", 'n', "N", "tokens to generate per request", "96"});
    opts.push_back(
        {"k", 'k', "LIST", "draft lengths to try; auto: chosen per round from measured costs", "4"});
    opts.push_back({"k-max", 0, "K", "longest draft auto may choose", "8"});
    opts.push_back({"tree", 0, "N", "also run each drafter with a tree of N nodes", ""});
    opts.push_back({"reps", 0, "R", "repetitions (interleaved; medians reported)", "3"});
    for (auto& o : drafter_option_list()) opts.push_back(o);
    // Sampling: every configuration samples with the same settings and seed; outputs then differ between
    // drafters by design (they consume the random stream differently), so matching none is greedy-only.
    for (auto& o : sampling_options()) opts.push_back(o);
    // Structured output: every configuration, plain decoding included, writes the same constrained document.
    for (auto& o : structured_output_options()) opts.push_back(o);
    opts.push_back({"project", 0, "MODEL",
                    "also project speed-ups onto MODEL's measured t(M) (e.g. a synth qwen3-1.7b)", ""});
    opts.push_back(
        {"replay", 0, "TRAINED",
         "measure -m (e.g. a synth qwen3-1.7b with real-shape drafters) end to end, taking only which "
         "drafted tokens are accepted from TRAINED and its drafters decoding the same prompts in "
         "lockstep",
         ""});
    opts.push_back({"replay-draft-model", 0, "NAME=PATH,...", "TRAINED's drafter weights, per drafter", ""});
    opts.push_back({"json", 0, "OUT", "write every figure as JSON to OUT", ""});
    opts.push_back({"plot", 0, "OUT.svg", "draw per-position acceptance and speed-ups", ""});
    return opts;
}

// What `bench spec` was asked for, parsed once: nothing after parse_spec_bench reads the arguments.
struct SpecBenchOptions {
    std::string model, prompts, replay, replay_draft_models, project, json_out, plot_out, structured_label;
    int threads = 0;  // -t; 0: no limit
    bool quantize = false;
    std::vector<Config> configs;                         // none, then every drafter at every -k value
    std::map<std::string, DrafterOptions> draft;         // per configured drafter: its --draft-model entry
    std::map<std::string, DrafterOptions> replay_draft;  // per configured drafter: the trained pair's
    int reps = 3, k_max = 8;
    DecodeOptions base;
};

SpecBenchOptions parse_spec_bench(const Args& args) {
    SpecBenchOptions o;
    o.model = args.str("model");
    o.prompts = args.str("prompts");
    o.quantize = args.flag("quantize");
    if (args.has("threads")) o.threads = static_cast<int>(args.integer("threads", 1, 1024));  // 0: no limit
    if (args.has("replay")) o.replay = args.str("replay");
    if (args.has("replay-draft-model")) o.replay_draft_models = args.str("replay-draft-model");
    if (args.has("project")) o.project = args.str("project");
    if (!o.replay.empty() && !o.project.empty())
        throw InputError("--replay measures; --project is for runs without it");
    if (args.has("json")) check_writable(o.json_out = args.str("json"), "--json");
    if (args.has("plot")) check_writable(o.plot_out = args.str("plot"), "--plot");
    o.configs = {{"none", 0, 0}};
    for (const auto& d : args.str_list("draft")) {
        if (d == "none") continue;
        for (const auto& ks : args.str_list("k")) {
            int k = 0;
            if (ks != "auto") {
                try {
                    k = std::stoi(ks);
                } catch (const std::exception&) {
                    throw InputError("-k: \"" + ks + "\" is neither a number nor auto");
                }
                if (k < 1 || k > kMaxDraftTokens)
                    throw InputError("-k values must be between 1 and " + std::to_string(kMaxDraftTokens));
            }
            o.configs.push_back({d, k, 0});
            if (args.has("tree"))
                o.configs.push_back({d, k, static_cast<int>(args.integer("tree", 1, kMaxDraftTokens))});
        }
        // NAME#LABEL: drafter NAME with the --draft-model entry NAME#LABEL; a bare PATH serves the drafters
        // that take weights. The trained pair's weights: the entry for NAME#LABEL, else the one for NAME.
        const std::string kind = d.substr(0, d.find('#'));
        const bool weights = kind == "eagle" || kind == "mtp";
        o.draft[d] = drafter_options(args, d, "draft-model", weights);
        if (!o.replay.empty()) {
            auto r = drafter_options(args, d, "replay-draft-model", weights);
            if (r.draft_model.empty()) r = drafter_options(args, kind, "replay-draft-model", weights);
            o.replay_draft[d] = r;
        }
    }
    o.reps = static_cast<int>(args.integer("reps", 1, 1000));
    o.k_max = static_cast<int>(args.integer("k-max", 1, kMaxDraftTokens));
    o.base.max_new_tokens = static_cast<int>(args.integer("n-predict", 0, std::numeric_limits<int>::max()));
    o.base.stop_at_eos = false;  // equal work for every drafter
    o.base.sampling = sampling_from(args);
    o.base.json_schema = structured_output_from(args);
    o.structured_label = args.flag("json-object")       ? "json_object"
                         : args.has("json-schema-file") ? "json_schema (" + args.str("json-schema-file") + ")"
                         : args.has("json-schema")      ? "json_schema"
                                                        : "none";
    return o;
}

// One bench spec run: the models, the requests, every configuration's outcome.
struct SpecBench {
    const SpecBenchOptions& opt;
    std::shared_ptr<const Qwen3Model> model, trained;  // trained: --replay's acceptance source
    std::vector<std::vector<std::int32_t>> ids;
    std::vector<Config> cfgs;
    std::vector<Outcome> res;
    DecodeOptions base;
    int k_max = 8;
    std::vector<std::vector<std::int32_t>> reference;                             // none's outputs
    std::map<std::vector<std::int32_t>, std::vector<std::int32_t>> reference_of;  // prompt -> none's output
    std::vector<double> bandwidth;                                                // one pass per repetition

    bool replay() const { return trained != nullptr; }

    // A fresh drafter per configuration and repetition; it serves the requests in order, so global state
    // (the suffix drafter's trie of earlier answers) builds up as it would in a server. NAME#LABEL: drafter
    // NAME with its own --draft-model entry (two heads of one kind in one run).
    std::unique_ptr<Drafter> make_drafter(const Config& cfg, bench::ReplayDrafter** replayed) const {
        const std::string kind = cfg.drafter.substr(0, cfg.drafter.find('#'));
        if (cfg.drafter == "none") return create_drafter(kind, {}, model);
        auto drafter = create_drafter(kind, opt.draft.at(cfg.drafter), model);
        if (!replay()) return drafter;
        auto oracle = create_drafter(kind, opt.replay_draft.at(cfg.drafter), trained);
        DecodeOptions oracle_base = base;
        oracle_base.context = 0;
        auto r =
            std::make_unique<bench::ReplayDrafter>(std::move(drafter), trained, std::move(oracle),
                                                   oracle_base, &reference_of, model->config().vocab_size);
        *replayed = r.get();
        return r;
    }

    double run(std::size_t c, int rep) {
        bench::ReplayDrafter* replayed = nullptr;
        auto drafter = make_drafter(cfgs[c], &replayed);
        SpeculativeDecoder dec(model, drafter.get());
        DecodeOptions o = base;
        o.budget = {cfgs[c].k ? cfgs[c].k : k_max, cfgs[c].tree};
        if (cfgs[c].k == 0 && cfgs[c].drafter != "none")
            o.adaptive = ternspec::adaptive_controller(*model, cost_key(opt.model, *model), k_max);
        if (replayed) o.clock = replayed->measured_clock();  // the trained pair's time left out
        DecodeStats total;
        for (std::size_t i = 0; i < ids.size(); ++i) {
            auto r = dec.run(ids[i], o);
            if (c == 0 && rep == 0 && reference[i].empty()) {
                reference[i] = r.tokens;
                reference_of[ids[i]] = r.tokens;
            }
            if (base.sampling.greedy() && r.tokens != reference[i]) res[c].lossless = false;
            total.merge(r.stats);
        }
        const double tps = total.decode_tokens_per_s();
        res[c].tokens_per_s.push_back(tps);
        res[c].stats = total;
        if (replayed) res[c].draft_bytes_per_token = replayed->bytes_per_drafted_token();
        return tps;
    }

    // Every configuration runs between two runs of `none` (none, c1, none, c2, none, ...), and its speed-up
    // in a repetition is taken against those two neighbours.
    void run_all(int reps) {
        ProgressLine bar("bench spec");
        const long long total_runs =
            static_cast<long long>(reps) * static_cast<long long>(2 * cfgs.size() - 1);
        long long done = 0;
        auto timed = [&](std::size_t c, int rep) {
            const double tps = run(c, rep);
            bar.update(++done, total_runs, cfgs[c].label());
            return tps;
        };
        for (int rep = 0; rep < reps; ++rep) {
            // A fresh buffer each repetition: a probe kept across minutes of decoding read at 2-4 GB/s on its
            // later passes while decoding itself still streamed weights at over 30 GB/s (1.7B run, session
            // 8).
            bandwidth.push_back(ReadBandwidthProbe().pass_gbs());
            double before = timed(0, rep);
            for (std::size_t c = 1; c < cfgs.size(); ++c) {
                const double tps = timed(c, rep);
                const double after = timed(0, rep);
                res[c].speedups.push_back(tps / (0.5 * (before + after)));
                before = after;
            }
        }
        bar.finish();
    }

    // Projection: this run's draft sizes and acceptance, priced with another model's measured t(M). With
    // --replay the measured model's own curve gives each row's ceiling: its speed-up if drafting were free
    // (tau over the verification cost), so the gap to the hardware's limit is visible.
    CostModel cost_curve() const {
        if (opt.project.empty() && !replay()) return {};
        int longest = 1;
        for (const auto& r : res)
            longest = std::max(longest, static_cast<int>(r.stats.draft_size_hist.size()));
        return replay() ? CostModel::measure(*model, longest, 7)
                        : CostModel::measure(*Qwen3Model::load(ModelFiles::open(opt.project)), longest, 7);
    }

    nlohmann::json report(const CostModel& curve) const;
};

nlohmann::json SpecBench::report(const CostModel& curve) const {
    // Relative to none's own projection, so both sides price the same prompts the same way.
    auto project = [&](const DecodeStats& st) {
        auto rate = [&](const DecodeStats& s) {
            return s.projected_tokens_per_s([&](int m) { return curve.seconds(m); });
        };
        return rate(st) / rate(res[0].stats);
    };
    nlohmann::json rows = nlohmann::json::array();
    const bool proj = curve.max_tokens() > 0;
    const double target_bytes = static_cast<double>(model->weight_bytes());
    std::printf(
        "| drafter | tau | acceptance | tokens/s | speed-up | draft | verify | other | matches none |%s%s\n",
        proj ? (replay() ? " free-drafting ceiling |" : " projected speed-up |") : "",
        replay() ? " draft bytes/token vs target |" : "");
    std::printf("|---|---:|---:|---:|---:|---:|---:|---:|:---:|%s%s\n", proj ? "---:|" : "",
                replay() ? "---:|" : "");
    for (std::size_t c = 0; c < cfgs.size(); ++c) {
        const auto& st = res[c].stats;
        const double tps = median(res[c].tokens_per_s), dec_s = st.t_total - st.t_prefill;
        const double draft = dec_s > 0 ? st.t_draft / dec_s : 0, verify = dec_s > 0 ? st.t_verify / dec_s : 0;
        char acc[32] = "-";  // plain decoding drafted nothing
        if (st.drafted) std::snprintf(acc, sizeof acc, "%.1f%%", 100 * st.acceptance_rate());
        std::printf("| %s | %.2f | %s | %.1f | %.2fx | %.0f%% | %.0f%% | %.0f%% | %s |",
                    cfgs[c].label().c_str(), st.tau(), acc, tps, res[c].speedup(), 100 * draft, 100 * verify,
                    100 * std::max(0.0, 1 - draft - verify),
                    !base.sampling.greedy() ? "n/a (sampling)"
                    : res[c].lossless       ? "yes"
                                            : "NO");
        if (proj) std::printf(" %.2fx |", project(st));
        if (replay()) std::printf(" %.1f%% |", 100 * res[c].draft_bytes_per_token / target_bytes);
        std::printf("\n");
        auto j = st.to_json();
        j["config"] = {{"drafter", cfgs[c].drafter}, {"k", cfgs[c].k}, {"tree", cfgs[c].tree}};
        j["tokens_per_s_reps"] = res[c].tokens_per_s;
        j["tokens_per_s_median"] = tps;
        j["speedup_vs_none"] = res[c].speedup();
        j["speedup_vs_none_reps"] = res[c].speedups;
        j["matches_none"] = base.sampling.greedy() ? nlohmann::json(res[c].lossless) : nlohmann::json();
        if (proj) j[replay() ? "ceiling_free_drafting" : "projected_speedup"] = project(st);
        if (replay()) {
            j["draft_bytes_per_token"] = res[c].draft_bytes_per_token;
            j["draft_bytes_per_token_vs_target"] = res[c].draft_bytes_per_token / target_bytes;
        }
        rows.push_back(j);
    }
    std::printf(
        "kernels %s; read bandwidth %.1f GB/s (median of %zu passes); target weights read per forward "
        "%.1f MB\n",
        active_kernels().c_str(), median(bandwidth), bandwidth.size(), target_bytes / 1e6);
    std::vector<double> ms;
    for (double t : curve.curve()) ms.push_back(t * 1e3);
    return {{"model", opt.model},
            {"workload", opt.prompts},
            {"requests", ids.size()},
            {"measured", true},
            {"acceptance_source",
             replay() ? "replayed from " + opt.replay + " with its drafters (" + opt.replay_draft_models + ")"
                      : "this run"},
            {"target_bytes_per_forward", model->weight_bytes()},
            {"projected_onto", opt.project},
            {replay() ? "t_ms" : "projected_t_ms", ms},
            {"n_predict", base.max_new_tokens},
            {"kernels", active_kernels()},
            {"read_bandwidth_gbs", median(bandwidth)},
            {"read_bandwidth_runs_gbs", bandwidth},
            {"rows", rows}};
}

}  // namespace

int bench_spec(int argc, char** argv) {
    Args args("bench spec",
              "-m MODEL --prompts FILE.jsonl [--draft none,suffix,ngram] [-n N] [-k 2,4,8] [--json OUT] "
              "[--plot OUT.svg]",
              "Every drafter on the same requests in one process: tau, acceptance, per-position\n"
              "acceptance, tokens/s, speed-up over none, time shares, and whether every output matched\n"
              "none (greedy). Every configuration runs between two runs of none in each repetition, and\n"
              "its speed-up is the median over repetitions of its tokens/s against those two neighbours.",
              spec_bench_options());
    if (!args.parse(argc, argv)) return 0;
    const SpecBenchOptions o = parse_spec_bench(args);
    auto threads = limit_threads(o.threads);
    SpecBench b{o, load_model(o.model, o.quantize), nullptr, {}, o.configs, {}, o.base, o.k_max, {}, {}, {}};
    if (!o.replay.empty()) b.trained = Qwen3Model::load(ModelFiles::open(o.replay));
    // With --replay both targets read the trained model's token ids, so their contexts match token for token.
    for (const auto& p : read_prompts_jsonl(o.prompts))
        b.ids.push_back((b.replay() ? *b.trained : *b.model).tokenizer().encode(p));
    for (const auto& v : b.ids)
        for (auto t : v)
            if (t >= b.model->config().vocab_size)
                throw InputError("--replay: " + o.replay + "'s token id " + std::to_string(t) +
                                 " is outside " + o.model + "'s vocabulary");
    b.res.resize(b.cfgs.size());
    b.reference.resize(b.ids.size());
    b.run_all(o.reps);
    auto out = b.report(b.cost_curve());
    out["command"] = command_line("bench spec", argc, argv);
    out["reps"] = o.reps;
    out["sampling"] = {{"temperature", o.base.sampling.temperature},
                       {"top_k", o.base.sampling.top_k},
                       {"top_p", o.base.sampling.top_p},
                       {"min_p", o.base.sampling.min_p},
                       {"seed", o.base.sampling.seed}};
    out["structured_output"] = o.structured_label;
    if (!o.json_out.empty()) write_output_file(o.json_out, out.dump(1) + "\n", "--json");
    if (!o.plot_out.empty()) {
        const std::string title = "bench spec: " + o.model + ", " + o.prompts + " (" +
                                  std::to_string(b.ids.size()) + " prompts), " +
                                  std::to_string(o.base.max_new_tokens) + " tokens each, " +
                                  std::to_string(o.reps) + " repetitions, " + active_kernels();
        write_output_file(o.plot_out, spec_plot_svg(title, plot_series(b.cfgs, b.res)), "--plot");
    }
    for (const auto& r : b.res)
        if (!r.lossless) {
            std::fprintf(stderr, "bench spec: some outputs differ from plain decoding\n");
            return 1;
        }
    return 0;
}

}  // namespace ternspec::cli
