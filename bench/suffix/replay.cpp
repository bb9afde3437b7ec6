#include "bench/suffix/replay.hpp"

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>

#include "ternspec/error.hpp"

namespace ternspec::bench {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

std::vector<Stream> read_streams(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw InputError("cannot open streams file " + path);
    std::vector<Stream> out;
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
        if (line.empty()) continue;
        const auto where = path + ":" + std::to_string(n);
        try {
            const auto j = nlohmann::json::parse(line);
            Stream s;
            s.kind = j.value("kind", "");
            s.source = j.value("source", "");
            s.prompt = j.at("prompt_ids").get<std::vector<std::int32_t>>();
            s.output = j.at("output_ids").get<std::vector<std::int32_t>>();
            if (s.prompt.empty() || s.output.empty()) throw InputError("empty prompt_ids or output_ids");
            out.push_back(std::move(s));
        } catch (const nlohmann::json::exception& e) {
            throw InputError(where + ": " + e.what());
        } catch (const InputError& e) {
            throw InputError(where + ": " + e.what());
        }
    }
    if (out.empty()) throw InputError(path + ": no streams");
    return out;
}

void write_streams(const std::string& path, const std::vector<Stream>& streams) {
    std::ofstream out(path);
    for (const auto& s : streams)
        out << nlohmann::json{{"kind", s.kind},
                              {"source", s.source},
                              {"prompt_ids", s.prompt},
                              {"output_ids", s.output}}
                   .dump()
            << "\n";
    out.flush();
    if (!out) throw Error("cannot write streams file " + path);
}

int accepted_length(const DraftTree& draft, std::span<const std::int32_t> truth) {
    int parent = -1, depth = 0;
    for (std::size_t i = 0; i < draft.size() && static_cast<std::size_t>(depth) < truth.size(); ++i)
        if (draft.parents[i] == parent && draft.tokens[i] == truth[static_cast<std::size_t>(depth)])
            parent = static_cast<int>(i), ++depth;  // parents come first, so one pass walks the tree
    return depth;
}

ReplayTotals replay(Speculator& s, const std::vector<Stream>& streams, const DraftBudget& budget) {
    ReplayTotals t;
    std::vector<std::int32_t> ctx;
    for (const auto& st : streams) {
        auto t0 = std::chrono::steady_clock::now();
        s.start(st.prompt);
        t.start_s += seconds_since(t0);
        t.prompt_tokens += static_cast<long>(st.prompt.size());
        ++t.starts;
        ctx.assign(st.prompt.begin(), st.prompt.end());
        const std::span<const std::int32_t> out(st.output);
        // out[0] comes from the prefill; every round then emits the accepted tokens and one more.
        std::size_t i = 0;
        ctx.push_back(out[0]);
        while (i + 1 < out.size()) {
            t0 = std::chrono::steady_clock::now();
            const auto draft = s.propose(ctx, budget);
            t.propose_s += seconds_since(t0);
            const int a = accepted_length(draft, out.subspan(i + 1));
            ++t.rounds;
            t.drafted += static_cast<long>(draft.size());
            t.accepted += a;
            const std::size_t emit =
                std::min<std::size_t>(static_cast<std::size_t>(a) + 1, out.size() - 1 - i);
            t.emitted += static_cast<long>(emit);
            t0 = std::chrono::steady_clock::now();
            s.cached(out.subspan(i, emit));
            t.cached_s += seconds_since(t0);
            t.cached_tokens += static_cast<long>(emit);
            ctx.insert(ctx.end(), out.begin() + static_cast<std::ptrdiff_t>(i + 1),
                       out.begin() + static_cast<std::ptrdiff_t>(i + 1 + emit));
            i += emit;
        }
        t0 = std::chrono::steady_clock::now();
        s.finish(out);
        t.finish_s += seconds_since(t0);
    }
    return t;
}

}  // namespace ternspec::bench
