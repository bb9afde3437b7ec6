#include "runtime/engine.hpp"

#include <spdlog/spdlog.h>
#include <tbb/task_group.h>

#include <chrono>

#include "runtime/cost_model.hpp"
#include "runtime/decode_session.hpp"
#include "ternspec/error.hpp"

namespace ternspec {
namespace {

double now() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

void LatencyHistogram::observe(double seconds) {
    const auto at = std::lower_bound(bounds.begin(), bounds.end(), seconds) - bounds.begin();
    ++counts[static_cast<std::size_t>(at)];
    sum += seconds;
    ++count;
}

std::unique_lock<std::mutex> EngineRequest::wait_done() {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return done; });
    return lock;
}

void EngineRequest::throw_if_failed() const {
    if (error.empty()) return;
    if (error_is_input) throw InputError(error);
    throw Error(error);
}

struct EngineCore::Running {
    std::shared_ptr<EngineRequest> request;
    std::unique_ptr<Drafter> drafter;
    std::unique_ptr<DecodeSession> session;
};

EngineCore::EngineCore(std::shared_ptr<const Qwen3Model> model, EngineCoreOptions options)
    : model_(std::move(model)), opt_(std::move(options)) {
    if (opt_.slots < 1)
        throw InputError("engine slots " + std::to_string(opt_.slots) + " must be at least 1");
    if (opt_.max_queue < 0)
        throw InputError("engine max_queue " + std::to_string(opt_.max_queue) + " is negative");
    for (auto& [name, d] : opt_.loaded) {
        if (!opt_.drafters.count(name)) opt_.drafters[name] = {};
        prototypes_[name] = d->sibling();
        idle_[name].push_back(std::move(d));
    }
    opt_.loaded.clear();
    if (opt_.prefix_cache_bytes > 0) prefix_ = std::make_unique<PrefixCache>(opt_.prefix_cache_bytes);
    // vLLM's buckets, with finer ones below 10 ms for a CPU engine's inter-token times.
    metrics_.time_to_first_token =
        LatencyHistogram({0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1,  0.25, 0.5,
                          0.75,  1.0,   2.5,  5.0,  7.5,  10.0, 20.0, 40.0, 80.0, 160.0});
    metrics_.inter_token =
        LatencyHistogram({0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15,
                          0.2,    0.3,   0.4,    0.5,   0.75, 1.0,   2.5,  5.0,   7.5, 10.0});
    metrics_.end_to_end = LatencyHistogram({0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0,
                                            40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0});
    thread_ = std::thread([this] { loop(); });
}

EngineCore::~EngineCore() {
    stop();
}

bool EngineCore::submit(std::shared_ptr<EngineRequest> request) {
    {
        std::lock_guard<std::mutex> lock(mu_);
        // Room for every slot plus max_queue waiting: the queue also holds requests about to be admitted.
        if (stopping_ || in_flight_ >= opt_.slots + opt_.max_queue) return false;
        ++in_flight_;
        request->submitted_at = now();
        queue_.push_back(std::move(request));
    }
    cv_.notify_one();
    return true;
}

void EngineCore::stop() {
    {
        std::lock_guard<std::mutex> lock(mu_);
        stopping_ = true;
    }
    cv_.notify_one();
    if (thread_.joinable()) thread_.join();
}

EngineCore::Metrics EngineCore::metrics() const {
    std::lock_guard<std::mutex> lock(mu_);
    Metrics m = metrics_;
    m.queued = queue_.size();
    return m;
}

std::unique_ptr<Drafter> EngineCore::take_drafter(const std::string& name) {
    if (name == "none") return nullptr;
    if (!has_drafter(name)) throw InputError("drafter '" + name + "' is not offered by this engine");
    auto& idle = idle_[name];
    if (!idle.empty()) {
        auto d = std::move(idle.back());
        idle.pop_back();
        return d;
    }
    // Every slot's drafter of one kind shares what the kind learns across requests (Drafter::sibling).
    auto& proto = prototypes_[name];
    if (proto)
        if (auto s = proto->sibling()) return s;
    auto d = create_drafter(name, opt_.drafters.at(name), model_);
    if (!proto) proto = d->sibling();
    return d;
}

