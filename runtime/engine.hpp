#pragma once
// The engine every surface shares (the server, the C++ and C APIs): a request queue and continuous
// batching. One thread owns the target and every running request; between rounds, queued requests join (up
// to the slot count) and finished or cancelled ones leave; each round is one batched target forward over
// every running request (a prefill and several decoding rounds can share it). The forward is batch
// invariant, so a greedy request's output does not depend on what else runs. Each request carries its own
// options: drafter, draft length (fixed, or chosen per round by the measured-cost controller), stop strings,
// sampling.
#include <tbb/task_arena.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "drafters/drafter.hpp"
#include "runtime/prefix_cache.hpp"
#include "runtime/speculative_decoder.hpp"

namespace ternspec {

class DecodeSession;

// One request as the engine and whoever waits for it share it.
struct EngineRequest {
    // Set before submit().
    std::vector<std::int32_t> prompt;
    DecodeOptions options;
    std::string drafter = "none";
    // k = auto: each round's draft length chosen by the drafter's shared controller from measured costs,
    // up to options.budget.max_depth.
    bool adaptive_k = false;
    // A drafter the caller owns (a Session's, a benchmark's slot), used instead of one of the engine's;
    // it must outlive the request. Null: the engine's drafter named `drafter`.
    Drafter* own_drafter = nullptr;
    // Set by the engine's thread: when submitted, when its last token came (for latency metrics).
    double submitted_at = 0, last_token_at = 0;
    // options.on_token and on_round, when set, are called too, on the engine's thread.

    // Written by the engine under `mu`; `cv` is notified on every change.
    std::mutex mu;
    std::condition_variable cv;
    std::string text;  // the visible text so far: never part of a stop string
    std::int64_t completion_tokens = 0;
    bool done = false;
    DecodeResult result;  // once done without an error: the tokens, the whole text, stop reason, statistics
    std::string error;    // non-empty: the request failed
    bool error_is_input = false;  // the failure was the request's own (an InputError), not the engine's

    std::atomic<bool> cancelled{false};  // set from any thread; honoured at the next round

    // Blocks until the engine has ended the request; the returned lock holds `mu`.
    std::unique_lock<std::mutex> wait_done();
    // With `mu` held: throws the request's failure, if it failed (InputError when it was its own fault).
    void throw_if_failed() const;
};

// Overlap: the running requests form two halves that take turns, so one half drafts (a oneTBB task) while
// the target verifies the other half's drafts, both in the same task arena, sharing its threads with the
// kernels' own parallel loops (no extra threads). It pays only when drafting costs something and there is
// more than one thread; Auto measures the first rounds and decides once.
enum class Overlap { Auto, Off, On };

// A latency histogram as Prometheus keeps one: counts per upper bound (cumulative when exported), sum.
struct LatencyHistogram {
    std::vector<double> bounds;        // seconds, ascending
    std::vector<std::int64_t> counts;  // per bucket, not cumulative; one more for +Inf
    double sum = 0;
    std::int64_t count = 0;
    explicit LatencyHistogram(std::vector<double> b = {}) : bounds(std::move(b)), counts(bounds.size() + 1) {}
    void observe(double seconds);
};

struct EngineCoreOptions {
    int slots = 4;                                   // requests decoded together
    int max_queue = 64;                              // requests waiting beyond the slots; more are refused
    std::map<std::string, DrafterOptions> drafters;  // the drafters requests may choose, by name
    // Drafters already created (to validate the options up front): they serve the first slots, and their
    // siblings the rest, so no weights are loaded twice.
    std::map<std::string, std::unique_ptr<Drafter>> loaded;
    // Names the model in the t(M) cache of k = auto (CostModel::cached); empty: measured, not cached.
    std::string cost_key;
    // Where the rounds run: a model loaded with its own thread count has its arena; null: TBB's default.
    tbb::task_arena* arena = nullptr;
    Overlap overlap = Overlap::Off;
    // Prefix cache (prefix_cache.hpp): finished requests' caches kept for requests that share their first
    // tokens, up to this many bytes; 0: off. Not used by drafters that read the target's hidden states.
    std::size_t prefix_cache_bytes = 0;
};

class EngineCore {
  public:
    EngineCore(std::shared_ptr<const Qwen3Model> model, EngineCoreOptions options);
    ~EngineCore();
    EngineCore(const EngineCore&) = delete;
    EngineCore& operator=(const EngineCore&) = delete;
    // Queues the request; false when the queue is full or the engine is stopping. A request the engine
    // cannot serve (its options, its prompt) ends at once with `error` set.
    bool submit(std::shared_ptr<EngineRequest> request);
    // Stops taking requests, cancels queued and running ones at the next round, and joins the thread.
    void stop();
    bool has_drafter(const std::string& name) const { return name == "none" || opt_.drafters.count(name); }
    int capacity() const { return opt_.slots + opt_.max_queue; }  // requests in flight at most

