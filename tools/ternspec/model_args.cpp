#include "tools/ternspec/model_args.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "runtime/speculative_decoder.hpp"
#include "target/formats/gguf.hpp"
#include "ternspec/error.hpp"
#include "ternspec/text.hpp"
#include "tools/ternspec/output_file.hpp"

namespace ternspec::cli {

Tokenizer load_tokenizer(const std::string& path) {
    namespace fs = std::filesystem;
    if (!fs::exists(path)) throw InputError(path + ": no such file or folder");
    if (fs::is_directory(path))
        return Tokenizer::from_json_file((fs::path(path) / "tokenizer.json").string());
    if (fs::path(path).extension() == ".json") return Tokenizer::from_json_file(path);
    return Tokenizer::from_gguf(GgufFile(path));
}

std::string read_prompt_file(const std::string& path) {
    std::string text = read_input_file(path);
    if (!utf8_valid(text)) {
        spdlog::warn("{}: not valid UTF-8; invalid bytes replaced by U+FFFD", path);
        text = utf8_sanitize(text);
    }
    return text;
}

std::vector<Option> model_options() {
    return {{"model", 'm', "PATH", "GGUF file or Hugging Face folder", ""},
            {"threads", 't', "N", "worker threads (default: all cores)", ""},
            {"quantize", 0, "", "absmean-quantise float weights that are not exactly ternary", ""}};
}

std::vector<Option> structured_output_options() {
    return {{"json-object", 0, "", "structured output: the output is one JSON object", ""},
            {"json-schema",
             0,
             "JSON",
             "structured output: one JSON object this schema allows (llama.cpp's -j)",
             "",
             {"-j"}},
            {"json-schema-file", 0, "FILE", "the same, the schema read from FILE", ""}};
}

std::shared_ptr<const JsonSchema> structured_output_from(const Args& args) {
    if (args.has("json-schema") + args.has("json-schema-file") + args.flag("json-object") > 1)
        throw InputError("give one of --json-object, --json-schema and --json-schema-file");
    if (args.has("json-schema") || args.has("json-schema-file")) {
        const bool file = args.has("json-schema-file");
        return JsonSchema::compile_text(
            file ? read_prompt_file(args.str("json-schema-file")) : args.str("json-schema"),
            file ? "--json-schema-file" : "--json-schema");
    }
    if (args.flag("json-object")) return JsonSchema::any_object();
    return nullptr;
}

std::vector<Option> sampling_options() {
    return {{"temp", 0, "T", "sampling temperature; 0 is greedy", "0"},
            {"top-k", 0, "K", "keep the K most likely tokens (0: off)", "0"},
            {"top-p", 0, "P", "nucleus: smallest set with probability >= P", "1"},
            {"min-p", 0, "P", "drop tokens below P x the top probability", "0"},
            {"repeat-penalty", 0, "X",
             "divide (multiply, when negative) recent tokens' logits by X; 1 is off", "1"},
            {"repeat-last-n", 0, "N", "tokens the penalties look back over (-1: the whole context)", "64"},
            {"presence-penalty", 0, "X",
             "subtract X from the logit of each token seen in that window (-2 to 2)", "0"},
            {"frequency-penalty", 0, "X",
             "subtract X times its count there from each token's logit (-2 to 2)", "0"},
            {"seed", 0, "S", "random seed for sampling", "0", {"-s"}}};
}

std::unique_ptr<tbb::global_control> apply_threads(const Args& args) {
    return limit_threads(args.has("threads") ? static_cast<int>(args.integer("threads", 1, 1024)) : 0);
}

std::unique_ptr<tbb::global_control> limit_threads(int n) {
    if (n <= 0) return nullptr;
    return std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism,
                                                 static_cast<std::size_t>(n));
}

CommandModel open_model(const Args& args) {
    auto threads = apply_threads(args);
    return {std::move(threads), load_model(args)};
}

std::shared_ptr<Qwen3Model> load_model(const Args& args) {
    return load_model(args.str("model"), args.flag("quantize"));
}