std::shared_ptr<DraftLengthController> EngineCore::controller(const std::string& drafter, int max_k) {
    auto& c = controllers_[{drafter, max_k}];
    if (!c) c = adaptive_controller(*model_, opt_.cost_key, max_k);
    return c;
}

void EngineCore::finish(Running& r, DecodeResult* result, const std::string& error, bool input_error) {
    auto& req = *r.request;
    if (r.drafter) idle_[req.drafter].push_back(std::move(r.drafter));
    const bool cancelled = error.empty() && (!result || result->stop_reason == StopReason::Cancelled);
    const bool completed = error.empty() && !cancelled;
    {
        std::lock_guard<std::mutex> lock(mu_);
        --in_flight_;
        if (!error.empty())
            ++metrics_.requests_failed;
        else if (cancelled)
            ++metrics_.requests_cancelled;
        else
            ++metrics_.requests_finished;
        if (completed) metrics_.per_drafter[req.drafter].merge(result->stats);
        if (error.empty()) {
            metrics_.end_to_end.observe(now() - req.submitted_at);
            ++metrics_.finished_by_reason[stop_reason_name(cancelled ? StopReason::Cancelled
                                                                     : result->stop_reason)];
        }
    }
    {
        std::lock_guard<std::mutex> lock(req.mu);
        req.done = true;
        req.error = error;
        req.error_is_input = input_error;
        if (result) {
            req.result = std::move(*result);
        } else if (error.empty()) {
            req.result.stop_reason = StopReason::Cancelled;
            req.result.text = req.text;
        }
    }
    req.cv.notify_all();
}

void EngineCore::admit(std::vector<Running>& running, std::size_t others) {
    while (running.size() + others < static_cast<std::size_t>(opt_.slots)) {
        std::shared_ptr<EngineRequest> req;
        {
            std::lock_guard<std::mutex> lock(mu_);
            if (queue_.empty()) return;
            req = std::move(queue_.front());
            queue_.pop_front();
        }
        Running r;
        r.request = req;
        try {
            DecodeOptions o = req->options;
            if (req->adaptive_k && (req->own_drafter || req->drafter != "none"))
                o.adaptive = controller(req->own_drafter ? req->own_drafter->name() : req->drafter,
                                        o.budget.max_depth);
            if (!req->own_drafter) r.drafter = take_drafter(req->drafter);
            if (o.json_schema && !o.json_mask) {
                if (!json_mask_)
                    json_mask_ =
                        std::make_shared<JsonTokenMask>(model_->tokenizer(), model_->config().vocab_size);
                o.json_mask = json_mask_;
            }
            // The callback runs inside consume(), on this thread, while the request lives.
            EngineRequest* q = req.get();
            o.on_token = [this, q, user = std::move(o.on_token)](std::int32_t token,
                                                                 const std::string& piece) {
                const bool go = !user || user(token, piece);
                if (token >= 0) {
                    const double t = now();
                    std::lock_guard<std::mutex> lock(mu_);
                    if (q->last_token_at == 0)
                        metrics_.time_to_first_token.observe(t - q->submitted_at);
                    else
                        metrics_.inter_token.observe(t - q->last_token_at);
                    q->last_token_at = t;
                }
                {
                    std::lock_guard<std::mutex> lock(q->mu);
                    if (token >= 0) ++q->completion_tokens;
                    q->text += piece;
                }
                q->cv.notify_all();
                return go && !q->cancelled.load();
            };
            Drafter* drafter = req->own_drafter ? req->own_drafter : r.drafter.get();
            r.session = std::make_unique<DecodeSession>(model_, drafter, req->prompt, o);
            if (prefix_ && (!drafter || drafter->hidden_layers().empty())) {
                const auto hit = prefix_->lookup(req->prompt);
                if (hit.rows > 0) r.session->reuse_prefix(*hit.cache, hit.rows);
                std::lock_guard<std::mutex> lock(mu_);
                metrics_.prefix_queries += static_cast<std::int64_t>(req->prompt.size());
                metrics_.prefix_hits += hit.rows;
            }
        } catch (const InputError& e) {
            finish(r, nullptr, e.what(), true);
            continue;
        } catch (const std::exception& e) {
            finish(r, nullptr, e.what());
            continue;
        }
        running.push_back(std::move(r));
    }
}

