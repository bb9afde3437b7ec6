#pragma once
// The endpoints beside the OpenAI API that llama-server (and vLLM) clients use: POST /tokenize,
// /detokenize, /apply-template; GET /props, /slots; GET /v1/models/{id}. Bodies are checked field by field
// like the completion endpoints' (an unknown field is a 400 naming it).
#include <memory>
#include <string>

#include "tools/ternspec/http_server.hpp"
#include "tools/ternspec/serve_openai.hpp"

namespace ternspec::cli {

struct ServerFacts {
    std::shared_ptr<const Qwen3Model> model;
    std::string model_id, model_path;
    const ApiLimits* limits = nullptr;
    EngineCore* engine = nullptr;
    int slots = 0;
};

// `send_error` answers an ApiError (and counts it for /metrics).
void add_llama_routes(HttpServer& svr, const ServerFacts& facts,
                      std::function<void(HttpResponder&, const ApiError&)> send_error);

// GET /v1/models' entry for the model.
nlohmann::json model_object(const std::string& model_id);

}  // namespace ternspec::cli
