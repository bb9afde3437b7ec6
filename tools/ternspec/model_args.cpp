#include "tools/ternspec/model_args.hpp"

#include <spdlog/spdlog.h>

#include <filesystem>

#include "target/formats/gguf.hpp"
#include "target/io/mapped_file.hpp"
#include "target/tokenizer/utf8.hpp"
#include "ternspec/error.hpp"

namespace ternspec::cli {

Tokenizer load_tokenizer(const std::string& path) {
    namespace fs = std::filesystem;
    if (!fs::exists(path)) throw InputError(path + ": no such file or folder");
    if (fs::is_directory(path)) return Tokenizer::from_json_file((fs::path(path) / "tokenizer.json").string());
    if (fs::path(path).extension() == ".json") return Tokenizer::from_json_file(path);
    return Tokenizer::from_gguf(GgufFile(path));
}

std::string read_prompt_file(const std::string& path) {
    std::string text = read_text_file(path);
    if (!utf8_valid(text)) {
        spdlog::warn("{}: not valid UTF-8; invalid bytes replaced by U+FFFD", path);
        text = utf8_sanitize(text);
    }
    return text;
}

}  // namespace ternspec::cli