void EngineCore::leave(std::vector<Running>& running) {
    for (std::size_t i = 0; i < running.size();) {
        auto& r = running[i];
        const bool gone = r.request->cancelled.load();
        if (r.session->done() || gone) {
            auto res = r.session->finish();
            if (gone && res.stop_reason == StopReason::None) res.stop_reason = StopReason::Cancelled;
            if (prefix_) keep_prefix(*r.session, r.request->prompt, res.tokens);
            finish(r, &res);
            running.erase(running.begin() + static_cast<std::ptrdiff_t>(i));
            continue;
        }
        ++i;
    }
}

void EngineCore::keep_prefix(DecodeSession& session, std::span<const std::int32_t> prompt,
                             std::span<const std::int32_t> output) {
    KvCache cache = session.take_cache();
    // The cache's rows hold the prompt, then the output (all but its last token, never fed to the model).
    std::vector<std::int32_t> tokens(prompt.begin(), prompt.end());
    tokens.insert(tokens.end(), output.begin(), output.end());
    tokens.resize(std::min(tokens.size(), static_cast<std::size_t>(cache.size())));
    // Rows past the output (accepted draft tokens after a stop string) are dropped; a recurrent state
    // cannot drop them, so such a cache is not kept.
    if (cache.size() != static_cast<int>(tokens.size())) {
        if (cache.recurrent_layers() > 0) return;
        cache.truncate(static_cast<int>(tokens.size()));
    }
    prefix_->insert(std::move(tokens), std::move(cache));
    std::lock_guard<std::mutex> lock(mu_);
    metrics_.prefix_bytes = prefix_->bytes();
    metrics_.prefix_entries = prefix_->entries();
}

void EngineCore::note_running(std::initializer_list<const std::vector<Running>*> groups) {
    std::size_t n = 0;
    std::int64_t rows = 0;
    for (const auto* g : groups)
        for (const auto& r : *g) ++n, rows += r.session->cache().size();
    std::lock_guard<std::mutex> lock(mu_);
    metrics_.running = n;
    metrics_.kv_rows = rows;
    metrics_.kv_capacity_rows = static_cast<std::int64_t>(opt_.slots) * model_->config().context_length;
}

void EngineCore::fail_all(std::vector<Running>& running, const std::string& error) {
    // Nothing that reaches here is one request's fault alone: fail the round's requests, keep serving.
    spdlog::error("engine: a round failed: {}", error);
    for (auto& r : running) {
        r.session.reset();
        finish(r, nullptr, error);
    }
    running.clear();
}

bool EngineCore::wait_for_work(bool running) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return stopping_ || !queue_.empty() || running; });
    return !stopping_;
}

void EngineCore::shutdown(std::vector<Running>& running) {
    std::unique_lock<std::mutex> lock(mu_);
    for (auto& q : queue_) q->cancelled = true;
    while (!queue_.empty()) {
        Running r;
        r.request = std::move(queue_.front());
        queue_.pop_front();
        lock.unlock();
        finish(r, nullptr);
        lock.lock();
    }
    lock.unlock();
    for (auto& r : running) {
        auto res = r.session->finish();
        res.stop_reason = StopReason::Cancelled;
        finish(r, &res);
    }
    running.clear();
}

template <typename F>
void EngineCore::in_arena(F&& f) {
    if (opt_.arena)
        opt_.arena->execute(std::forward<F>(f));
    else
        f();
}

namespace {

// Drafts (inside next_input) for every request of `group`; the inputs stay valid until consumed.
template <typename Group>
std::vector<Qwen3Model::SequenceInput> draft_inputs(Group& group) {
    std::vector<Qwen3Model::SequenceInput> batch;
    for (auto& r : group) batch.push_back({&r.session->cache(), &r.session->next_input()});
    return batch;
}

template <typename Group>
void consume(Group& group, const std::vector<ForwardOutput>& outs) {
    for (std::size_t k = 0; k < group.size(); ++k) group[k].session->consume(outs[k]);
}

}  // namespace

