#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "ternspec/error.hpp"
#include "ternspec/text.hpp"
#include "tools/ternspec/args.hpp"
#include "tools/ternspec/commands.hpp"
#include "tools/ternspec/model_args.hpp"
#include "tools/ternspec/output_file.hpp"

namespace ternspec::cli {

int cmd_tokenize(int argc, char** argv) {
    Args args("tokenize", "-m MODEL|tokenizer.json (-p TEXT | -f FILE) [--json]",
              "Encode text with the model's tokenizer and print the ids separated by spaces.",
              {{"model", 'm', "PATH", "GGUF file, HF folder or tokenizer.json", ""},
               {"prompt", 'p', "TEXT", "text to encode", ""},
               {"file", 'f', "FILE", "encode this file's contents", ""},
               {"no-special", 0, "", "treat special-token text as plain text", ""},
               {"json", 0, "", "print {ids, pieces, count} as JSON", ""},
               json_output_option()});
    if (!args.parse(argc, argv)) return 0;
    // Parsed once; nothing below reads the arguments.
    const JsonOutput json = json_output_from(args);
    if (args.has("prompt") == args.has("file")) throw InputError("give exactly one of -p TEXT or -f FILE");
    const std::string model = args.str("model");
    const std::optional<std::string> prompt = args.opt("prompt"), file = args.opt("file");
    const bool specials = !args.flag("no-special");

    const Tokenizer tok = load_tokenizer(model);
    const std::string text = prompt ? *prompt : read_prompt_file(*file);
    const auto ids = tok.encode(text, specials);
    if (json.json) {
        nlohmann::json pieces = nlohmann::json::array();
        for (auto id : ids) pieces.push_back(utf8_sanitize(tok.token_bytes(id)));
        emit_json(json, nlohmann::json{{"ids", ids}, {"pieces", pieces}, {"count", ids.size()}}.dump());
    } else {
        for (std::size_t i = 0; i < ids.size(); ++i) std::printf(i ? " %d" : "%d", ids[i]);
        std::printf("\n");
    }
    return 0;
}

int cmd_detokenize(int argc, char** argv) {
    Args args("detokenize", "-m MODEL|tokenizer.json [IDS...]",
              "Decode token ids (arguments, or whitespace-separated on standard input) to text.",
              {{"model", 'm', "PATH", "GGUF file, HF folder or tokenizer.json", ""}});
    if (!args.parse(argc, argv, std::numeric_limits<std::size_t>::max())) return 0;
    const std::vector<std::string> words = args.positional();
    const Tokenizer tok = load_tokenizer(args.str("model"));
    std::vector<std::int32_t> ids;
    auto add = [&](const std::string& s) {
        try {
            std::size_t used = 0;
            const long long v = std::stoll(s, &used);
            if (used != s.size() || v < 0 || v >= tok.vocab_size()) throw std::out_of_range(s);
            ids.push_back(static_cast<std::int32_t>(v));
        } catch (const std::exception&) {
            throw InputError("\"" + s + "\" is not a token id of this vocabulary (0.." +
                             std::to_string(tok.vocab_size() - 1) + ")");
        }
    };
    if (!words.empty()) {
        for (const auto& p : words) add(p);
    } else {
        for (std::string s; std::cin >> s;) add(s);
    }
    std::fputs(tok.decode(ids).c_str(), stdout);
    return 0;
}

}  // namespace ternspec::cli
