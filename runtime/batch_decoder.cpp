#include "runtime/batch_decoder.hpp"

#include "runtime/decode_session.hpp"

namespace ternspec {

std::vector<DecodeResult> decode_batch(const std::shared_ptr<const Qwen3Model>& model, std::span<const BatchRequest> requests,
                                       const DecodeOptions& options) {
    std::vector<std::unique_ptr<DecodeSession>> sessions;
    for (const auto& r : requests) sessions.push_back(std::make_unique<DecodeSession>(model, r.drafter, r.prompt, options));
    std::vector<DecodeResult> results(requests.size());
    std::vector<bool> finished(requests.size(), false);
    for (;;) {
        std::vector<std::size_t> live;
        std::vector<Qwen3Model::SequenceInput> batch;
        for (std::size_t i = 0; i < sessions.size(); ++i) {
            if (finished[i]) continue;
            if (sessions[i]->done()) {
                results[i] = sessions[i]->finish();
                finished[i] = true;
                continue;
            }
            live.push_back(i);
            batch.push_back({&sessions[i]->cache(), &sessions[i]->next_input()});
        }
        if (live.empty()) break;
        const auto outs = model->forward_many(batch);
        for (std::size_t k = 0; k < live.size(); ++k) sessions[live[k]]->consume(outs[k]);
    }
    return results;
}

}  // namespace ternspec
