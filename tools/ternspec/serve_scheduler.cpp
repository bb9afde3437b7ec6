#include "tools/ternspec/serve_scheduler.hpp"

#include <spdlog/spdlog.h>

#include "runtime/decode_session.hpp"

namespace ternspec::cli {

struct Scheduler::Running {
    std::shared_ptr<ServeJob> job;
    std::unique_ptr<Drafter> drafter;
    std::unique_ptr<DecodeSession> session;
    bool stopped_by_string = false;
};

Scheduler::Scheduler(std::shared_ptr<const Qwen3Model> model, SchedulerOptions options)
    : model_(std::move(model)), opt_(std::move(options)) {
    for (auto& [name, d] : opt_.loaded) {
        prototypes_[name] = d->sibling();
        idle_[name].push_back(std::move(d));
    }
    opt_.loaded.clear();
    thread_ = std::thread([this] { loop(); });
}

Scheduler::~Scheduler() {
    stop();
}

bool Scheduler::submit(std::shared_ptr<ServeJob> job) {
    {
        std::lock_guard<std::mutex> lock(mu_);
        // Room for every slot plus max_queue waiting: the queue also holds jobs about to be admitted.
        if (stopping_ || in_flight_ >= opt_.slots + opt_.max_queue) return false;
        ++in_flight_;
        queue_.push_back(std::move(job));
    }
    cv_.notify_one();
    return true;
}

void Scheduler::stop() {
    {
        std::lock_guard<std::mutex> lock(mu_);
        stopping_ = true;
    }
    cv_.notify_one();
    if (thread_.joinable()) thread_.join();
}

Scheduler::Metrics Scheduler::metrics() const {
    std::lock_guard<std::mutex> lock(mu_);
    Metrics m = metrics_;
    m.queued = queue_.size();
    return m;
}

std::unique_ptr<Drafter> Scheduler::take_drafter(const std::string& name) {
    if (name == "none") return nullptr;
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

void Scheduler::finish(Running& r, const std::string& reason, const std::string& error,
                       const DecodeStats* stats) {
    auto& job = *r.job;
    if (r.drafter) idle_[job.drafter].push_back(std::move(r.drafter));
    {
        std::lock_guard<std::mutex> lock(job.mu);
        job.done = true;
        job.finish_reason = reason;
        job.error = error;
        if (stats) job.stats = *stats;
    }
    job.cv.notify_all();
    std::lock_guard<std::mutex> lock(mu_);
    --in_flight_;
    if (!error.empty())
        ++metrics_.requests_failed;
    else if (reason == "cancelled")
        ++metrics_.requests_cancelled;
    else
        ++metrics_.requests_finished;
    if (stats) metrics_.per_drafter[job.drafter].merge(*stats);
}

void Scheduler::admit(std::vector<Running>& running) {
    while (static_cast<int>(running.size()) < opt_.slots) {
        std::shared_ptr<ServeJob> job;
        {
            std::lock_guard<std::mutex> lock(mu_);
            if (queue_.empty()) return;
            job = std::move(queue_.front());
            queue_.pop_front();
        }
        Running r;
        r.job = job;
        try {
            r.drafter = take_drafter(job->drafter);
            DecodeOptions o = job->options;
            // The callback runs inside consume(), on this thread, while the job lives.
            ServeJob* j = job.get();
            job->output = StopStrings(job->stop);
            o.on_token = [j](std::int32_t, const std::string& piece) {
                bool go;
                {
                    std::lock_guard<std::mutex> lock(j->mu);
                    ++j->completion_tokens;
                    go = j->output.feed(piece);
                    if (!go) j->finish_reason = "stop";
                }
                j->cv.notify_all();
                return go && !j->cancelled.load();
            };
            r.session = std::make_unique<DecodeSession>(model_, r.drafter.get(), job->prompt, o);
        } catch (const std::exception& e) {
            finish(r, "error", e.what());
            continue;
        }
        running.push_back(std::move(r));
    }
}

void Scheduler::loop() {
    std::vector<Running> running;
    for (;;) {
        {
            std::unique_lock<std::mutex> lock(mu_);
            cv_.wait(lock, [&] { return stopping_ || !queue_.empty() || !running.empty(); });
            if (stopping_) {
                for (auto& j : queue_) j->cancelled = true;
                while (!queue_.empty()) {
                    Running r;
                    r.job = std::move(queue_.front());
                    queue_.pop_front();
                    lock.unlock();
                    finish(r, "cancelled");
                    lock.lock();
                }
                lock.unlock();
                for (auto& r : running) finish(r, "cancelled");
                return;
            }
        }
        admit(running);
        // Leave: finished sessions, and those whose client went away.
        for (std::size_t i = 0; i < running.size();) {
            auto& r = running[i];
            const bool gone = r.job->cancelled.load();
            if (r.session->done() || gone) {
                if (gone) {
                    finish(r, "cancelled");
                } else {
                    const auto res = r.session->finish();
                    bool stopped;
                    {
                        std::lock_guard<std::mutex> lock(r.job->mu);
                        stopped = r.job->finish_reason == "stop";
                    }
                    // eos or a stop string: "stop"; the token limit or the context: "length".
                    finish(r, stopped || res.stop_reason == StopReason::Eos ? "stop" : "length", {},
                           &res.stats);
                }
                running.erase(running.begin() + static_cast<std::ptrdiff_t>(i));
                continue;
            }
            ++i;
        }
        {
            std::lock_guard<std::mutex> lock(mu_);
            metrics_.running = running.size();
        }
        if (running.empty()) continue;
        try {
            std::vector<Qwen3Model::SequenceInput> batch;
            for (auto& r : running) batch.push_back({&r.session->cache(), &r.session->next_input()});
            const auto outs = model_->forward_many(batch);
            for (std::size_t k = 0; k < running.size(); ++k) running[k].session->consume(outs[k]);
            std::lock_guard<std::mutex> lock(mu_);
            ++metrics_.rounds;
        } catch (const std::exception& e) {
            // Nothing that reaches here is one request's fault alone: fail the round's requests, keep
            // serving.
            spdlog::error("serve: a round failed: {}", e.what());
            for (auto& r : running) {
                r.session.reset();
                finish(r, "error", e.what());
            }
            running.clear();
        }
    }
}

}  // namespace ternspec::cli
