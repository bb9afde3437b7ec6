#pragma once
// The OpenAI wire format for `ternspec serve`: request bodies of /v1/completions and /v1/chat/completions
// checked field by field into a ServeJob (a wrong type or value is an ApiError naming the field, answered
// with HTTP 4xx and OpenAI's error object), and the response and stream-chunk bodies.
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>
#include <string>

#include "chat/chat_template.hpp"
#include "runtime/engine.hpp"
#include "ternspec/tool_calls.hpp"

namespace ternspec::cli {

struct ApiError : std::runtime_error {
    int status;
    std::string type, param, code;
    ApiError(int status, std::string message, std::string param = {},
             std::string type = "invalid_request_error", std::string code = {})
        : std::runtime_error(std::move(message)),
          status(status),
          type(std::move(type)),
          param(std::move(param)),
          code(std::move(code)) {}
};

// Request bodies nest at most this deep, checked while parsing (before anything walks them recursively).
inline constexpr int kMaxJsonDepth = 64;

// {"error": {"message", "type", "param", "code"}}
std::string error_body(const ApiError& e);

struct ApiLimits {
    int context = 0;  // the model's context: prompt + max_tokens must fit
    std::string default_drafter = "none";
    int default_k = 4, default_tree = 0;
    bool default_k_auto = false;         // -k auto: draft lengths chosen per round from measured costs
    int k_max = 8;                       // the longest draft k = auto may choose
    const ChatTemplate* chat = nullptr;  // renders /v1/chat/completions' messages
    bool content_specials = false;       // control-token text in chat content parsed as control tokens
};

enum class Endpoint { Completions, Chat };

// One HTTP request's job for the engine, with what only the wire format needs.
struct ServeJob : EngineRequest {
    bool include_usage = false;     // stream_options.include_usage: a last chunk with the usage
    bool parse_tool_calls = false;  // a chat with tools offered: <tool_call> markup becomes tool_calls
};

// OpenAI's finish_reason for a finished job: "stop" (end of sequence or a stop string), "length" (the token
// budget or the context), "cancelled".
std::string finish_reason(const EngineRequest& job);

// Parses and checks a request body into `job` (prompt ids, options, drafter, stop strings); returns
// whether the client asked for a stream. `encode` turns text into ids; `has_drafter` says which drafters
// the server offers.
bool parse_request(Endpoint ep, const std::string& body, const Qwen3Model& model, const ApiLimits& limits,
                   const EngineCore& engine, ServeJob& job);

// The steps of parse_request a fuzzer reaches without a model: the body parsed with its nesting limit and
// every field name and unsupported value checked; a chat request's messages rendered and encoded.
nlohmann::ordered_json parse_request_body(Endpoint ep, const std::string& body);
std::vector<std::int32_t> chat_prompt_ids(const nlohmann::ordered_json& body, const ApiLimits& limits,
                                          const Tokenizer& tokenizer);
// A chat body's "messages" (and "tools", "chat_template_kwargs") rendered with the chat template: the prompt
// text /apply-template returns.
std::string chat_prompt_text(const nlohmann::ordered_json& body, const ApiLimits& limits,
                             const Tokenizer& tokenizer);
// A body that must be a JSON object whose fields are all among `fields` (an unknown one is a 400 naming it),
// parsed with the nesting limit.
nlohmann::ordered_json parse_json_object(const std::string& text, const std::set<std::string>& fields);

// The finished job as a response body, and the stream chunks (without the "data: " framing).
nlohmann::json response_body(Endpoint ep, const std::string& id, const std::string& model_id, long created,
                             const ServeJob& job, const std::string& text);
// The usage object (OpenAI's, plus drafted_tokens and accepted_tokens), and the last stream chunk that
// carries it when stream_options.include_usage is set.
nlohmann::json usage_of(const ServeJob& job);
nlohmann::json usage_chunk(Endpoint ep, const std::string& id, const std::string& model_id, long created,
                           const ServeJob& job);
// OpenAI's tool_calls array (with "index" in stream deltas), and a stream chunk carrying calls.
nlohmann::json tool_calls_json(const std::vector<ToolCall>& calls, const std::string& id, int first_index,
                               bool indexed);
nlohmann::json tool_calls_chunk(const std::string& id, const std::string& model_id, long created,
                                const std::vector<ToolCall>& calls, int first_index);
nlohmann::json stream_chunk(Endpoint ep, const std::string& id, const std::string& model_id, long created,
                            const std::string& piece, const std::string* finish_reason, bool first);

}  // namespace ternspec::cli
