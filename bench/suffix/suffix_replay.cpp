// suffix_replay: records greedy streams once, then replays them through drafting systems in seconds.
//   suffix_replay record -m MODEL --prompts FILE.jsonl [-n N] -o STREAMS.jsonl
//   suffix_replay run --streams STREAMS.jsonl... [-k 4,8,16] [--tree N] [--draft-opt K=V,...] [--arctic]
//                 [--json OUT]
// Each (streams file, K) cell starts from a fresh drafter that then learns across the file's requests in
// order, as a server would. Prints tau, acceptance (accepted/drafted) and the cost of every call.
#include <CLI/CLI.hpp>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "bench/suffix/replay.hpp"
#include "drafters/drafter.hpp"
#include "ternspec/error.hpp"
#include "ternspec/ternspec.hpp"
#ifdef TERNSPEC_ARCTIC
#include "bench/suffix/arctic_speculator.hpp"
#endif

namespace ternspec::bench {
namespace {

// A ternspec drafter through the decode loop's calls.
class Ours : public Speculator {
  public:
    Ours(const std::string& name, const DrafterOptions& o) : d_(create_drafter(name, o, nullptr)) {}
    void start(std::span<const std::int32_t> prompt) override { d_->begin(prompt, nullptr); }
    DraftTree propose(std::span<const std::int32_t> ctx, const DraftBudget& b) override {
        return d_->propose(ctx, b);
    }
    void cached(std::span<const std::int32_t> tokens) override { d_->observe(tokens, nullptr); }
    void finish(std::span<const std::int32_t> output) override { d_->end_request(output); }

  private:
    std::unique_ptr<Drafter> d_;
};

int record(const std::string& model_path, const std::string& prompts, int n, const std::string& out_path) {
    auto model = Model::load(model_path);
    const int ctx = model.info().context_length;
    std::ifstream in(prompts);
    if (!in) throw InputError("cannot open prompts file " + prompts);
    std::vector<Stream> streams;
    std::string line;
    Session session(model);
    for (int ln = 1; std::getline(in, line); ++ln) {
        if (line.empty()) continue;
        const auto j = nlohmann::json::parse(line);
        Stream s;
        s.kind = j.value("kind", "");
        s.source = j.value("source", "");
        s.prompt = model.encode(j.at("prompt").get<std::string>());
        const int room = ctx - static_cast<int>(s.prompt.size());
        if (room < 2)
            throw InputError(prompts + ":" + std::to_string(ln) + ": prompt does not fit the context");
        GenerateOptions g;
        g.max_new_tokens = std::min(n, room);
        s.output = session.generate_tokens(s.prompt, g).tokens;
        if (s.output.size() < 2) continue;  // nothing to draft for
        streams.push_back(std::move(s));
    }
    write_streams(out_path, streams);
    std::cerr << "wrote " << streams.size() << " streams to " << out_path << "\n";
    return 0;
}

std::map<std::string, std::string> parse_opts(const std::string& s) {
    std::map<std::string, std::string> out;
    std::size_t pos = 0;
    while (pos < s.size()) {
        auto end = s.find(',', pos);
        if (end == std::string::npos) end = s.size();
        const auto kv = s.substr(pos, end - pos);
        const auto eq = kv.find('=');
        if (eq == std::string::npos) throw InputError("--draft-opt: expected KEY=VALUE, got '" + kv + "'");
        out[kv.substr(0, eq)] = kv.substr(eq + 1);
        pos = end + 1;
    }
    return out;
}

nlohmann::json row(const std::string& system, const std::string& file, const DraftBudget& b,
                   const ReplayTotals& t) {
    const auto us = [](double s, long n) { return n ? 1e6 * s / double(n) : 0.0; };
    return {{"system", system},
            {"streams", file},
            {"k", b.max_depth},
            {"tree_nodes", b.max_nodes},
            {"tau", t.tau()},
            {"acceptance", t.acceptance()},
            {"drafted_per_round", t.rounds ? double(t.drafted) / double(t.rounds) : 0},
            {"rounds", t.rounds},
            {"emitted", t.emitted},
            {"drafted", t.drafted},
            {"accepted", t.accepted},
            {"propose_us", us(t.propose_s, t.rounds)},
            {"cached_us_per_token", us(t.cached_s, t.cached_tokens)},
            {"start_us_per_1000_prompt_tokens", us(t.start_s, t.prompt_tokens) * 1000},
            {"finish_us", us(t.finish_s, t.starts)}};
}

int run(const std::vector<std::string>& files, const std::vector<int>& ks, int tree,
        const std::string& drafter, const std::string& opts, bool arctic, int repeat,
        const std::string& json_out) {
    DrafterOptions o;
    o.extra = parse_opts(opts);
    nlohmann::json rows = nlohmann::json::array();
    std::printf("%-10s %-28s %4s %5s %7s %7s %7s %10s %10s %12s\n", "system", "streams", "K", "tree", "tau",
                "accept", "drafted", "propose_us", "cached_us", "start_us/1k");
    for (const auto& f : files) {
        const auto streams = read_streams(f);
        for (const int k : ks) {
            const DraftBudget b{k, tree};
            std::vector<std::pair<std::string, std::function<std::unique_ptr<Speculator>()>>> systems;
            systems.emplace_back("ternspec", [&] { return std::make_unique<Ours>(drafter, o); });
#ifdef TERNSPEC_ARCTIC
            if (arctic) systems.emplace_back("arctic", [] { return make_arctic({}); });
#else
            if (arctic)
                throw InputError(
                    "--arctic: this build has no ArcticInference (configure with -DTERNSPEC_ARCTIC_SRC)");
#endif
            for (auto& [name, make] : systems) {
                // Counts are the same every repetition; the cost is the fastest repetition's (a shared,
                // noisy machine only ever adds time).
                ReplayTotals best;
                for (int r = 0; r < repeat; ++r) {
                    auto s = make();
                    const auto t = replay(*s, streams, b);
                    if (r == 0 ||
                        t.propose_s + t.cached_s + t.start_s < best.propose_s + best.cached_s + best.start_s)
                        best = t;
                }
                auto j = row(name, f, b, best);
                std::printf("%-10s %-28s %4d %5d %7.3f %7.3f %7.2f %10.2f %10.3f %12.1f\n", name.c_str(),
                            f.substr(f.size() > 28 ? f.size() - 28 : 0).c_str(), k, tree, best.tau(),
                            best.acceptance(), j["drafted_per_round"].get<double>(),
                            j["propose_us"].get<double>(), j["cached_us_per_token"].get<double>(),
                            j["start_us_per_1000_prompt_tokens"].get<double>());
                rows.push_back(std::move(j));
            }
        }
    }
    if (!json_out.empty()) {
        std::ofstream out(json_out);
        out << nlohmann::json{{"draft_opt", opts}, {"drafter", drafter}, {"rows", rows}}.dump(1) << "\n";
        if (!out) throw Error("cannot write " + json_out);
    }
    return 0;
}

}  // namespace
}  // namespace ternspec::bench