std::shared_ptr<Qwen3Model> load_model(const std::string& path, bool quantize) {
    const auto files = ModelFiles::open(path);
    ProgressLine bar("loading " + path);
    ModelLoadOptions lo;
    lo.quantize = quantize;
    lo.progress = [&](int done, int total, const std::string& name) { bar.update(done, total, name); };
    auto m = Qwen3Model::load(files, lo);
    bar.finish();
    spdlog::debug("packed {} weight bytes", m->weight_bytes());
    return m;
}

SamplingParams sampling_from(const Args& args) {
    SamplingParams p;
    p.temperature = static_cast<float>(args.number("temp"));
    p.top_k = static_cast<int>(args.integer("top-k", 0, std::numeric_limits<int>::max()));
    p.top_p = static_cast<float>(args.number("top-p"));
    p.min_p = static_cast<float>(args.number("min-p"));
    p.seed = static_cast<std::uint64_t>(args.integer("seed", 0, std::numeric_limits<long long>::max()));
    p.repeat_penalty = static_cast<float>(args.number("repeat-penalty"));
    p.repeat_last_n = static_cast<int>(args.integer("repeat-last-n", -1, std::numeric_limits<int>::max()));
    p.presence_penalty = static_cast<float>(args.number("presence-penalty"));
    p.frequency_penalty = static_cast<float>(args.number("frequency-penalty"));
    if (p.temperature < 0 || p.top_k < 0 || !(p.top_p > 0 && p.top_p <= 1) || p.min_p < 0 || p.min_p > 1)
        throw InputError(
            "sampling options out of range (temp >= 0, top-k >= 0, 0 < top-p <= 1, 0 <= min-p <= 1)");
    validate(p);  // the library's own check, so the two cannot disagree
    return p;
}

double seconds() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0.0 : v[v.size() / 2];
}

std::string command_line(const std::string& what, int argc, char** argv) {
    std::string out = "ternspec " + what;
    for (int i = 0; i < argc; ++i) out += std::string(" ") + argv[i];
    return out;
}

std::vector<Option> drafter_option_list() {
    return {{"draft-model",
             0,
             "PATH",
             "weights for drafters that have them (NAME=PATH,... for several drafters)",
             "",
             {"-md", "--model-draft"}},
            {"draft-opt", 0, "K=V,...",
             "drafter-specific options (e.g. max_spec_factor=2, eagle_width=4, mtp_width=4)", ""},
            {"mtp-depth", 0, "D", "MTP modules to chain (default: all in --draft-model)", ""}};
}

DrafterOptions drafter_options(const Args& args, const std::string& drafter, const std::string& model_option,
                               bool bare_path_is_mine) {
    DrafterOptions o;
    if (args.has(model_option))
        for (const auto& item : args.str_list(model_option)) {
            const auto eq = item.find('=');
            if (eq == std::string::npos) {
                if (bare_path_is_mine) o.draft_model = item;
            } else if (item.substr(0, eq) == drafter)
                o.draft_model = item.substr(eq + 1);
        }
    if (args.has("draft-opt")) o.add_extra(args.str("draft-opt"), "--draft-opt");
    if (args.has("mtp-depth")) o.extra["mtp_depth"] = args.str("mtp-depth");
    return o;
}

std::vector<PromptLine> read_prompt_lines(const std::string& path, const ChatTemplate* chat,
                                          const ChatOptions& options) {
    std::istringstream in(read_prompt_file(path));
    std::vector<PromptLine> out;
    std::set<std::string> unknown;  // fields no request reads: said once each, not silently dropped
    int line_no = 0;
    for (std::string line; std::getline(in, line);) {
        ++line_no;
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        PromptLine p{line_no, "", ""};
        const auto j = nlohmann::json::parse(line, nullptr, false);
        if (j.is_discarded() || !j.is_object() || !j.contains("prompt") || !j["prompt"].is_string())
            p.error = "needs a JSON object with a \"prompt\" string";
        else if (j["prompt"].get<std::string>().empty())
            p.error = "the prompt is empty";
        else
            p.prompt = chat ? single_turn_prompt(*chat, j["prompt"].get<std::string>(), "", options)
                            : j["prompt"].get<std::string>();
        if (j.is_object()) {
            for (const auto& [k, v] : j.items())
                if (k != "prompt" && unknown.insert(k).second)
                    spdlog::warn(
                        "{}:{}: the field \"{}\" is not understood and is ignored (each line gives "
                        "\"prompt\"; -n, --temp... apply to every request)",
                        path, line_no, k);
        }
        out.push_back(std::move(p));
    }
    if (out.empty()) throw InputError(path + ": no prompts");
    return out;
}

