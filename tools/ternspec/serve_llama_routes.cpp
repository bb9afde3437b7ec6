#include "tools/ternspec/serve_llama_routes.hpp"

namespace ternspec::cli {
namespace {

using nlohmann::json;
using Body = nlohmann::ordered_json;

bool flag(const Body& body, const char* name, bool fallback) {
    const auto it = body.find(name);
    if (it == body.end() || it->is_null()) return fallback;
    if (!it->is_boolean()) throw ApiError(400, "'" + std::string(name) + "' must be a boolean", name);
    return it->get<bool>();
}

// POST /tokenize: llama-server's {"content", "with_pieces"} or vLLM's {"prompt"} or {"messages", ...}.
json tokenize(const Body& body, const ServerFacts& f) {
    const auto& tok = f.model->tokenizer();
    const int given = static_cast<int>(body.contains("content")) + static_cast<int>(body.contains("prompt")) +
                      static_cast<int>(body.contains("messages"));
    if (given != 1) throw ApiError(400, "give exactly one of 'content', 'prompt' and 'messages'");
    // This tokenizer adds no special tokens of its own (Qwen's have no BOS): either value gives the same ids.
    flag(body, "add_special", false);
    flag(body, "add_special_tokens", true);
    std::vector<std::int32_t> ids;
    if (body.contains("messages")) {
        ids = chat_prompt_ids(body, *f.limits, tok);
    } else {
        const char* field = body.contains("content") ? "content" : "prompt";
        if (!body[field].is_string())
            throw ApiError(400, "'" + std::string(field) + "' must be a string", field);
        ids = tok.encode(body[field].get<std::string>());
    }
    json out = {{"count", ids.size()}, {"max_model_len", f.model->config().context_length}};
    if (flag(body, "with_pieces", false)) {
        auto pieces = json::array();
        for (auto id : ids) pieces.push_back({{"id", id}, {"piece", tok.decode({id})}});
        out["tokens"] = pieces;
    } else {
        out["tokens"] = ids;
    }
    return out;
}

json detokenize(const Body& body, const ServerFacts& f) {
    const auto it = body.find("tokens");
    if (it == body.end() || !it->is_array())
        throw ApiError(400, "'tokens' must be an array of token ids", "tokens");
    const int vocab = f.model->config().vocab_size;
    std::vector<std::int32_t> ids;
    for (std::size_t i = 0; i < it->size(); ++i) {
        const auto& v = (*it)[i];
        if (!v.is_number_integer() || v.get<long long>() < 0 || v.get<long long>() >= vocab)
            throw ApiError(400,
                           "'tokens[" + std::to_string(i) + "]' is not a token id (0 to " +
                               std::to_string(vocab - 1) + ")",
                           "tokens[" + std::to_string(i) + "]");
        ids.push_back(static_cast<std::int32_t>(v.get<long long>()));
    }
    const std::string text = f.model->tokenizer().decode(ids);
    return {{"content", text}, {"prompt", text}};  // llama-server's and vLLM's names
}

}  // namespace

nlohmann::json model_object(const std::string& model_id) {
    return {{"id", model_id}, {"object", "model"}, {"created", 0}, {"owned_by", "ternspec"}};
}

void add_llama_routes(HttpServer& svr, const ServerFacts& f,
                      std::function<void(HttpResponder&, const ApiError&)> send_error) {
    auto post = [&svr, f, send_error](const char* path, std::set<std::string> fields,
                                      std::function<json(const Body&)> answer) {
        svr.route("POST", path, [fields, answer, send_error](const HttpRequest& req, HttpResponder& res) {
            try {
                res.send(200, "application/json", answer(parse_json_object(req.body, fields)).dump());
            } catch (const ApiError& e) {
                send_error(res, e);
            } catch (const InputError& e) {
                send_error(res, ApiError(400, e.what()));
            }
        });
    };
    post("/tokenize",
         {"content", "prompt", "messages", "tools", "chat_template_kwargs", "add_special",
          "add_special_tokens", "with_pieces", "model"},
         [f](const Body& b) { return tokenize(b, f); });
    post("/detokenize", {"tokens", "model"}, [f](const Body& b) { return detokenize(b, f); });
    post("/apply-template", {"messages", "tools", "chat_template_kwargs", "model"}, [f](const Body& b) {
        if (!b.contains("messages")) throw ApiError(400, "'messages' is required", "messages");
        return json{{"prompt", chat_prompt_text(b, *f.limits, f.model->tokenizer())}};
    });
    svr.route("GET", "/props", [f](const HttpRequest&, HttpResponder& res) {
        const json settings = {{"n_ctx", f.limits->context},
                               {"speculative",
                                {{"draft", f.limits->default_drafter},
                                 {"k", f.limits->default_k_auto ? json("auto") : json(f.limits->default_k)},
                                 {"tree", f.limits->default_tree}}}};
        res.send(200, "application/json",
                 json{{"default_generation_settings", settings},
                      {"total_slots", f.slots},
                      {"model_path", f.model_path},
                      {"model_alias", f.model_id},
                      {"chat_template", f.limits->chat->source()},
                      {"build_info", std::string("ternspec ") + TERNSPEC_VERSION},
                      {"modalities", {{"vision", false}, {"audio", false}}}}
                     .dump());
    });
    svr.route("GET", "/slots", [f](const HttpRequest&, HttpResponder& res) {
        // The engine keeps no slot identity: the first `running` slots are shown busy.
        const auto m = f.engine->metrics();
        auto slots = json::array();
        for (int i = 0; i < f.slots; ++i)
            slots.push_back({{"id", i},
                             {"n_ctx", f.limits->context},
                             {"is_processing", i < static_cast<int>(m.running)}});
        res.send(200, "application/json", slots.dump());
    });
    svr.route("GET", "/v1/models/*", [f, send_error](const HttpRequest& req, HttpResponder& res) {
        const std::string id = req.path.substr(req.path.rfind('/') + 1);
        if (id != f.model_id)
            return send_error(res, ApiError(404, "the model '" + id + "' does not exist", "model",
                                            "invalid_request_error", "model_not_found"));
        res.send(200, "application/json", model_object(f.model_id).dump());
    });
}

}  // namespace ternspec::cli
