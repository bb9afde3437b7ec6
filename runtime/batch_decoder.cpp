#include "runtime/batch_decoder.hpp"

namespace ternspec {

std::vector<DecodeResult> decode_batch(const std::shared_ptr<const Qwen3Model>& model,
                                       std::span<const BatchRequest> requests, const DecodeOptions& options,
                                       Overlap overlap, BatchReport* report, tbb::task_arena* arena) {
    if (requests.empty()) return {};
    std::vector<std::shared_ptr<EngineRequest>> reqs;
    for (const auto& r : requests) {
        auto q = std::make_shared<EngineRequest>();
        q->prompt = r.prompt;
        q->options = r.options ? *r.options : options;
        check_request(*model, q->options, q->prompt);  // a bad request fails the batch before it runs
        q->own_drafter = r.drafter;
        reqs.push_back(std::move(q));
    }
    EngineCoreOptions eo;
    eo.slots = static_cast<int>(requests.size());
    eo.max_queue = 0;
    eo.arena = arena;
    eo.overlap = overlap;
    EngineCore engine(model, std::move(eo));
    for (const auto& q : reqs) engine.submit(q);  // room for every one: a slot each
    std::vector<DecodeResult> out;
    for (const auto& q : reqs) {
        const auto lock = q->wait_done();
        q->throw_if_failed();
        out.push_back(std::move(q->result));
    }
    const auto m = engine.metrics();
    if (report) *report = {m.overlapped, static_cast<int>(m.rounds)};
    return out;
}

}  // namespace ternspec
