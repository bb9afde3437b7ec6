#include "runtime/model_chat_template.hpp"

namespace ternspec {

ChatTemplate model_chat_template(const std::string& model_source, const Tokenizer& tok,
                                 const std::string& source_override, const std::string& override_origin) {
    const std::string eos = tok.eos_id() ? tok.piece(*tok.eos_id()) : std::string();
    if (!source_override.empty()) return ChatTemplate(source_override, "", eos, override_origin);
    return ChatTemplate(model_source, "", eos, "the model's chat template");
}

ChatTemplate model_chat_template(const Qwen3Model& model, const std::string& source_override,
                                 const std::string& override_origin) {
    return model_chat_template(model.chat_template(), model.tokenizer(), source_override, override_origin);
}

}  // namespace ternspec
