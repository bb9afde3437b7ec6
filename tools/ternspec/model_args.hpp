#pragma once
// Helpers the subcommands share: loading tokenizers and models from what the user gave, the common
// options, prompt text, and a progress line for long work.
#include <tbb/global_control.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "drafters/drafter.hpp"
#include "runtime/model_chat_template.hpp"
#include "target/model/qwen3_model.hpp"
#include "target/tokenizer/tokenizer.hpp"
#include "ternspec/error.hpp"
#include "tools/ternspec/args.hpp"
#include "verify/sampler.hpp"

namespace ternspec {
class JsonSchema;
}

namespace ternspec::cli {

// A tokenizer.json, an HF folder holding one, or a GGUF file.
Tokenizer load_tokenizer(const std::string& path);

// A whole text file; invalid UTF-8 is accepted with invalid bytes replaced by U+FFFD and a warning.
std::string read_prompt_file(const std::string& path);

std::vector<Option> model_options();
std::vector<Option> sampling_options();
// --json-object, --json-schema (-j), --json-schema-file: at most one; null without any.
std::vector<Option> structured_output_options();
std::shared_ptr<const JsonSchema> structured_output_from(const Args& args);

// Limits TBB to --threads for the rest of the process.
std::unique_ptr<tbb::global_control> apply_threads(const Args& args);
// The same from a parsed count: n threads while the result lives; 0: no limit (null).
std::unique_ptr<tbb::global_control> limit_threads(int n);

// Loads and packs the model (-m, --quantize), with a progress line on a terminal.
std::shared_ptr<Qwen3Model> load_model(const Args& args);
std::shared_ptr<Qwen3Model> load_model(const std::string& path, bool quantize);

// What a command that runs the model starts with: -t's thread limit, held while the command runs, then the
// model (loaded under it).
struct CommandModel {
    std::unique_ptr<tbb::global_control> threads;
    std::shared_ptr<Qwen3Model> model;
};
CommandModel open_model(const Args& args);
SamplingParams sampling_from(const Args& args);

// Options for drafters: --draft-model (PATH, or NAME=PATH,... when several drafters share a command),
// --draft-opt KEY=VALUE,..., --mtp-depth D. `model_option` names the option that holds the weights' paths.
std::vector<Option> drafter_option_list();
// A bare PATH (no NAME=) belongs to the command's own drafter: `bare_path_is_mine` says whether `drafter` is
// it (serve offers every drafter, and its bare path is its --draft's).
DrafterOptions drafter_options(const Args& args, const std::string& drafter,
                               const std::string& model_option = "draft-model",
                               bool bare_path_is_mine = true);

// Benchmark helpers: a monotonic clock in seconds, and the median of repetitions.
double seconds();
double median(std::vector<double> v);

// "ternspec <what> <args...>", for JSON reports that say what made them.
std::string command_line(const std::string& what, int argc, char** argv);

// The "prompt" fields of a JSONL file, one request per non-empty line; a user turn of `chat` when given.
// One request per line, {"prompt": "..."}; blank lines skipped. A bad line does not sink the file: it
// comes back with its number and what is wrong, for the caller to report while serving the rest.
struct PromptLine {
    int line;
    std::string prompt;
    std::string error;  // empty when the line is good
};
std::vector<PromptLine> read_prompt_lines(const std::string& path, const ChatTemplate* chat,
                                          const ChatOptions& options = {});
// The same, for benchmarks: any bad line is an error naming the file and line.
std::vector<std::string> read_prompts_jsonl(const std::string& path);

// The prompt options (-p, -f, -e, --chat, -cnv, --system-prompt, --chat-template-file,
// --chat-template-kwargs), parsed once: escapes processed, kwargs parsed, chat options without --chat
// refused.
struct PromptSource {
    std::optional<std::string> prompt;  // -p, with -e's escapes processed
    std::optional<std::string> file;    // -f
    std::optional<std::string> system;  // --system-prompt, with -e's escapes processed
    bool chat = false;                  // --chat, or -cnv
    std::string template_file;          // --chat-template-file
    ChatOptions chat_options;           // --chat-template-kwargs
};
PromptSource prompt_source_from(const Args& args);

// With --chat: the model's template, or --chat-template-file's; nothing without --chat.
std::optional<ChatTemplate> chat_template_from(const PromptSource& p, const Qwen3Model& model);
// --chat-template-kwargs as template variables.
ChatOptions chat_options_from(const Args& args);

// -e: \n \t \r \\ \" \' in `s` processed; anything else after a backslash is an error naming `option`.
std::string unescape(const std::string& s, const std::string& option);

// The prompt text from -p or -f (exactly one), rendered as a user turn with --chat.
std::string prompt_text(const PromptSource& p, const Qwen3Model& model);

class ProgressLine {
  public:
    explicit ProgressLine(std::string label);
    void update(long long done, long long total, const std::string& what = "");
    void finish();

  private:
    std::string label_;
    bool tty_;
    int last_pct_ = -1;
};

}  // namespace ternspec::cli
