#pragma once
// A model's chat template with its tokenizer's end-of-sequence text: what ties the generic chat module
// (chat/) to a loaded model or tokenizer.
#include <string>

#include "chat/chat_template.hpp"
#include "target/model/qwen3_model.hpp"

namespace ternspec {

// The model's own template (or `source_override`, e.g. --chat-template-file), with its end-of-sequence
// token text as `eos_token`.
ChatTemplate model_chat_template(const Qwen3Model& model, const std::string& source_override = {},
                                 const std::string& override_origin = {});
// The same from a template's text and its tokenizer, without loading the weights.
ChatTemplate model_chat_template(const std::string& model_source, const Tokenizer& tokenizer,
                                 const std::string& source_override = {},
                                 const std::string& override_origin = {});

}  // namespace ternspec
