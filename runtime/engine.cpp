#include "runtime/engine.hpp"

#include <spdlog/spdlog.h>

#include "runtime/cost_model.hpp"
#include "runtime/decode_session.hpp"
#include "ternspec/error.hpp"

namespace ternspec {

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

void EngineCore::admit(std::vector<Running>& running) {
    while (static_cast<int>(running.size()) < opt_.slots) {
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
            if (req->adaptive_k && req->drafter != "none")
                o.adaptive = controller(req->drafter, o.budget.max_depth);
            r.drafter = take_drafter(req->drafter);
            // The callback runs inside consume(), on this thread, while the request lives.
            EngineRequest* q = req.get();
            o.on_token = [q](std::int32_t token, const std::string& piece) {
                {
                    std::lock_guard<std::mutex> lock(q->mu);
                    if (token >= 0) ++q->completion_tokens;
                    q->text += piece;
                }
                q->cv.notify_all();
                return !q->cancelled.load();
            };
            o.on_round = nullptr;
            r.session = std::make_unique<DecodeSession>(model_, r.drafter.get(), req->prompt, o);
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

void EngineCore::loop() {
    std::vector<Running> running;
    for (;;) {
        {
            std::unique_lock<std::mutex> lock(mu_);
            cv_.wait(lock, [&] { return stopping_ || !queue_.empty() || !running.empty(); });
            if (stopping_) {
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
                return;
            }
        }
        admit(running);
        // Leave: finished sessions, and those cancelled since the last round.
        for (std::size_t i = 0; i < running.size();) {
            auto& r = running[i];
            const bool gone = r.request->cancelled.load();
            if (r.session->done() || gone) {
                auto res = r.session->finish();
                if (gone && res.stop_reason == StopReason::None) res.stop_reason = StopReason::Cancelled;
                finish(r, &res);
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
            // Drafting, the forward and verification all run in the model's arena when it has one.
            auto round = [&] {
                std::vector<Qwen3Model::SequenceInput> batch;
                for (auto& r : running) batch.push_back({&r.session->cache(), &r.session->next_input()});
                const auto outs = model_->forward_many(batch);
                for (std::size_t k = 0; k < running.size(); ++k) running[k].session->consume(outs[k]);
            };
            if (opt_.arena)
                opt_.arena->execute(round);
            else
                round();
            std::lock_guard<std::mutex> lock(mu_);
            ++metrics_.rounds;
        } catch (const std::exception& e) {
            // Nothing that reaches here is one request's fault alone: fail the round's requests, keep
            // serving.
            spdlog::error("engine: a round failed: {}", e.what());
            for (auto& r : running) {
                r.session.reset();
                finish(r, nullptr, e.what());
            }
            running.clear();
        }
    }
}

}  // namespace ternspec
