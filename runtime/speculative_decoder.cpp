#include "runtime/speculative_decoder.hpp"

#include <limits>

#include "runtime/decode_session.hpp"
#include "ternspec/error.hpp"

namespace ternspec {

const char* stop_reason_name(StopReason r) {
    // In StopReason's order.
    static constexpr const char* kNames[] = {"", "eos", "length", "context", "cancelled", "stop", "complete"};
    return kNames[static_cast<std::size_t>(r)];
}

void validate(const DecodeOptions& o) {
    auto range = [](const char* name, int v, int lo, int hi) {
        if (v < lo || v > hi)
            throw InputError(std::string(name) + " " + std::to_string(v) + " is out of range (" +
                             std::to_string(lo) + " to " + std::to_string(hi) + ")");
    };
    range("max_new_tokens", o.max_new_tokens, 0, std::numeric_limits<int>::max());
    range("context", o.context, 0, std::numeric_limits<int>::max());  // 0: the model's
    range("draft length (budget.max_depth)", o.budget.max_depth, 0, kMaxDraftTokens);
    range("draft_min", o.draft_min, 0, kMaxDraftTokens);
    range("tree size (budget.max_nodes)", o.budget.max_nodes, 0, kMaxDraftTokens);
    validate(o.sampling);
}

DecodeResult SpeculativeDecoder::run(std::span<const std::int32_t> prompt, const DecodeOptions& opt) {
    DecodeSession session(model_, drafter_, prompt, opt);
    while (!session.done()) {
        const ForwardInput& in = session.next_input();
        session.consume(model_->forward(session.cache(), in));
    }
    return session.finish();
}

}  // namespace ternspec
