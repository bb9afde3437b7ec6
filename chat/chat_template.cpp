#include "chat/chat_template.hpp"

#include "chat/jinja_interpreter.hpp"

namespace ternspec {

const char* ChatTemplate::builtin_source() {
    // Qwen3's turn format for models that ship no template. Tools, when offered, are listed in a system turn
    // (merged with the conversation's own system message) in Qwen3's structure: one JSON signature per line
    // inside <tools></tools>, and the <tool_call> form a call takes (ToolCallParser reads it back).
    return "{%- if tools %}"
           "{{- '<|im_start|>system\\n' }}"
           "{%- if messages and messages[0].role == 'system' %}{{- messages[0].content + '\\n\\n' }}{%- "
           "endif %}"
           "{{- '# Tools\\n\\nThese functions can be called; their signatures, one per line:\\n<tools>' }}"
           "{%- for tool in tools %}{{- '\\n' + (tool | tojson) }}{%- endfor %}"
           "{{- '\\n</tools>\\n\\nTo call a function, reply with a JSON object of its name and arguments "
           "between <tool_call> tags:\\n<tool_call>\\n{\"name\": <function name>, \"arguments\": <arguments "
           "object>}\\n</tool_call><|im_end|>\\n' }}"
           "{%- endif %}"
           "{%- for message in messages %}"
           "{%- if not (tools and loop.first and message.role == 'system') %}"
           "{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' }}"
           "{%- endif %}"
           "{%- endfor %}"
           "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}";
}

namespace {
jinja::Body parse_naming(const std::string& source, const std::string& origin) {
    try {
        return jinja::parse_template(source);
    } catch (const InputError& e) {
        if (origin.empty()) throw;
        throw InputError(origin + ": " + e.what());
    }
}
}  // namespace

ChatTemplate::ChatTemplate(const std::string& source, std::string bos_token, std::string eos_token,
                           std::string origin)
    : source_(source.empty() ? builtin_source() : source),
      builtin_(source.empty()),
      bos_(std::move(bos_token)),
      eos_(std::move(eos_token)),
      origin_(std::move(origin)),
      program_(parse_naming(source_, origin_)) {}

void ChatTemplate::check_renders_tools() const {
    if (source_.find("tools") == std::string::npos)
        throw InputError(
            (origin_.empty() ? std::string("the chat template") : origin_) +
            " does not render tools (it never mentions them): offer none, or use a template that does");
}

std::string ChatTemplate::render(const nlohmann::ordered_json& messages, const ChatOptions& options) const {
    if (!messages.is_array()) throw InputError("chat messages must be a list");
    if (!options.extra.is_null() && !options.extra.is_object())
        throw InputError("chat template variables must be an object");
    jinja::Value vars = jinja::Value::dict();
    auto& v = *vars.object;
    if (options.extra.is_object())
        for (const auto& [k, x] : options.extra.items()) v.set(k, jinja::Value::from_json(x));
    v.set("messages", jinja::Value::from_json(messages));
    v.set("add_generation_prompt", jinja::Value::boolean(options.add_generation_prompt));
    v.set("bos_token", jinja::Value::string(bos_));
    v.set("eos_token", jinja::Value::string(eos_));
    if (!options.tools.is_null()) v.set("tools", jinja::Value::from_json(options.tools));
    if (options.enable_thinking) v.set("enable_thinking", jinja::Value::boolean(*options.enable_thinking));
    try {
        return jinja::render(program_, vars);
    } catch (const InputError& e) {
        if (origin_.empty()) throw;
        throw InputError(origin_ + ": " + e.what());
    }
}

std::string single_turn_prompt(const ChatTemplate& chat, const std::string& user, const std::string& system,
                               const ChatOptions& options) {
    auto messages = nlohmann::ordered_json::array();
    if (!system.empty()) messages.push_back({{"role", "system"}, {"content", system}});
    messages.push_back({{"role", "user"}, {"content", user}});
    return chat.render(messages, options);
}

}  // namespace ternspec