    struct Metrics {
        std::int64_t requests_finished = 0, requests_failed = 0, requests_cancelled = 0, rounds = 0;
        std::size_t queued = 0, running = 0;
        bool overlapped = false;  // whether the two-half schedule ran
        // Prefix cache: prompt tokens looked up and found (vLLM's prefix_cache_queries and _hits), and
        // what the store holds.
        std::int64_t prefix_queries = 0, prefix_hits = 0;
        std::size_t prefix_bytes = 0, prefix_entries = 0;
        // KV rows the running requests hold, and what their slots could hold at the model's context.
        std::int64_t kv_rows = 0, kv_capacity_rows = 0;
        // Submit to first token, between a request's tokens as they are emitted (a verification round's
        // accepted tokens arrive together), submit to end.
        LatencyHistogram time_to_first_token, inter_token, end_to_end;
        std::map<std::string, std::int64_t> finished_by_reason;  // stop reason name -> requests
        std::map<std::string, DecodeStats> per_drafter;          // merged statistics of finished requests
    };
    Metrics metrics() const;

  private:
    struct Running;
    void loop();
    // Rounds until stopping: all requests in one forward, or (overlap) two halves taking turns.
    bool serve_together(std::vector<Running>& running);  // true: switch to the overlapped schedule
    void serve_overlapped(std::vector<Running>& running);
    // Waits until something is queued (or `running`); false when the engine is stopping.
    bool wait_for_work(bool running);
    // Stopping: queued requests and `running` end as cancelled.
    void shutdown(std::vector<Running>& running);
    // Runs `f` in the model's arena when it has one.
    template <typename F>
    void in_arena(F&& f);
    void admit(std::vector<Running>& running, std::size_t others = 0);
    // Finished and cancelled requests leave `running` (none may have a round in flight).
    void leave(std::vector<Running>& running);
    void fail_all(std::vector<Running>& running, const std::string& error);
    void note_running(std::initializer_list<const std::vector<Running>*> groups);  // gauges for metrics()
    // A finished session's cache into the prefix cache, labelled with the tokens its rows hold.
    void keep_prefix(DecodeSession& session, std::span<const std::int32_t> prompt,
                     std::span<const std::int32_t> output);
    // Hands the request its end (and the drafter back to the idle pool).
    void finish(Running& r, DecodeResult* result, const std::string& error = {}, bool input_error = false);
    std::unique_ptr<Drafter> take_drafter(const std::string& name);
    std::shared_ptr<DraftLengthController> controller(const std::string& drafter, int max_k);

    std::shared_ptr<const Qwen3Model> model_;
    EngineCoreOptions opt_;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::shared_ptr<EngineRequest>> queue_;
    bool stopping_ = false;
    int in_flight_ = 0;  // submitted and not finished
    Metrics metrics_;
    // Idle drafters by name: a drafter serves one request at a time and keeps what it learnt across
    // requests (the suffix drafter's trie of earlier answers).
    std::map<std::string, std::vector<std::unique_ptr<Drafter>>> idle_;
    std::map<std::string, std::unique_ptr<Drafter>> prototypes_;  // never decodes; its siblings do
    // k = auto: one controller per drafter and longest draft, shared by its requests so it keeps learning.
    std::map<std::pair<std::string, int>, std::shared_ptr<DraftLengthController>> controllers_;
    std::unique_ptr<PrefixCache> prefix_;             // used by the engine's thread alone
    std::shared_ptr<const JsonTokenMask> json_mask_;  // built at the first structured-output request
    std::thread thread_;
};

}  // namespace ternspec
