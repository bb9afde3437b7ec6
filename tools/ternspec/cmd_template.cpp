// `ternspec template`: the prompt a conversation becomes under the model's chat template, as text or
// token ids: what `--chat` and the server's /v1/chat/completions send to the model.
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "target/model/model_files.hpp"
#include "ternspec/error.hpp"
#include "tools/ternspec/args.hpp"
#include "tools/ternspec/commands.hpp"
#include "tools/ternspec/model_args.hpp"

namespace ternspec::cli {

namespace {

nlohmann::ordered_json read_json(const std::string& path, const char* option) {
    const auto j = nlohmann::ordered_json::parse(read_prompt_file(path), nullptr, false);
    if (j.is_discarded()) throw InputError(path + " (" + option + "): not valid JSON");
    return j;
}

}  // namespace

int cmd_template(int argc, char** argv) {
    Args args(
        "template", "(-m MODEL | --chat-template-file FILE) (--messages FILE | -p TEXT [-sys TEXT])",
        "Render a conversation with the model's chat template (or FILE) and print the prompt.",
        {{"model", 'm', "PATH", "GGUF file or Hugging Face folder whose template and tokenizer to use", ""},
         {"chat-template-file", 0, "FILE", "a Jinja chat template instead of the model's", ""},
         {"messages", 0, "FILE",
          "a JSON list of messages, or a chat request object with \"messages\" (and \"tools\")", ""},
         {"prompt", 'p', "TEXT", "one user turn", ""},
         {"system-prompt", 0, "TEXT", "with -p: a system turn first", "", {"-sys"}},
         {"tools", 0, "FILE", "a JSON list of tool definitions for the template", ""},
         {"chat-template-kwargs", 0, "JSON", "further template variables, e.g. '{\"enable_thinking\":false}'",
          ""},
         {"no-generation-prompt", 0, "", "do not open the assistant's turn at the end", ""},
         {"ids", 0, "", "print the token ids (needs -m) instead of the text", ""}});
    if (!args.parse(argc, argv)) return 0;
    // Parsed once; nothing below reads the arguments.
    const std::string model = args.has("model") ? args.str("model") : "";
    const std::string file = args.has("chat-template-file") ? args.str("chat-template-file") : "";
    const std::string messages_file = args.has("messages") ? args.str("messages") : "";
    const std::optional<std::string> prompt = args.opt("prompt");
    const std::string system = args.has("system-prompt") ? args.str("system-prompt") : "";
    const std::string tools_file = args.has("tools") ? args.str("tools") : "";
    const bool print_ids = args.flag("ids");
    ChatOptions options = chat_options_from(args);
    options.add_generation_prompt = !args.flag("no-generation-prompt");
    if (model.empty() && file.empty()) throw InputError("give -m MODEL or --chat-template-file FILE");
    if (messages_file.empty() == !prompt) throw InputError("give exactly one of --messages FILE or -p TEXT");
    if (args.has("system-prompt") && !prompt) throw InputError("--system-prompt goes with -p");
    if (print_ids && model.empty()) throw InputError("--ids needs -m MODEL (its tokenizer)");

    std::optional<ModelFiles> files;
    if (!model.empty()) files.emplace(ModelFiles::open(model));
    const std::string source = file.empty() ? "" : read_prompt_file(file);
    if (!file.empty() && source.empty()) throw InputError(file + ": the chat template file is empty");
    const ChatTemplate chat =
        files ? model_chat_template(files->chat_template(), files->tokenizer(), source, file)
              : ChatTemplate(source, "", "", file);

    nlohmann::ordered_json messages = nlohmann::ordered_json::array();
    if (!messages_file.empty()) {
        auto j = read_json(messages_file, "--messages");
        if (j.is_object()) {
            if (j.contains("tools")) options.tools = j["tools"];
            if (j.contains("chat_template_kwargs")) {
                if (!j["chat_template_kwargs"].is_object())
                    throw InputError(messages_file + ": \"chat_template_kwargs\" must be an object");
                for (const auto& [k, v] : j["chat_template_kwargs"].items()) options.extra[k] = v;
            }
            if (!j.contains("messages")) throw InputError(messages_file + ": the object has no \"messages\"");
            j = j["messages"];
        }
        if (!j.is_array()) throw InputError(messages_file + ": \"messages\" must be a list");
        messages = j;
    }
    if (!tools_file.empty()) options.tools = read_json(tools_file, "--tools");
    if (!options.tools.is_null() && !options.tools.is_array())
        throw InputError("the tools must be a JSON list");

    // -p and -sys: the single turn `--chat` renders, by the same function.
    const std::string text = !messages_file.empty() ? chat.render(messages, options)
                                                    : single_turn_prompt(chat, *prompt, system, options);
    if (print_ids) {
        const auto ids = files->tokenizer().encode(text);
        for (std::size_t i = 0; i < ids.size(); ++i) std::printf(i ? " %d" : "%d", ids[i]);
        std::printf("\n");
    } else {
        std::fwrite(text.data(), 1, text.size(), stdout);
    }
    if (std::fflush(stdout) != 0) throw Error("writing the prompt to standard output failed");
    return 0;
}

}  // namespace ternspec::cli
