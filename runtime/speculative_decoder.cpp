#include "runtime/speculative_decoder.hpp"

#include "runtime/decode_session.hpp"

namespace ternspec {

std::string chat_prompt(const std::string& user_message) {
    return "<|im_start|>user\n" + user_message + "<|im_end|>\n<|im_start|>assistant\n";
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
