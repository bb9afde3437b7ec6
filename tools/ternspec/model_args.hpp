#pragma once
// Helpers shared by the subcommands: loading a tokenizer from whatever path the user gave.
#include <string>

#include "target/tokenizer/tokenizer.hpp"

namespace ternspec::cli {

// A tokenizer.json, an HF folder holding one, or a GGUF file.
Tokenizer load_tokenizer(const std::string& path);

// Reads a whole text file; a file that is not valid UTF-8 is accepted with its invalid bytes replaced by
// U+FFFD and a warning naming the file.
std::string read_prompt_file(const std::string& path);

}  // namespace ternspec::cli
