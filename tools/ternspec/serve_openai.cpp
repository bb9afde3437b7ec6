#include "tools/ternspec/serve_openai.hpp"

#include <cmath>
#include <limits>
#include <set>

#include "runtime/literal_content.hpp"
#include "target/model/qwen3_model.hpp"

namespace ternspec::cli {
namespace {

using nlohmann::json;
// Request bodies keep their keys in the order sent: a chat request's messages and tools reach the template
// (and `tools | tojson`) as the client wrote them.
using Body = nlohmann::ordered_json;

// A field's value, or null when absent or JSON null.
const Body* field(const Body& body, const char* name) {
    const auto it = body.find(name);
    return it == body.end() || it->is_null() ? nullptr : &*it;
}

double number(const Body& body, const char* name, double lo, double hi, double fallback) {
    const Body* v = field(body, name);
    if (!v) return fallback;
    if (!v->is_number()) throw ApiError(400, std::string("'") + name + "' must be a number", name);
    const double x = v->get<double>();
    if (!std::isfinite(x) || x < lo || x > hi)
        throw ApiError(400,
                       std::string("'") + name + "' must be between " + std::to_string(lo) + " and " +
                           std::to_string(hi),
                       name);
    return x;
}

long long integer(const Body& body, const char* name, long long lo, long long hi, long long fallback) {
    const Body* v = field(body, name);
    if (!v) return fallback;
    if (!v->is_number_integer()) throw ApiError(400, std::string("'") + name + "' must be an integer", name);
    const auto x = v->get<long long>();
    if (x < lo || x > hi)
        throw ApiError(400,
                       std::string("'") + name + "' must be between " + std::to_string(lo) + " and " +
                           std::to_string(hi),
                       name);
    return x;
}

bool boolean(const Body& body, const char* name, bool fallback) {
    const Body* v = field(body, name);
    if (!v) return fallback;
    if (!v->is_boolean()) throw ApiError(400, std::string("'") + name + "' must be a boolean", name);
    return v->get<bool>();
}

// OpenAI's forms: a string, an array of token ids, or a one-element array holding either (a batch of one).
std::vector<std::int32_t> prompt_ids(const Body& prompt, const Qwen3Model& model) {
    const int vocab = model.config().vocab_size;
    const Body* p = &prompt;
    if (p->is_array() && p->size() > 1 && !(*p)[0].is_number())
        throw ApiError(400, "'prompt': one prompt per request (batches of prompts are not supported)",
                       "prompt");
    if (p->is_array() && p->size() == 1 && ((*p)[0].is_string() || (*p)[0].is_array())) p = &(*p)[0];
    if (p->is_string()) return model.tokenizer().encode(p->get<std::string>());
    if (!p->is_array() || p->empty())
        throw ApiError(400, "'prompt' must be a string or an array of token ids", "prompt");
    std::vector<std::int32_t> ids;
    for (const auto& t : *p) {
        if (!t.is_number_integer() || t.get<long long>() < 0 || t.get<long long>() >= vocab)
            throw ApiError(400, "'prompt' token ids must be integers in [0, " + std::to_string(vocab) + ")",
                           "prompt");
        ids.push_back(t.get<std::int32_t>());
    }
    return ids;
}

// The conversation checked, rendered with the model's chat template and encoded; control-token text inside
// message content stays text unless the server was started with --content-specials. Roles are those of the
// OpenAI API (developer becomes system); text parts are joined; every other field of a message (tool_calls,
// reasoning_content, name...) reaches the template as the client sent it, in its order.
// Whether the model is offered tools: a non-empty `tools` list, and tool_choice other than "none".
bool tools_offered(const Body& body) {
    const auto t = body.find("tools");
    return t != body.end() && t->is_array() && !t->empty() &&
           body.value("tool_choice", Body("auto")) != "none";
}

// The conversation rendered; `literal`: whether control-token text inside content stays text (else the
// prompt is to be encoded with control tokens parsed everywhere).
ChatPrompt chat_render(const Body& body, const ApiLimits& limits, const Tokenizer& tokenizer, bool& literal) {
    const auto& messages = body["messages"];
    if (!messages.is_array() || messages.empty())
        throw ApiError(400, "'messages' must be a non-empty array", "messages");
    auto turns = nlohmann::ordered_json::array();
    for (std::size_t i = 0; i < messages.size(); ++i) {
        auto m = messages[i];
        const std::string where = "messages[" + std::to_string(i) + "]";
        if (!m.is_object() || !m.contains("role") || !m["role"].is_string())
            throw ApiError(400, "'" + where + ".role' must be a string", where + ".role");
        const auto role = m["role"].get<std::string>();
        if (role != "system" && role != "user" && role != "assistant" && role != "developer" &&
            role != "tool")
            throw ApiError(
                400,
                "'" + where + ".role' must be system, developer, user, assistant or tool, not '" + role + "'",
                where + ".role");
        if (role == "developer") m["role"] = "system";
        std::string content;
        const auto c = m.find("content");
        if (c == m.end() || c->is_null()) {
        } else if (c->is_string()) {
            content = c->get<std::string>();
        } else if (c->is_array()) {  // [{"type": "text", "text": ...}]
            for (const auto& part : *c) {
                if (!part.is_object() || !part.contains("type") || part["type"] != "text" ||
                    !part.contains("text") || !part["text"].is_string())
                    throw ApiError(400, "'" + where + ".content': only text parts are supported",
                                   where + ".content");
                content += part["text"].get<std::string>();
            }
        } else {
            throw ApiError(400, "'" + where + ".content' must be a string or an array of text parts",
                           where + ".content");
        }
        m["content"] = content;
        turns.push_back(std::move(m));
    }
    ChatOptions options;
    if (body.contains("tools") && !body["tools"].is_null() && !body["tools"].is_array())
        throw ApiError(400, "'tools' must be an array", "tools");
    // tool_choice "none": the template is not given the tools. Offered to a template that ignores them,
    // they would be dropped without a word: refused.
    if (body.contains("tools") && body["tools"].is_array() &&
        body.value("tool_choice", Body("auto")) != "none")
        options.tools = body["tools"];
    if (tools_offered(body)) {
        try {
            limits.chat->check_renders_tools();
        } catch (const InputError& e) {
            throw ApiError(400, e.what(), "tools");
        }
    }
    if (body.contains("chat_template_kwargs") && !body["chat_template_kwargs"].is_null()) {
        if (!body["chat_template_kwargs"].is_object())
            throw ApiError(400, "'chat_template_kwargs' must be an object", "chat_template_kwargs");
        options.extra = body["chat_template_kwargs"];
    }
    try {
        literal = !limits.content_specials;
        if (!literal) return {limits.chat->render(turns, options), {}};
        return render_chat_prompt(*limits.chat, turns, options, tokenizer);
    } catch (const InputError& e) {
        throw ApiError(400, e.what(), "messages");
    }
}

std::vector<std::int32_t> chat_ids(const Body& body, const ApiLimits& limits, const Tokenizer& tokenizer) {
    bool literal = true;
    const auto prompt = chat_render(body, limits, tokenizer, literal);
    return literal ? encode_chat_prompt(prompt, tokenizer) : tokenizer.encode(prompt.text);
}

}  // namespace

std::string error_body(const ApiError& e) {
    // A message or field name may quote what the client sent: bytes that are not UTF-8 become U+FFFD
    // rather than an exception while answering.
    return json{{"error",
                 {{"message", e.what()},
                  {"type", e.type},
                  {"param", e.param.empty() ? json() : json(e.param)},
                  {"code", e.code.empty() ? json() : json(e.code)}}}}
        .dump(-1, ' ', false, json::error_handler_t::replace);
}

namespace {

// Where the parser is, as a field path ("messages[2].content"), for naming the field a fault is in.
struct JsonPath {
    struct Level {
        bool object;
        std::string key;
        std::size_t index = 0;
    };
    std::vector<Level> levels;
    std::string str() const {
        std::string out;
        for (const auto& l : levels) {
            if (out.size() > 120) return out + "...";
            if (l.object && !l.key.empty())
                out += (out.empty() ? "" : ".") + l.key;
            else if (!l.object)
                out += "[" + std::to_string(l.index) + "]";
        }
        return out;
    }
};

// Parses the body with the nesting limit checked as the parser descends (nlohmann's parser is iterative, but
// copying, comparing and rendering a value recurse, so a deep value must never reach them), and a fault
// named by the field it is in. Error messages never carry the body's bytes (they may not be UTF-8).
Body parse_limited(const std::string& text) {
    JsonPath path;
    auto on_event = [&path](int depth, Body::parse_event_t event, Body& parsed) {
        using E = Body::parse_event_t;
        if (event == E::object_start || event == E::array_start) {
            if (depth >= kMaxJsonDepth)
                throw ApiError(400,
                               "the body nests deeper than " + std::to_string(kMaxJsonDepth) + " levels" +
                                   (path.str().empty() ? "" : " (at '" + path.str() + "')"),
                               path.str());
            path.levels.push_back({event == E::object_start, {}, 0});
        } else if (event == E::key) {
            path.levels.back().key = parsed.get<std::string>();
        } else if (event == E::object_end || event == E::array_end) {
            path.levels.pop_back();
        }
        if ((event == E::value || event == E::object_end || event == E::array_end) && !path.levels.empty() &&
            !path.levels.back().object)
            ++path.levels.back().index;
        return true;
    };
    try {
        return Body::parse(text, on_event);
    } catch (const Body::exception& e) {  // parse_error, and out_of_range for a number past a double
        const std::string what = e.what();
        const std::string where = path.str();
        const std::string at = where.empty() ? "" : " in '" + where + "'";
        if (what.find("UTF-8") != std::string::npos || what.find("surrogate") != std::string::npos)
            throw ApiError(400, "the body is not valid UTF-8" + at, where);
        throw ApiError(400, "the body is not valid JSON" + at + ": " + what, where);
    }
}

// Every field this server reads. A field OpenAI defines that would change the result and that this server
// does not do is refused when it asks for anything but the default; a field nobody defines is refused too
// (as OpenAI does), so that nothing a client asks for is silently dropped.
void check_fields(Endpoint ep, const Body& body) {
    static const std::set<std::string> common = {"model",
                                                 "max_tokens",
                                                 "temperature",
                                                 "top_p",
                                                 "top_k",
                                                 "min_p",
                                                 "seed",
                                                 "stop",
                                                 "stream",
                                                 "stream_options",
                                                 "speculative",
                                                 "n",
                                                 "logprobs",
                                                 "repeat_penalty",
                                                 "repeat_last_n",
                                                 "user",
                                                 "logit_bias",
                                                 "presence_penalty",
                                                 "frequency_penalty",
                                                 "top_logprobs",
                                                 "response_format",
                                                 "json_schema",
                                                 "tool_choice",
                                                 "parallel_tool_calls",
                                                 "best_of",
                                                 "echo",
                                                 "suffix"};
    static const std::set<std::string> chat = {"messages", "max_completion_tokens", "tools",
                                               "chat_template_kwargs"};
    static const std::set<std::string> completions = {"prompt"};
    for (const auto& [key, value] : body.items()) {
        if (!common.count(key) && !(ep == Endpoint::Chat ? chat : completions).count(key))
            throw ApiError(400, "unknown field '" + key + "'", key);
    }
}

Body parse_body(Endpoint ep, const std::string& text) {
    Body body = parse_limited(text);
    if (!body.is_object()) throw ApiError(400, "the body must be a JSON object");
    check_fields(ep, body);
    if (const Body* m = field(body, "model"); m && !m->is_string())
        throw ApiError(400, "'model' must be a string", "model");
    if (integer(body, "n", 1, 1, 1) != 1) throw ApiError(400, "'n' must be 1", "n");
    if (integer(body, "best_of", 1, 1, 1) != 1) throw ApiError(400, "'best_of' must be 1", "best_of");
    if (const Body* lp = field(body, "logprobs");
        lp && !(lp->is_boolean() && !lp->get<bool>()) && !(lp->is_number_integer() && lp->get<int>() == 0))
        throw ApiError(400, "'logprobs' is not supported", "logprobs");
    if (integer(body, "top_logprobs", 0, 0, 0) != 0)
        throw ApiError(400, "'top_logprobs' is not supported", "top_logprobs");
    if (boolean(body, "echo", false)) throw ApiError(400, "'echo' is not supported", "echo");
    if (const Body* b = field(body, "logit_bias"); b && !(b->is_object() && b->empty()))
        throw ApiError(400, "'logit_bias' is not supported", "logit_bias");
    if (const Body* rf = field(body, "response_format"); rf && !rf->is_object())
        throw ApiError(400, "'response_format' must be an object", "response_format");
    if (const Body* tc = field(body, "tool_choice");
        tc && !(tc->is_string() && (*tc == "auto" || *tc == "none" || *tc == "required")) &&
        !(tc->is_object() && tc->value("type", "") == "function" && tc->contains("function") &&
          (*tc)["function"].is_object() && (*tc)["function"].value("name", json()).is_string()))
        throw ApiError(400,
                       "'tool_choice' must be \"auto\", \"none\", \"required\" or {\"type\": \"function\", "
                       "\"function\": {\"name\": ...}}",
                       "tool_choice");
    if (const Body* ptc = field(body, "parallel_tool_calls"); ptc && !(ptc->is_boolean() && ptc->get<bool>()))
        throw ApiError(
            400, "'parallel_tool_calls': only true is supported (every call the model makes is returned)",
            "parallel_tool_calls");
    if (const Body* u = field(body, "user"); u && !u->is_string())
        throw ApiError(400, "'user' must be a string", "user");
    if (const Body* sfx = field(body, "suffix");
        sfx && !(sfx->is_string() && sfx->get<std::string>().empty()))
        throw ApiError(400, "'suffix' is not supported", "suffix");
    return body;
}

// The prompt's ids and the token budget, both checked against the context.
void read_prompt(Endpoint ep, const Body& body, const Qwen3Model& model, const ApiLimits& limits,
                 ServeJob& job) {
    const char* prompt_field = ep == Endpoint::Chat ? "messages" : "prompt";
    if (!body.contains(prompt_field))
        throw ApiError(400, "'" + std::string(prompt_field) + "' is required", prompt_field);
    job.prompt =
        ep == Endpoint::Chat ? chat_ids(body, limits, model.tokenizer()) : prompt_ids(body["prompt"], model);
    if (job.prompt.empty()) throw ApiError(400, "the prompt is empty", prompt_field);
    const int room = limits.context - static_cast<int>(job.prompt.size());
    if (room < 1)
        throw ApiError(400,
                       "the prompt has " + std::to_string(job.prompt.size()) + " tokens; the context is " +
                           std::to_string(limits.context),
                       prompt_field, "invalid_request_error", "context_length_exceeded");
    // OpenAI's default for completions is 16; chat runs to the end of the turn (here: the context).
    const char* mt =
        ep == Endpoint::Chat && field(body, "max_completion_tokens") ? "max_completion_tokens" : "max_tokens";
    const long long max_tokens =
        integer(body, mt, 0, std::numeric_limits<std::int32_t>::max(), ep == Endpoint::Chat ? room : 16);
    if (max_tokens > room)
        throw ApiError(400,
                       "'" + std::string(mt) + "' " + std::to_string(max_tokens) + " plus the prompt's " +
                           std::to_string(job.prompt.size()) + " tokens exceeds the context of " +
                           std::to_string(limits.context),
                       mt, "invalid_request_error", "context_length_exceeded");
    job.options.max_new_tokens = static_cast<int>(max_tokens);
    job.options.context = limits.context;  // serve -c: each request's KV capacity
}

// tool_choice "required" or a named function: the output is one call,
//   <tool_call>\n{"name": ..., "arguments": {...}}\n</tool_call>
// constrained like structured output. With one possible tool its parameters' schema
// is enforced; with several the name is one of theirs and the arguments a JSON object (per-name argument
// schemas would need anyOf), which a function marked strict refuses.
std::shared_ptr<const JsonSchema> read_forced_tool_call(const Body& body) {
    const Body* tc = field(body, "tool_choice");
    if (!tc || (tc->is_string() && *tc != "required")) return nullptr;
    const Body* tools = field(body, "tools");
    if (!tools || !tools->is_array() || tools->empty())
        throw ApiError(400, "'tool_choice' asks for a tool call, but 'tools' offers none", "tool_choice");
    std::vector<const Body*> candidates;
    for (std::size_t i = 0; i < tools->size(); ++i) {
        const Body& t = (*tools)[i];
        const std::string where = "tools[" + std::to_string(i) + "]";
        if (!t.is_object() || t.value("type", "") != "function" || !t.contains("function") ||
            !t["function"].is_object() || !t["function"].value("name", json()).is_string())
            throw ApiError(400,
                           "'" + where + "' must be {\"type\": \"function\", \"function\": {\"name\", ...}}",
                           where);
        if (tc->is_object() && t["function"]["name"] != (*tc)["function"]["name"]) continue;
        candidates.push_back(&t["function"]);
    }
    if (candidates.empty())
        throw ApiError(400, "'tool_choice' names a function that 'tools' does not offer", "tool_choice");
    json names = json::array(), arguments = {{"type", "object"}};
    for (const Body* f : candidates) names.push_back((*f)["name"].get<std::string>());
    if (candidates.size() == 1) {
        if (const auto p = candidates[0]->find("parameters"); p != candidates[0]->end())
            arguments = json::parse(p->dump());
    } else {
        for (const Body* f : candidates)
            if (f->value("strict", false))
                throw ApiError(
                    400,
                    "'tool_choice' \"required\" with several tools enforces the name only; function '" +
                        (*f)["name"].get<std::string>() +
                        "' is strict: name it in tool_choice to have its parameters enforced",
                    "tool_choice");
    }
    const json schema = {{"type", "object"},
                         {"properties", {{"name", {{"enum", names}}}, {"arguments", arguments}}},
                         {"required", {"name", "arguments"}},
                         {"additionalProperties", false}};
    try {
        return JsonSchema::compile(schema, "tools' function parameters", "<tool_call>\n", "\n</tool_call>");
    } catch (const InputError& e) {
        throw ApiError(400, e.what(), "tools");
    }
}

// response_format (OpenAI's text, json_object, json_schema) and llama-server's top-level json_schema.
std::shared_ptr<const JsonSchema> read_response_format(const Body& body) {
    try {
        if (const Body* js = field(body, "json_schema")) {
            if (field(body, "response_format"))
                throw ApiError(400, "give 'response_format' or 'json_schema', not both", "json_schema");
            return JsonSchema::compile(*js, "json_schema");
        }
        const Body* rf = field(body, "response_format");
        if (!rf) return nullptr;
        const std::string type = rf->value("type", "");
        for (const auto& [key, value] : rf->items())
            if (key != "type" && !(key == "json_schema" && type == "json_schema"))
                throw ApiError(400, "'response_format." + key + "' is not a field of its type",
                               "response_format." + key);
        if (type == "text") return nullptr;
        if (type == "json_object") return JsonSchema::any_object();
        if (type != "json_schema")
            throw ApiError(400, "'response_format.type' must be text, json_object or json_schema",
                           "response_format.type");
        const Body* spec = field(*rf, "json_schema");
        if (!spec || !spec->is_object() || !spec->contains("schema"))
            throw ApiError(400, "'response_format.json_schema.schema' is required",
                           "response_format.json_schema");
        for (const auto& [key, value] : spec->items())
            if (key != "name" && key != "schema" && key != "strict" && key != "description")
                throw ApiError(400, "'response_format.json_schema." + key + "' is not supported",
                               "response_format.json_schema." + key);
        return JsonSchema::compile((*spec)["schema"], "response_format.json_schema.schema");
    } catch (const InputError& e) {
        throw ApiError(400, e.what(), "response_format");
    }
}

void read_sampling(const Body& body, SamplingParams& s) {
    s.temperature = static_cast<float>(number(body, "temperature", 0, 2, 1.0));
    s.top_p = static_cast<float>(number(body, "top_p", 1e-9, 1, 1.0));
    s.top_k = static_cast<int>(integer(body, "top_k", 0, std::numeric_limits<std::int32_t>::max(), 0));
    s.min_p = static_cast<float>(number(body, "min_p", 0, 1, 0.0));
    // llama.cpp server's names; vLLM's repetition_penalty is another rule (over prompt and output alike).
    s.repeat_penalty = static_cast<float>(number(body, "repeat_penalty", 1e-3, 100, 1.0));
    s.repeat_last_n = static_cast<int>(integer(body, "repeat_last_n", -1, 1 << 20, 64));
    // OpenAI's names, applied as llama.cpp's server does: over the repeat_last_n window.
    s.presence_penalty = static_cast<float>(number(body, "presence_penalty", -2, 2, 0.0));
    s.frequency_penalty = static_cast<float>(number(body, "frequency_penalty", -2, 2, 0.0));
    s.seed = static_cast<std::uint64_t>(integer(body, "seed", std::numeric_limits<long long>::min(),
                                                std::numeric_limits<long long>::max(), 0));
}

std::vector<std::string> read_stop(const Body& body) {
    const Body* st = field(body, "stop");
    if (!st) return {};
    std::vector<std::string> stop;
    if (st->is_string())
        stop = {st->get<std::string>()};
    else if (st->is_array() && st->size() <= 4 &&
             std::all_of(st->begin(), st->end(), [](const Body& x) { return x.is_string(); }))
        stop = st->get<std::vector<std::string>>();
    else
        throw ApiError(400, "'stop' must be a string or an array of at most 4 strings", "stop");
    std::erase_if(stop, [](const std::string& s) { return s.empty(); });
    return stop;
}

// The speculation extension: {"speculative": {"draft": NAME, "k": K or "auto", "tree": N}}.
void read_speculative(const Body& body, const ApiLimits& limits, const EngineCore& engine, ServeJob& job) {
    auto& budget = job.options.budget;
    job.drafter = limits.default_drafter;
    budget = {limits.default_k_auto ? limits.k_max : limits.default_k, limits.default_tree};
    job.adaptive_k = limits.default_k_auto;
    const Body* sp = field(body, "speculative");
    if (!sp) return;
    if (!sp->is_object()) throw ApiError(400, "'speculative' must be an object", "speculative");
    if (const Body* d = field(*sp, "draft")) {
        if (!d->is_string()) throw ApiError(400, "'speculative.draft' must be a string", "speculative.draft");
        job.drafter = d->get<std::string>();
        if (!engine.has_drafter(job.drafter))
            throw ApiError(400, "'speculative.draft': this server has no drafter '" + job.drafter + "'",
                           "speculative.draft");
    }
    if (const Body* k = field(*sp, "k"); k && k->is_string()) {
        if (k->get<std::string>() != "auto")
            throw ApiError(400, "'speculative.k' must be an integer or \"auto\"", "speculative.k");
        job.adaptive_k = true;
        budget.max_depth = limits.k_max;
    } else if (k) {
        job.adaptive_k = false;
        budget.max_depth = static_cast<int>(integer(*sp, "k", 0, kMaxDraftTokens, budget.max_depth));
    }
    budget.max_nodes = static_cast<int>(integer(*sp, "tree", 0, kMaxDraftTokens, budget.max_nodes));
}

}  // namespace

nlohmann::ordered_json parse_request_body(Endpoint ep, const std::string& text) {
    return parse_body(ep, text);
}

std::vector<std::int32_t> chat_prompt_ids(const nlohmann::ordered_json& body, const ApiLimits& limits,
                                          const Tokenizer& tokenizer) {
    return chat_ids(body, limits, tokenizer);
}

std::string chat_prompt_text(const nlohmann::ordered_json& body, const ApiLimits& limits,
                             const Tokenizer& tokenizer) {
    bool literal = true;
    return chat_render(body, limits, tokenizer, literal).text;
}

nlohmann::ordered_json parse_json_object(const std::string& text, const std::set<std::string>& fields) {
    const Body body = parse_limited(text);
    if (!body.is_object()) throw ApiError(400, "the body must be a JSON object");
    for (const auto& [key, value] : body.items())
        if (!fields.count(key)) throw ApiError(400, "unknown field '" + key + "'", key);
    return body;
}

bool parse_request(Endpoint ep, const std::string& text, const Qwen3Model& model, const ApiLimits& limits,
                   const EngineCore& engine, ServeJob& job) {
    const Body body = parse_body(ep, text);
    read_prompt(ep, body, model, limits, job);
    read_sampling(body, job.options.sampling);
    job.options.stop = read_stop(body);
    job.options.json_schema = read_response_format(body);
    if (auto call = ep == Endpoint::Chat ? read_forced_tool_call(body) : nullptr) {
        if (job.options.json_schema)
            throw ApiError(400, "'response_format' and a forced tool call ('tool_choice') exclude each other",
                           "tool_choice");
        job.options.json_schema = std::move(call);
    }
    read_speculative(body, limits, engine, job);
    job.options.stop_at_eos = true;
    job.parse_tool_calls = ep == Endpoint::Chat && tools_offered(body);
    if (const Body* so = field(body, "stream_options")) {
        if (!so->is_object()) throw ApiError(400, "'stream_options' must be an object", "stream_options");
        job.include_usage = boolean(*so, "include_usage", false);
    }
    return boolean(body, "stream", false);
}

std::string finish_reason(const EngineRequest& job) {
    switch (job.result.stop_reason) {
        case StopReason::Eos:
        case StopReason::StopString:
        case StopReason::Complete:  // structured output: the JSON document closed
            return "stop";
        case StopReason::Cancelled:
            return "cancelled";
        default:
            return "length";
    }
}

json usage_of(const ServeJob& job) {
    return {{"prompt_tokens", job.prompt.size()},
            {"completion_tokens", job.completion_tokens},
            {"total_tokens", static_cast<std::int64_t>(job.prompt.size()) + job.completion_tokens},
            {"prompt_tokens_details", {{"cached_tokens", job.result.stats.cached_prompt_tokens}}},
            {"drafted_tokens", job.result.stats.drafted},
            {"accepted_tokens", job.result.stats.accepted}};
}

json usage_chunk(Endpoint ep, const std::string& id, const std::string& model_id, long created,
                 const ServeJob& job) {
    return {{"id", id},
            {"object", ep == Endpoint::Chat ? "chat.completion.chunk" : "text_completion"},
            {"created", created},
            {"model", model_id},
            {"choices", json::array()},
            {"usage", usage_of(job)}};
}

json response_body(Endpoint ep, const std::string& id, const std::string& model_id, long created,
                   const ServeJob& job, const std::string& text) {
    const json usage = usage_of(job);
    json choice = {{"index", 0}, {"finish_reason", finish_reason(job)}};
    if (ep == Endpoint::Chat && job.parse_tool_calls) {
        ToolCallParser parser;
        std::string content = parser.feed(text);
        content += parser.finish();
        const auto calls = parser.take_calls();
        json message = {{"role", "assistant"}};
        // With calls, text that is only the whitespace around them is no content.
        const bool blank = content.find_first_not_of(" \t\r\n") == std::string::npos;
        message["content"] = calls.empty() || !blank ? json(content) : json();
        if (!calls.empty()) {
            message["tool_calls"] = tool_calls_json(calls, id, 0, false);
            if (choice["finish_reason"] == "stop") choice["finish_reason"] = "tool_calls";
        }
        choice["message"] = message;
    } else if (ep == Endpoint::Chat) {
        choice["message"] = {{"role", "assistant"}, {"content", text}};
    } else
        choice["text"] = text, choice["logprobs"] = nullptr;
    return {{"id", id},
            {"object", ep == Endpoint::Chat ? "chat.completion" : "text_completion"},
            {"created", created},
            {"model", model_id},
            {"choices", json::array({choice})},
            {"usage", usage}};
}

json tool_calls_json(const std::vector<ToolCall>& calls, const std::string& id, int first_index,
                     bool indexed) {
    auto out = json::array();
    for (std::size_t i = 0; i < calls.size(); ++i) {
        const int n = first_index + static_cast<int>(i);
        json call = {{"id", "call_" + id + "_" + std::to_string(n)},
                     {"type", "function"},
                     {"function", {{"name", calls[i].name}, {"arguments", calls[i].arguments}}}};
        if (indexed) call["index"] = n;
        out.push_back(std::move(call));
    }
    return out;
}

json tool_calls_chunk(const std::string& id, const std::string& model_id, long created,
                      const std::vector<ToolCall>& calls, int first_index) {
    json choice = {{"index", 0},
                   {"finish_reason", json()},
                   {"delta", {{"tool_calls", tool_calls_json(calls, id, first_index, true)}}}};
    return {{"id", id},
            {"object", "chat.completion.chunk"},
            {"created", created},
            {"model", model_id},
            {"choices", json::array({choice})}};
}

json stream_chunk(Endpoint ep, const std::string& id, const std::string& model_id, long created,
                  const std::string& piece, const std::string* finish_reason, bool first) {
    json choice = {{"index", 0}, {"finish_reason", finish_reason ? json(*finish_reason) : json()}};
    if (ep == Endpoint::Chat) {
        json delta = json::object();
        if (first) delta["role"] = "assistant";
        if (!piece.empty()) delta["content"] = piece;
        choice["delta"] = delta;
    } else {
        choice["text"] = piece;
        choice["logprobs"] = nullptr;
    }
    return {{"id", id},
            {"object", ep == Endpoint::Chat ? "chat.completion.chunk" : "text_completion"},
            {"created", created},
            {"model", model_id},
            {"choices", json::array({choice})}};
}

}  // namespace ternspec::cli
