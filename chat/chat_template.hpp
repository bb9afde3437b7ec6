#pragma once
// A model's chat template (tokenizer_config.json `chat_template`, chat_template.jinja, or GGUF
// `tokenizer.chat_template`) turned into the prompt text for a conversation, as transformers'
// apply_chat_template would. A model without one gets Qwen3's ChatML turns, said in `source()`. Generic: its
// own library (ternspec_chat), needing neither a model nor a tokenizer (runtime/model_chat_template.hpp
// ties a template to a model).
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "chat/jinja_syntax.hpp"

namespace ternspec {

struct ChatOptions {
    bool add_generation_prompt = true;
    std::optional<bool> enable_thinking;  // Qwen3's switch; unset: the template's default
    nlohmann::ordered_json tools;         // null or a list of tool definitions
    nlohmann::ordered_json extra;         // further template variables (chat_template_kwargs), an object
};

class ChatTemplate {
  public:
    // Parses now: a template outside the supported subset fails here, naming its line. An empty source
    // means the built-in ChatML template.
    // `origin` (a file name, "the model's chat template") starts every error message.
    explicit ChatTemplate(const std::string& source, std::string bos_token = {}, std::string eos_token = {},
                          std::string origin = {});

    // messages: a list of {"role", "content", ...} objects, passed to the template as they are.
    std::string render(const nlohmann::ordered_json& messages, const ChatOptions& options = {}) const;
    bool is_builtin() const { return builtin_; }
    // InputError when the template never mentions `tools`: it would render a conversation without the tools
    // offered (as transformers does, silently). Callers that promise tools to a model check first.
    void check_renders_tools() const;
    const std::string& source() const { return source_; }

    static const char* builtin_source();

  private:
    std::string source_;
    bool builtin_ = false;
    std::string bos_, eos_, origin_;
    jinja::Body program_;
};

// One user turn (after a system turn when `system` is not empty), rendered with the generation prompt.
std::string single_turn_prompt(const ChatTemplate& chat, const std::string& user,
                               const std::string& system = {}, const ChatOptions& options = {});

}  // namespace ternspec
