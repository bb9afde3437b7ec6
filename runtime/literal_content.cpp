#include "runtime/literal_content.hpp"

#include "ternspec/error.hpp"

namespace ternspec {
namespace {

// Bytes that never occur in UTF-8, so they cannot collide with any text a client sends (request bodies are
// parsed as UTF-8 JSON).
constexpr char kOpen = '\xFE';
constexpr char kClose = '\xFF';

bool holds_control_text(const nlohmann::ordered_json& messages, const std::vector<std::string>& controls) {
    for (const auto& m : messages) {
        const auto c = m.find("content");
        if (c == m.end() || !c->is_string()) continue;
        const auto& text = c->get_ref<const std::string&>();
        for (const auto& t : controls)
            if (text.find(t) != std::string::npos) return true;
    }
    return false;
}

}  // namespace

ChatPrompt render_chat_prompt(const ChatTemplate& chat, const nlohmann::ordered_json& messages,
                              const ChatOptions& options, const Tokenizer& tokenizer) {
    ChatPrompt out{chat.render(messages, options), {}};
    if (!holds_control_text(messages, tokenizer.control_texts())) return out;
    auto marked = messages;
    for (auto& m : marked)
        if (auto c = m.find("content"); c != m.end() && c->is_string())
            *c = std::string(1, kOpen) + c->get<std::string>() + kClose;
    const std::string with_markers = chat.render(marked, options);
    std::string text;
    text.reserve(with_markers.size());
    std::size_t open_at = std::string::npos;
    bool balanced = true;
    for (const char ch : with_markers) {
        if (ch == kOpen) {
            balanced = balanced && open_at == std::string::npos;
            open_at = text.size();
        } else if (ch == kClose) {
            balanced = balanced && open_at != std::string::npos;
            if (balanced && open_at < text.size()) out.literal.emplace_back(open_at, text.size());
            open_at = std::string::npos;
        } else {
            text += ch;
        }
    }
    if (!balanced || open_at != std::string::npos || text != out.text)
        throw InputError(
            "a message's content holds a control token's text, and the chat template changes content on its "
            "way into the prompt, so it cannot be kept as text; remove the control token text");
    return out;
}

}  // namespace ternspec
