#pragma once
// Renders a parsed chat template. Semantics follow Jinja2 as Hugging Face uses it for chat templates
// (loop scoping, namespaces, macros, Python string methods); anything the template asks for that is not
// implemented fails with an error naming it and the line, never with a silently different prompt.
#include <string>

#include "chat/jinja_syntax.hpp"
#include "chat/jinja_value.hpp"

namespace ternspec::jinja {

// `variables` must be a dict: its entries are the template's globals (messages, add_generation_prompt...).
std::string render(const Body& program, const Value& variables);

}  // namespace ternspec::jinja
