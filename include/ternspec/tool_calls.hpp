#pragma once
// Part of the public API (no dependencies beyond the standard library). Tool calls in a model's output, in
// the markup Qwen3's (and Hermes') chat templates teach:
//   <tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>
// read incrementally, so a streaming server can send the text around them as it comes and each call once
// it closes. Text that could still be the start of a "<tool_call>" is held back; a call whose body is not a
// JSON object with a string "name" (and an object or string "arguments") stays text, as the model wrote it.
#include <string>
#include <string_view>
#include <vector>

namespace ternspec {

struct ToolCall {
    std::string name;
    std::string arguments;  // JSON text of an object, as OpenAI's function.arguments carries it
};

class ToolCallParser {
  public:
    // Appends output; returns the text now certain to lie outside any tool call.
    std::string feed(std::string_view text);
    // The output ended: the rest (an unclosed call's markup included) as text.
    std::string finish();
    // The calls completed since the last take, in order.
    std::vector<ToolCall> take_calls();
    int calls_seen() const { return seen_; }

  private:
    std::string buf_;
    bool inside_ = false;
    std::vector<ToolCall> done_;
    int seen_ = 0;
};

}  // namespace ternspec