bool EngineCore::serve_together(std::vector<Running>& running) {
    double t_draft = 0, t_forward = 0;
    int rounds = 0;
    bool decided = opt_.overlap == Overlap::Off;
    int threads = 1;  // the rounds' arena's: overlap needs two
    in_arena([&] { threads = tbb::this_task_arena::max_concurrency(); });
    for (;;) {
        if (!wait_for_work(!running.empty())) {
            shutdown(running);
            return false;
        }
        admit(running);
        leave(running);
        note_running({&running});
        if (running.empty()) continue;
        const bool can_overlap = threads >= 2 && running.size() >= 2;
        if (opt_.overlap == Overlap::On && can_overlap) return true;
        try {
            double t0 = 0, t1 = 0, t2 = 0;
            in_arena([&] {
                t0 = now();
                const auto batch = draft_inputs(running);
                t1 = now();
                const auto outs = model_->forward_many(batch);
                t2 = now();
                consume(running, outs);
            });
            if (rounds++ > 0) t_draft += t1 - t0, t_forward += t2 - t1;  // the first is mostly prefill
            std::lock_guard<std::mutex> lock(mu_);
            ++metrics_.rounds;
        } catch (const std::exception& e) {
            fail_all(running, e.what());
            continue;
        }
        // Auto: after a few rounds, overlap when hiding the drafting could save more than 10% of a round.
        if (!decided && rounds == 4) {
            decided = true;
            if (can_overlap && t_draft > 0.1 * t_forward) return true;
        }
    }
}

void EngineCore::serve_overlapped(std::vector<Running>& running) {
    {
        std::lock_guard<std::mutex> lock(mu_);
        metrics_.overlapped = true;
    }
    // Two halves take turns: while the target verifies one half's drafts, the other drafts. Requests join
    // and leave only the half with no round in flight.
    std::vector<Running> half[2];
    for (std::size_t i = 0; i < running.size(); ++i) half[i % 2].push_back(std::move(running[i]));
    running.clear();
    std::vector<Qwen3Model::SequenceInput> batch[2];
    bool drafted[2] = {false, false};
    for (;;) {
        if (!wait_for_work(!half[0].empty() || !half[1].empty())) {
            shutdown(half[0]);
            shutdown(half[1]);
            return;
        }
        int d = drafted[0] ? 1 : 0;  // a half with no round in flight drafts next
        int v = 1 - d;
        for (int h : {0, 1})
            if (!drafted[h]) leave(half[h]);
        admit(half[d], half[v].size());
        note_running({&half[0], &half[1]});
        try {
            if (drafted[v]) {
                // Verify v while d drafts.
                std::vector<ForwardOutput> outs;
                in_arena([&] {
                    tbb::task_group tg;
                    tg.run([&] { batch[d] = draft_inputs(half[d]); });
                    outs = model_->forward_many(batch[v]);
                    tg.wait();
                    consume(half[v], outs);
                });
                drafted[v] = false;
                drafted[d] = !half[d].empty();
                batch[v].clear();
            } else {
                // Nothing in flight: draft d alone (v verifies next turn), or with v empty run d's round.
                if (half[d].empty()) std::swap(d, v);
                if (half[d].empty()) continue;
                if (!half[v].empty()) {
                    in_arena([&] { batch[d] = draft_inputs(half[d]); });
                    drafted[d] = true;
                    continue;
                }
                in_arena([&] {
                    const auto b = draft_inputs(half[d]);
                    consume(half[d], model_->forward_many(b));
                });
            }
            std::lock_guard<std::mutex> lock(mu_);
            ++metrics_.rounds;
        } catch (const std::exception& e) {
            fail_all(half[0], e.what());
            fail_all(half[1], e.what());
            drafted[0] = drafted[1] = false;
            batch[0].clear(), batch[1].clear();
        }
    }
}

void EngineCore::loop() {
    std::vector<Running> running;
    if (serve_together(running)) serve_overlapped(running);
}

}  // namespace ternspec
