#pragma once
// Chat message content is the user's text, not markup: a "<|im_end|>" typed into a message must not end the
// turn (role forging). The template renders as usual; when some content holds a control token's text, the
// places the content landed in the prompt are found by rendering again with markers around each content, and
// encoding leaves control tokens inside those places as text.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "chat/chat_template.hpp"
#include "target/tokenizer/tokenizer.hpp"

namespace ternspec {

struct ChatPrompt {
    std::string text;
    std::vector<std::pair<std::size_t, std::size_t>> literal;  // byte ranges of message content in `text`
};

// messages: as ChatTemplate::render takes them, each "content" a string (or absent/null). Throws InputError
// when content holds control-token text and the template changes content on its way into the prompt (the
// markers do not come back as they went in), since its place could then not be told.
ChatPrompt render_chat_prompt(const ChatTemplate& chat, const nlohmann::ordered_json& messages,
                              const ChatOptions& options, const Tokenizer& tokenizer);

// The prompt's ids: control tokens parsed outside the content, kept as text inside it.
inline std::vector<std::int32_t> encode_chat_prompt(const ChatPrompt& prompt, const Tokenizer& tokenizer) {
    return tokenizer.encode_with_literal(prompt.text, prompt.literal);
}

}  // namespace ternspec
