#include "tools/ternspec/serve_http_bench.hpp"

#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "ternspec/error.hpp"
#include "tools/ternspec/model_args.hpp"
#include "tools/ternspec/output_file.hpp"

extern char** environ;

namespace ternspec::cli {
namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t0, Clock::time_point t) {
    return std::chrono::duration<double, std::milli>(t - t0).count();
}

int free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
        if (fd >= 0) ::close(fd);
        throw Error("bench serve --http: no free loopback port");
    }
    ::close(fd);
    return ntohs(a.sin_port);
}

// `ternspec serve` as a child process (this same binary), stopped with SIGTERM when done.
class ServerProcess {
  public:
    explicit ServerProcess(std::vector<std::string> args) {
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        if (posix_spawn(&pid_, "/proc/self/exe", nullptr, nullptr, argv.data(), environ) != 0)
            throw Error("bench serve --http: could not start the server");
    }
    ~ServerProcess() {
        ::kill(pid_, SIGTERM);
        int status = 0;
        ::waitpid(pid_, &status, 0);
    }
    bool running() const { return ::waitpid(pid_, nullptr, WNOHANG) == 0; }

  private:
    pid_t pid_ = -1;
};

struct Timing {
    double ttft_ms = 0, first_ms = 0, last_ms = 0;
    int tokens = 0;
};

// One streamed completion; token arrival times from the SSE events (tokens of one event share its time).
Timing stream_request(int port, const std::string& prompt, int n, const nlohmann::json& spec) {
    httplib::Client cli("127.0.0.1", port);
    cli.set_read_timeout(600);
    nlohmann::json body = {{"prompt", prompt},    {"max_tokens", n},
                           {"temperature", 0},    {"stream", true},
                           {"speculative", spec}, {"stream_options", {{"include_usage", true}}}};
    Timing t;
    std::string buf;
    bool first = true;
    const auto t0 = Clock::now();
    httplib::Request req;
    req.method = "POST";
    req.path = "/v1/completions";
    req.body = body.dump();
    req.set_header("Content-Type", "application/json");
    req.content_receiver = [&](const char* data, std::size_t len, std::uint64_t, std::uint64_t) {
        buf.append(data, len);
        for (std::size_t at; (at = buf.find("\n\n")) != std::string::npos; buf.erase(0, at + 2)) {
            const std::string ev = buf.substr(0, at);
            if (ev.rfind("data: ", 0) != 0 || ev == "data: [DONE]") continue;
            const auto chunk = nlohmann::json::parse(ev.substr(6), nullptr, false);
            if (chunk.is_discarded()) continue;
            if (chunk.contains("usage") && chunk["usage"].is_object())
                t.tokens = chunk["usage"].value("completion_tokens", 0);
            if (!chunk.contains("choices") || chunk["choices"].empty() ||
                chunk["choices"][0].value("text", "").empty())
                continue;
            const double now = ms_since(t0, Clock::now());
            if (first) t.first_ms = t.ttft_ms = now, first = false;
            t.last_ms = now;
        }
        return true;
    };
    httplib::Response res;
    httplib::Error err = httplib::Error::Success;
    if (!cli.send(req, res, err) || res.status != 200)
        throw Error("bench serve --http: a request failed (" +
                    (err != httplib::Error::Success ? httplib::to_string(err)
                                                    : "HTTP " + std::to_string(res.status)) +
                    ")");
    return t;
}

