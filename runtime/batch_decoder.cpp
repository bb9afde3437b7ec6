#include "runtime/batch_decoder.hpp"

#include <tbb/task_arena.h>
#include <tbb/task_group.h>

#include <chrono>

#include "runtime/decode_session.hpp"

namespace ternspec {
namespace {

double now() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

using Sessions = std::vector<std::unique_ptr<DecodeSession>>;

// The sessions of `group` that still run; finished ones hand over their result.
std::vector<std::size_t> live(Sessions& s, const std::vector<std::size_t>& group,
                              std::vector<DecodeResult>& results, std::vector<bool>& finished) {
    std::vector<std::size_t> out;
    for (std::size_t i : group) {
        if (finished[i]) continue;
        if (s[i]->done()) {
            results[i] = s[i]->finish();
            finished[i] = true;
        } else {
            out.push_back(i);
        }
    }
    return out;
}

// Drafts (inside next_input) for every session of `group`; the inputs stay valid until consumed.
std::vector<Qwen3Model::SequenceInput> draft(Sessions& s, const std::vector<std::size_t>& group) {
    std::vector<Qwen3Model::SequenceInput> batch;
    for (std::size_t i : group) batch.push_back({&s[i]->cache(), &s[i]->next_input()});
    return batch;
}

void consume(Sessions& s, const std::vector<std::size_t>& group, const std::vector<ForwardOutput>& outs) {
    for (std::size_t k = 0; k < group.size(); ++k) s[group[k]]->consume(outs[k]);
}

}  // namespace

std::vector<DecodeResult> decode_batch(const std::shared_ptr<const Qwen3Model>& model,
                                       std::span<const BatchRequest> requests, const DecodeOptions& options,
                                       Overlap overlap, BatchReport* report) {
    Sessions sessions;
    for (const auto& r : requests)
        sessions.push_back(
            std::make_unique<DecodeSession>(model, r.drafter, r.prompt, r.options ? *r.options : options));
    std::vector<DecodeResult> results(requests.size());
    std::vector<bool> finished(requests.size(), false);
    std::vector<std::size_t> all(requests.size());
    for (std::size_t i = 0; i < all.size(); ++i) all[i] = i;
    BatchReport rep;
    // Prefill, then sequential rounds (all sessions draft, one forward) until overlap is chosen.
    bool overlap_now = overlap == Overlap::On;
    const bool can_overlap = requests.size() >= 2 && tbb::this_task_arena::max_concurrency() >= 2;
    double t_draft = 0, t_forward = 0;
    while (!overlap_now || !can_overlap) {
        const auto group = live(sessions, all, results, finished);
        if (group.empty()) break;
        const double t0 = now();
        const auto batch = draft(sessions, group);
        const double t1 = now();
        const auto outs = model->forward_many(batch);
        const double t2 = now();
        consume(sessions, group, outs);
        if (rep.rounds++ > 0) t_draft += t1 - t0, t_forward += t2 - t1;  // round 0 is the prefill
        // Auto: after a few rounds, overlap when hiding the drafting could save more than 10% of a round.
        if (overlap == Overlap::Auto && rep.rounds == 4 && can_overlap)
            overlap_now = t_draft > 0.1 * t_forward;
    }
    if (overlap_now && can_overlap) {
        rep.overlapped = true;
        std::vector<std::size_t> half[2];
        for (std::size_t i = 0; i < all.size(); ++i) half[i % 2].push_back(i);
        std::vector<std::size_t> group[2] = {live(sessions, half[0], results, finished),
                                             live(sessions, half[1], results, finished)};
        auto batch0 = draft(sessions, group[0]);
        std::vector<Qwen3Model::SequenceInput> batch[2] = {std::move(batch0), {}};
        for (int turn = 0; !group[0].empty() || !group[1].empty(); turn ^= 1) {
            const int a = turn, b = turn ^ 1;
            // Half a's drafts are ready: verify them while half b drafts.
            std::vector<ForwardOutput> outs;
            tbb::task_group tg;
            tg.run([&] { batch[b] = draft(sessions, group[b]); });
            if (!group[a].empty()) outs = model->forward_many(batch[a]);
            tg.wait();
            if (!group[a].empty()) ++rep.rounds;
            consume(sessions, group[a], outs);
            group[a] = live(sessions, group[a], results, finished);
            batch[a].clear();
            if (group[b].empty() && !group[a].empty()) batch[a] = draft(sessions, group[a]), turn ^= 1;
        }
    }
    live(sessions, all, results, finished);
    if (report) *report = rep;
    return results;
}

}  // namespace ternspec