int main(int argc, char** argv) {
    using namespace ternspec::bench;
    CLI::App app("Replays recorded greedy streams through suffix drafters (docs/suffix.md)");
    app.require_subcommand(1);
    auto* rec = app.add_subcommand("record", "run the target greedily on prompts and save the streams");
    std::string model, prompts, out;
    int n = 256;
    rec->add_option("-m,--model", model, "model")->required();
    rec->add_option("--prompts", prompts, "JSONL prompts ({\"prompt\": ...} per line)")->required();
    rec->add_option("-n", n, "tokens per request at most")->check(CLI::Range(2, 1 << 20));
    rec->add_option("-o", out, "output streams file")->required();
    auto* runc = app.add_subcommand("run", "replay streams through the drafters");
    std::vector<std::string> files;
    std::vector<int> ks{4, 8, 16};
    int tree = 0, repeat = 3;
    std::string drafter = "suffix", opts, json_out;
    bool arctic = false;
    runc->add_option("--streams", files, "streams files")->required();
    runc->add_option("-k", ks, "draft lengths")
        ->delimiter(',')
        ->check(CLI::Range(1, ternspec::kMaxDraftTokens));
    runc->add_option("--tree", tree, "tree nodes (0: chain)")
        ->check(CLI::Range(0, ternspec::kMaxDraftTokens));
    runc->add_option("--drafter", drafter, "ternspec drafter (suffix, ngram)");
    runc->add_option("--draft-opt", opts, "drafter options K=V,...");
    runc->add_flag("--arctic", arctic, "also replay ArcticInference's SuffixDecoding");
    runc->add_option("--repeat", repeat, "repetitions; the fastest one's cost is kept")
        ->check(CLI::Range(1, 100));
    runc->add_option("--json", json_out, "write the rows here");
    try {
        app.parse(argc, argv);
        if (rec->parsed()) return record(model, prompts, n, out);
        return run(files, ks, tree, drafter, opts, arctic, repeat, json_out);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    } catch (const std::exception& e) {
        std::cerr << "suffix_replay: " << e.what() << "\n";
        return 1;
    }
}
