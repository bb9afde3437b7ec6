// A request body is untrusted input: parsing it (nesting limit, field names, UTF-8) and, for a chat request,
// rendering and encoding its messages end in ids or an ApiError / InputError, never a crash, a hang or
// unbounded memory. The first byte picks the endpoint; the rest is the body.
#include <string>

#include "ternspec/error.hpp"
#include "tools/ternspec/serve_openai.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    static const ternspec::Tokenizer tokenizer =
        ternspec::Tokenizer::from_json_file(TERNSPEC_SOURCE_DIR "/models/tern-pystd-7m/tokenizer.json");
    static const ternspec::ChatTemplate chat("");
    const auto ep = data[0] & 1 ? ternspec::cli::Endpoint::Chat : ternspec::cli::Endpoint::Completions;
    const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
    ternspec::cli::ApiLimits limits;
    limits.chat = &chat;
    limits.content_specials = data[0] & 2;
    try {
        const auto body = ternspec::cli::parse_request_body(ep, text);
        if (ep == ternspec::cli::Endpoint::Chat && body.contains("messages"))
            (void)ternspec::cli::chat_prompt_ids(body, limits, tokenizer);
    } catch (const ternspec::cli::ApiError&) {
    } catch (const ternspec::Error&) {
    }
    return 0;
}