double percentile(std::vector<double> v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

struct Sample {
    double tokens_per_s, ttft_p50, ttft_p99, itl_p50, itl_p99;
};

// Every prompt served once by `clients` concurrent streaming clients.
Sample run_configuration(int port, const std::vector<std::string>& prompts, int clients, int n,
                         const nlohmann::json& spec) {
    std::atomic<std::size_t> next{0};
    std::mutex mu;
    std::vector<Timing> done;
    std::exception_ptr failure;
    const auto t0 = Clock::now();
    std::vector<std::thread> threads;
    for (int c = 0; c < clients; ++c)
        threads.emplace_back([&] {
            try {
                for (std::size_t i; (i = next++) < prompts.size();) {
                    const auto t = stream_request(port, prompts[i], n, spec);
                    std::lock_guard lock(mu);
                    done.push_back(t);
                }
            } catch (...) {
                std::lock_guard lock(mu);
                failure = std::current_exception();
                next = prompts.size();
            }
        });
    for (auto& t : threads) t.join();
    if (failure) std::rethrow_exception(failure);
    const double wall = ms_since(t0, Clock::now()) / 1000;
    std::vector<double> ttft, itl;
    double tokens = 0;
    for (const auto& t : done) {
        tokens += t.tokens;
        ttft.push_back(t.ttft_ms);
        if (t.tokens > 1) itl.push_back((t.last_ms - t.first_ms) / (t.tokens - 1));
    }
    return {tokens / wall, percentile(ttft, 0.5), percentile(ttft, 0.99), percentile(itl, 0.5),
            percentile(itl, 0.99)};
}

struct Config {
    int clients;
    nlohmann::json spec;
    std::vector<Sample> samples;
};

// The table on standard output and the same figures as JSON rows: medians over the repetitions, and
// each repetition's own figures.
nlohmann::json print_rows(const std::vector<Config>& configs, const std::string& drafter, int k) {
    auto med = [](const std::vector<Sample>& s, double Sample::*f) {
        std::vector<double> v;
        for (const auto& x : s) v.push_back(x.*f);
        return median(std::move(v));
    };
    nlohmann::json rows = nlohmann::json::array();
    print_table_header({"clients", "speculation", "tokens/s", "vs none", "TTFT p50 ms", "TTFT p99 ms",
                        "ITL p50 ms", "ITL p99 ms"},
                       "rlrrrrrr");
    for (std::size_t i = 0; i < configs.size(); ++i) {
        const auto& c = configs[i];
        const double tps = med(c.samples, &Sample::tokens_per_s);
        const double none = med(configs[i - i % 2].samples, &Sample::tokens_per_s);
        const std::string label = i % 2 ? drafter + " k=" + std::to_string(k) : "none";
        std::printf("| %d | %s | %.1f | %.2fx | %.1f | %.1f | %.2f | %.2f |\n", c.clients, label.c_str(), tps,
                    none > 0 ? tps / none : 0.0, med(c.samples, &Sample::ttft_p50),
                    med(c.samples, &Sample::ttft_p99), med(c.samples, &Sample::itl_p50),
                    med(c.samples, &Sample::itl_p99));
        nlohmann::json reps_json = nlohmann::json::array();
        for (const auto& s : c.samples)
            reps_json.push_back({{"tokens_per_s", s.tokens_per_s},
                                 {"ttft_ms_p50", s.ttft_p50},
                                 {"ttft_ms_p99", s.ttft_p99},
                                 {"itl_ms_p50", s.itl_p50},
                                 {"itl_ms_p99", s.itl_p99}});
        rows.push_back({{"clients", c.clients},
                        {"speculative", c.spec},
                        {"tokens_per_s", tps},
                        {"speedup_vs_none", none > 0 ? tps / none : 0.0},
                        {"ttft_ms_p50", med(c.samples, &Sample::ttft_p50)},
                        {"ttft_ms_p99", med(c.samples, &Sample::ttft_p99)},
                        {"itl_ms_p50", med(c.samples, &Sample::itl_p50)},
                        {"itl_ms_p99", med(c.samples, &Sample::itl_p99)},
                        {"reps", reps_json}});
    }
    return rows;
}

}  // namespace

int bench_serve_http(const ServeBenchOptions& o, int argc, char** argv) {
    const auto prompts = read_prompts_jsonl(o.prompts);
    const int n = o.n_predict, k = o.k, reps = o.reps;
    const std::vector<int>& client_counts = o.clients;
    if (o.drafters.size() > 2) throw InputError("--http compares one drafter with none");
    const std::string drafter = o.drafters.size() == 2 ? o.drafters[1] : "suffix";
    const int max_clients = static_cast<int>(*std::max_element(client_counts.begin(), client_counts.end()));
    const int port = free_port();
    // The server's arguments as the JSON records them; the child also gets this run's free port.
    std::vector<std::string> serve = {"serve",
                                      "-m",
                                      o.model,
                                      "-np",
                                      std::to_string(max_clients),
                                      "--max-queue",
                                      std::to_string(max_clients)};
    if (o.threads > 0) serve.insert(serve.end(), {"-t", std::to_string(o.threads)});
    if (!o.draft_model_arg.empty()) serve.insert(serve.end(), {"--draft-model", o.draft_model_arg});
    std::vector<std::string> child = {"ternspec"};
    child.insert(child.end(), serve.begin(), serve.end());
    child.insert(child.end(), {"--port", std::to_string(port)});
    ServerProcess server(child);
    httplib::Client probe("127.0.0.1", port);
    bool up = false;
    for (int i = 0; i < 600 && !up && server.running(); ++i) {
        if (auto r = probe.Get("/health"); r && r->status == 200)
            up = true;
        else
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (!up) throw Error("bench serve --http: the server did not come up (its log is above)");

    std::vector<Config> configs;
    for (const int c : client_counts) {
        configs.push_back({c, {{"draft", "none"}}, {}});
        configs.push_back({c, {{"draft", drafter}, {"k", k}}, {}});
    }
    run_configuration(port, prompts, std::min(4, max_clients), n, {{"draft", "none"}});  // warm-up
    for (int r = 0; r < reps; ++r)  // interleaved: each repetition runs every configuration once
        for (auto& c : configs) c.samples.push_back(run_configuration(port, prompts, c.clients, n, c.spec));

    const nlohmann::json rows = print_rows(configs, drafter, k);
    if (!flush_stdout()) throw Error("writing the table to standard output failed");
    if (!o.json_out.empty()) {
        const nlohmann::json out = {{"command", command_line("bench serve", argc, argv)},
                                    {"serve", serve},
                                    {"prompts", o.prompts},
                                    {"max_tokens", n},
                                    {"reps", reps},
                                    {"cpus", std::thread::hardware_concurrency()},
                                    {"rows", rows}};
        write_output_file(o.json_out, out.dump(1) + "\n", "--json");
    }
    return 0;
}

}  // namespace ternspec::cli