std::vector<std::string> read_prompts_jsonl(const std::string& path) {
    std::vector<std::string> out;
    for (auto& p : read_prompt_lines(path, nullptr)) {
        if (!p.error.empty()) throw InputError(path + ":" + std::to_string(p.line) + ": " + p.error);
        out.push_back(std::move(p.prompt));
    }
    return out;
}

std::string unescape(const std::string& s, const std::string& option) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '\\') {
            out += s[i];
            continue;
        }
        if (++i == s.size()) throw InputError(option + ": a lone backslash at the end (with -e)");
        switch (s[i]) {
            case 'n':
                out += '\n';
                break;
            case 't':
                out += '\t';
                break;
            case 'r':
                out += '\r';
                break;
            case '\\':
                out += '\\';
                break;
            case '"':
                out += '"';
                break;
            case '\'':
                out += '\'';
                break;
            default:
                throw InputError(option + ": unknown escape \\" + std::string(1, s[i]) +
                                 " (with -e: \\n \\t \\r \\\\ \\\" \\')");
        }
    }
    return out;
}

PromptSource prompt_source_from(const Args& args) {
    PromptSource p;
    p.chat = args.flag("chat") || args.flag("conversation");
    for (const char* o : {"system-prompt", "chat-template-file", "chat-template-kwargs"})
        if (args.has(o) && !p.chat)
            throw InputError(std::string("--") + o + " needs --chat (it shapes the chat format)");
    const bool esc = args.flag("escape");
    if (args.has("prompt")) p.prompt = esc ? unescape(args.str("prompt"), "-p") : args.str("prompt");
    if (args.has("file")) p.file = args.str("file");
    if (args.has("system-prompt"))
        p.system = esc ? unescape(args.str("system-prompt"), "--system-prompt") : args.str("system-prompt");
    if (args.has("chat-template-file")) p.template_file = args.str("chat-template-file");
    p.chat_options = chat_options_from(args);
    return p;
}

std::optional<ChatTemplate> chat_template_from(const PromptSource& p, const Qwen3Model& model) {
    if (!p.chat) return std::nullopt;
    std::string source;
    if (!p.template_file.empty()) {
        source = read_prompt_file(p.template_file);
        if (source.empty()) throw InputError(p.template_file + ": the chat template file is empty");
    }
    auto chat = model_chat_template(model, source, p.template_file);
    if (chat.is_builtin()) spdlog::info("the model has no chat template: using Qwen3's ChatML turns");
    return chat;
}

ChatOptions chat_options_from(const Args& args) {
    ChatOptions o;
    if (!args.has("chat-template-kwargs")) return o;
    const auto j = nlohmann::ordered_json::parse(args.str("chat-template-kwargs"), nullptr, false);
    if (j.is_discarded() || !j.is_object())
        throw InputError("--chat-template-kwargs wants a JSON object, e.g. '{\"enable_thinking\":false}'");
    o.extra = j;
    return o;
}

std::string prompt_text(const PromptSource& p, const Qwen3Model& model) {
    if (p.prompt.has_value() == p.file.has_value())
        throw InputError("give exactly one of -p TEXT or -f FILE");
    const std::string text = p.prompt ? *p.prompt : read_prompt_file(*p.file);
    const auto chat = chat_template_from(p, model);
    if (!chat) return text;
    return single_turn_prompt(*chat, text, p.system.value_or(""), p.chat_options);
}

ProgressLine::ProgressLine(std::string label) : label_(std::move(label)), tty_(::isatty(2) != 0) {}

void ProgressLine::update(long long done, long long total, const std::string& what) {
    if (!tty_ || total <= 0) return;
    const int pct = static_cast<int>(100 * done / total);
    if (pct == last_pct_ && done != total) return;
    last_pct_ = pct;
    std::fprintf(stderr, "\r\033[K%s [%3d%%] %lld/%lld %s", label_.c_str(), pct, done, total, what.c_str());
    std::fflush(stderr);
}

void ProgressLine::finish() {
    if (tty_ && last_pct_ >= 0) std::fprintf(stderr, "\r\033[K");
}

}  // namespace ternspec::cli
