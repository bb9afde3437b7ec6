#pragma once
// Continuous batching for `ternspec serve`: one thread owns the target and every running request. Between
// rounds, queued requests join (up to the slot count) and finished or cancelled ones leave; each round is
// one batched target forward over every running request (a prefill and several decoding rounds can share
// it). The forward is batch invariant, so a greedy request's output does not depend on what else runs.
#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "drafters/drafter.hpp"
#include "runtime/speculative_decoder.hpp"
#include "runtime/stop_strings.hpp"

namespace ternspec::cli {

// One request as the scheduler and the HTTP thread that waits for it share it.
struct ServeJob {
    // Set before submit().
    std::vector<std::int32_t> prompt;
    DecodeOptions options;
    std::string drafter = "none";
    std::vector<std::string> stop;  // stop strings: the text ends before the first one found
    bool include_usage = false;     // stream_options.include_usage: a last chunk with the usage

    // Written by the scheduler under `mu`; `cv` is notified on every change.
    std::mutex mu;
    std::condition_variable cv;
    StopStrings output;  // the text so far, cut at a stop string; output.ready() of it can be sent
    bool done = false;
    std::string finish_reason;  // stop, length, cancelled, error
    std::string error;
    DecodeStats stats;
    std::int64_t completion_tokens = 0;

    std::atomic<bool> cancelled{false};  // set by the HTTP side (client gone); honoured at the next round
};

struct SchedulerOptions {
    int slots = 4;       // requests decoded together
    int max_queue = 64;  // requests waiting beyond the slots; more are refused (503)
    std::map<std::string, DrafterOptions> drafters;  // the drafters requests may choose, by name
    // Drafters already created (to validate the options at startup): they serve the first slots, and their
    // siblings the rest, so no weights are loaded twice.
    std::map<std::string, std::unique_ptr<Drafter>> loaded;
};

class Scheduler {
  public:
    Scheduler(std::shared_ptr<const Qwen3Model> model, SchedulerOptions options);
    ~Scheduler();
    // Queues the job; false when the queue is full or the scheduler is stopping.
    bool submit(std::shared_ptr<ServeJob> job);
    // Stops taking jobs, cancels queued and running ones at the next round, and joins the thread.
    void stop();
    bool has_drafter(const std::string& name) const { return name == "none" || opt_.drafters.count(name); }

    struct Metrics {
        std::int64_t requests_finished = 0, requests_failed = 0, requests_cancelled = 0, rounds = 0;
        std::size_t queued = 0, running = 0;
        std::map<std::string, DecodeStats> per_drafter;  // merged statistics of finished requests
    };
    Metrics metrics() const;

  private:
    struct Running;
    void loop();
    void admit(std::vector<Running>& running);
    // Hands the job its end (and the drafter back to the idle pool); stats when the decode completed.
    void finish(Running& r, const std::string& reason, const std::string& error = {},
                const DecodeStats* stats = nullptr);
    std::unique_ptr<Drafter> take_drafter(const std::string& name);

    std::shared_ptr<const Qwen3Model> model_;
    SchedulerOptions opt_;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::shared_ptr<ServeJob>> queue_;
    bool stopping_ = false;
    int in_flight_ = 0;  // submitted and not finished
    Metrics metrics_;
    // Idle drafters by name: a drafter serves one request at a time and keeps what it learnt across
    // requests (the suffix drafter's trie of earlier answers).
    std::map<std::string, std::vector<std::unique_ptr<Drafter>>> idle_;
    std::map<std::string, std::unique_ptr<Drafter>> prototypes_;  // never decodes; its siblings do
    std::thread thread_;
};

}  // namespace ternspec::cli
