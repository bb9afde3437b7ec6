// A chat template from a model file is untrusted input: parsing and rendering it (with a conversation that
// has a system turn, tool calls and tools) ends in text or an InputError, never a crash, a hang or
// unbounded memory.
#include <string>

#include "chat/chat_template.hpp"
#include "ternspec/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string source(reinterpret_cast<const char*>(data), size);
    static const auto messages = nlohmann::ordered_json::parse(R"([
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": "<think>\nx\n</think>\n\n",
         "tool_calls": [{"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
        {"role": "tool", "content": "18 C"}])");
    static const auto tools = nlohmann::ordered_json::parse(
        R"([{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}])");
    try {
        ternspec::ChatTemplate chat(source.empty() ? std::string(" ") : source);
        ternspec::ChatOptions options;
        options.tools = tools;
        (void)chat.render(messages, options);
    } catch (const ternspec::Error&) {
    }
    return 0;
}
