// The C API: every entry point catches everything and reports through a status and ternspec_last_error().
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <map>
#include <new>
#include <string>

#include "drafters/drafter.hpp"
#include "ternspec/ternspec.h"
#include "ternspec/ternspec.hpp"

struct ternspec_model {
    ternspec::Model model;
};
struct ternspec_session {
    ternspec::Session session;
    std::atomic<bool> cancel{false};
};
struct ternspec_engine {
    ternspec::Engine engine;
};
struct ternspec_request {
    ternspec::Request request;
};

namespace {

thread_local std::string g_last_error;

template <typename Fn>
int guarded(Fn&& fn) {
    try {
        fn();
        g_last_error.clear();
        return TERNSPEC_OK;
    } catch (const ternspec::FormatError& e) {
        g_last_error = e.what();
        return TERNSPEC_ERROR_FORMAT;
    } catch (const ternspec::InputError& e) {
        g_last_error = e.what();
        return TERNSPEC_ERROR_INPUT;
    } catch (const std::exception& e) {
        g_last_error = e.what();
        return TERNSPEC_ERROR_INTERNAL;
    } catch (...) {
        g_last_error = "unknown error";
        return TERNSPEC_ERROR_INTERNAL;
    }
}

int null_argument(const char* what) {
    g_last_error = std::string(what) + " must not be NULL";
    return TERNSPEC_ERROR_INPUT;
}

// A vector into a fixed C array, as much as fits; returns how many entries were copied.
template <class T, class U, std::size_t N>
int copy_capped(const std::vector<T>& from, U (&to)[N]) {
    const std::size_t n = std::min(from.size(), N);
    std::copy(from.begin(), from.begin() + static_cast<std::ptrdiff_t>(n), to);
    return static_cast<int>(n);
}

char* copy_string(const std::string& text) {
    char* s = static_cast<char*>(std::malloc(text.size() + 1));
    if (!s) throw std::bad_alloc();
    std::memcpy(s, text.c_str(), text.size() + 1);
    return s;
}

std::map<std::string, std::string> extra_options(const char* text, const char* what) {
    if (!text) return {};
    ternspec::DrafterOptions parsed;  // the CLI's --draft-opt parser
    parsed.add_extra(text, what);
    return std::move(parsed.extra);
}

// A C stop-reason string that outlives the call.
const char* static_stop_reason(const std::string& r) {
    for (const char* name : {"eos", "stop", "complete", "length", "context", "cancelled"})
        if (r == name) return name;
    return "";
}

ternspec::GenerateOptions generate_options(const ternspec_generate_options& o) {
    ternspec::GenerateOptions g;
    g.max_new_tokens = o.max_new_tokens;
    g.sampling = {o.temperature,
                  o.top_k,
                  o.top_p,
                  o.min_p,
                  o.seed,
                  o.repeat_penalty,
                  o.repeat_last_n,
                  o.presence_penalty,
                  o.frequency_penalty};
    g.stop_at_eos = o.stop_at_eos != 0;
    g.context = o.context;
    if (o.n_stop < 0) throw ternspec::InputError("n_stop " + std::to_string(o.n_stop) + " is negative");
    if (o.n_stop > 0 && !o.stop) throw ternspec::InputError("stop must not be NULL when n_stop is above 0");
    for (int i = 0; i < o.n_stop; ++i) {
        if (!o.stop[i]) throw ternspec::InputError("stop[" + std::to_string(i) + "] is NULL");
        g.stop.emplace_back(o.stop[i]);
    }
    if (o.kv_type != TERNSPEC_KV_F16 && o.kv_type != TERNSPEC_KV_F32)
        throw ternspec::InputError("kv_type " + std::to_string(o.kv_type) +
                                   " is neither TERNSPEC_KV_F16 nor TERNSPEC_KV_F32");
    g.kv_type = o.kv_type == TERNSPEC_KV_F32 ? ternspec::KvCacheType::F32 : ternspec::KvCacheType::F16;
    g.json_object = o.json_object != 0;
    if (o.json_schema) g.json_schema = o.json_schema;
    return g;
}

ternspec_stats stats_of(const ternspec::Result& r) {
    const auto& st = r.stats;
    ternspec_stats c{};
    c.prompt_tokens = st.prompt_tokens;
    c.emitted = st.emitted;
    c.target_forwards = st.target_forwards;
    c.drafted = st.drafted;
    c.accepted = st.accepted;
    c.acceptance_rate = st.acceptance_rate;
    c.tau = st.tau;
    c.decode_tokens_per_s = st.decode_tokens_per_s;
    c.seconds_total = st.seconds_total;
    c.seconds_prefill = st.seconds_prefill;
    c.seconds_draft = st.seconds_draft;
    c.seconds_verify = st.seconds_verify;
    c.n_positions = copy_capped(st.per_position_acceptance, c.per_position_acceptance);
    c.n_histogram = copy_capped(st.accepted_length_histogram, c.accepted_length_histogram);
    c.n_conditional = copy_capped(st.conditional_acceptance, c.conditional_acceptance);
    c.stop_reason = static_stop_reason(r.stop_reason);
    c.cached_prompt_tokens = st.cached_prompt_tokens;
    return c;
}

// ternspec_generate and ternspec_generate_tokens: `run` generates with the options built here.
template <typename Run>
int generate_with(ternspec_session* session, const ternspec_generate_options* options,
                  ternspec_token_callback callback, void* user, char** text_out, ternspec_stats* stats_out,
                  Run&& run) {
    if (text_out) *text_out = nullptr;
    return guarded([&] {
        ternspec_generate_options defaults;
        ternspec_generate_options_init(&defaults);
        const auto& o = options ? *options : defaults;
        ternspec::GenerateOptions g = generate_options(o);
        if (callback)
            g.on_token = [&](std::int32_t t, std::string_view piece) {
                return callback(t, std::string(piece).c_str(), user) != 0;
            };
        if (o.on_round)
            g.on_round = [&](const ternspec::RoundInfo& r) {
                o.on_round(r.drafted, r.accepted, r.draft_seconds, r.verify_seconds, user);
            };
        session->cancel.store(false);
        g.cancel = &session->cancel;
        const auto r = run(g);
        if (text_out) *text_out = copy_string(r.text);
        if (stats_out) *stats_out = stats_of(r);
    });
}

int create_session(ternspec_model* model, const ternspec_session_options& o, ternspec_session** out) {
    if (!model || !out) return null_argument("model and out");
    *out = nullptr;
    return guarded([&] {
        ternspec::DraftOptions d;
        d.drafter = o.drafter ? o.drafter : "none";
        d.k = o.k;
        d.k_auto = o.k_auto != 0;
        d.draft_min = o.draft_min;
        d.tree_nodes = o.tree_nodes;
        if (o.draft_model) d.draft_model = o.draft_model;
        d.extra = extra_options(o.extra, "session option extra");
        *out = new ternspec_session{ternspec::Session(model->model, d)};
    });
}

}  // namespace

extern "C" {

const char* ternspec_version(void) {
    return TERNSPEC_VERSION;
}
const char* ternspec_active_kernels(void) {
    static const std::string kernels = ternspec::active_kernels();
    return kernels.c_str();
}
const char* ternspec_last_error(void) {
    return g_last_error.c_str();
}

void ternspec_load_options_init(ternspec_load_options* o) {
    if (o) *o = {0, 0};
}

int ternspec_model_load_with(const char* path, const ternspec_load_options* options, ternspec_model** out) {
    if (!path || !out) return null_argument("path and out");
    *out = nullptr;
    return guarded([&] {
        ternspec::LoadOptions o;
        if (options) {
            if (options->threads < 0)
                throw ternspec::InputError("load option threads " + std::to_string(options->threads) +
                                           " is negative (0: all cores)");
            o.quantize = options->quantize != 0;
            o.threads = options->threads;
        }
        *out = new ternspec_model{ternspec::Model::load(path, o)};
    });
}

int ternspec_model_load(const char* path, int quantize, ternspec_model** out) {
    ternspec_load_options o{quantize, 0};
    return ternspec_model_load_with(path, &o, out);
}

int ternspec_model_get_info(const ternspec_model* model, ternspec_model_info* out) {
    if (!model || !out) return null_argument("model and out");
    return guarded([&] {
        const auto i = model->model.info();
        *out = {i.vocab_size, i.hidden_size, i.layers,         i.heads,
                i.kv_heads,   i.head_dim,    i.context_length, static_cast<std::uint64_t>(i.weight_bytes)};
    });
}

int ternspec_tokenize(const ternspec_model* model, const char* text, int32_t* ids, size_t capacity,
                      size_t* n_out) {
    if (!model || !text || !n_out) return null_argument("model, text and n_out");
    if (capacity > 0 && !ids) return null_argument("ids (with a capacity above 0)");
    return guarded([&] {
        const auto v = model->model.encode(text);
        *n_out = v.size();
        if (v.size() > capacity)
            throw ternspec::InputError("tokenize: the text has " + std::to_string(v.size()) +
                                       " tokens, more than the capacity of " + std::to_string(capacity));
        if (!v.empty()) std::memcpy(ids, v.data(), v.size() * sizeof(int32_t));
    });
}

int ternspec_detokenize(const ternspec_model* model, const int32_t* ids, size_t n, char** text_out) {
    if (!model || !text_out || (n > 0 && !ids)) return null_argument("model, ids and text_out");
    *text_out = nullptr;
    return guarded([&] {
        const int vocab = model->model.info().vocab_size;
        for (size_t i = 0; i < n; ++i)
            if (ids[i] < 0 || ids[i] >= vocab)
                throw ternspec::InputError("detokenize: ids[" + std::to_string(i) +
                                           "] = " + std::to_string(ids[i]) + " is not a token id (0.." +
                                           std::to_string(vocab - 1) + ")");
        *text_out = copy_string(model->model.decode(std::vector<std::int32_t>(ids, ids + n)));
    });
}

int ternspec_chat_prompt(const ternspec_model* model, const char* user_message, char** text_out) {
    if (!model || !user_message || !text_out) return null_argument("model, user_message and text_out");
    *text_out = nullptr;
    return guarded([&] { *text_out = copy_string(model->model.chat_prompt(user_message)); });
}

void ternspec_model_free(ternspec_model* model) {
    delete model;
}

int ternspec_session_create(ternspec_model* model, const char* drafter, int k, int tree_nodes,
                            const char* draft_model, ternspec_session** out) {
    return create_session(model, {drafter, k, tree_nodes, draft_model, nullptr, 0, 0}, out);
}

void ternspec_session_options_init(ternspec_session_options* o) {
    if (o) *o = {"none", 4, 0, nullptr, nullptr, 0, 0};
}

int ternspec_session_create_with(ternspec_model* model, const ternspec_session_options* options,
                                 ternspec_session** out) {
    if (!options) return null_argument("options");
    return create_session(model, *options, out);
}

void ternspec_session_free(ternspec_session* session) {
    delete session;
}

void ternspec_session_cancel(ternspec_session* session) {
    if (session) session->cancel.store(true);
}

void ternspec_generate_options_init(ternspec_generate_options* o) {
    if (!o) return;
    *o = {128,  0.0f, 0, 1.0f,   0.0f, 0, 1, 1.0f, 64, 0, nullptr, nullptr, 0, TERNSPEC_KV_F16,
          0.0f, 0.0f, 0, nullptr};
}

int ternspec_generate(ternspec_session* session, const char* prompt, const ternspec_generate_options* options,
                      ternspec_token_callback callback, void* user, char** text_out,
                      ternspec_stats* stats_out) {
    if (!session || !prompt) return null_argument("session and prompt");
    return generate_with(
        session, options, callback, user, text_out, stats_out,
        [&](const ternspec::GenerateOptions& g) { return session->session.generate(prompt, g); });
}

int ternspec_generate_tokens(ternspec_session* session, const int32_t* prompt, size_t n_prompt,
                             const ternspec_generate_options* options, ternspec_token_callback callback,
                             void* user, char** text_out, ternspec_stats* stats_out) {
    if (!session || (!prompt && n_prompt > 0)) return null_argument("session and prompt");
    return generate_with(session, options, callback, user, text_out, stats_out,
                         [&](const ternspec::GenerateOptions& g) {
                             return session->session.generate_tokens({prompt, n_prompt}, g);
                         });
}

int ternspec_chat_prompt_messages(const ternspec_model* model, const ternspec_chat_message* messages,
                                  size_t n_messages, const char* tools_json, int add_generation_prompt,
                                  char** text_out) {
    if (!model || !text_out || (n_messages > 0 && !messages))
        return null_argument("model, messages and text_out");
    *text_out = nullptr;
    return guarded([&] {
        std::vector<ternspec::ChatMessage> list;
        for (size_t i = 0; i < n_messages; ++i) {
            if (!messages[i].role || !messages[i].content)
                throw ternspec::InputError("messages[" + std::to_string(i) +
                                           "]: role and content must not be NULL");
            list.push_back({messages[i].role, messages[i].content});
        }
        *text_out =
            copy_string(tools_json ? model->model.chat_prompt(list, tools_json, add_generation_prompt != 0)
                                   : model->model.chat_prompt(list, add_generation_prompt != 0));
    });
}

void ternspec_engine_options_init(ternspec_engine_options* o) {
    if (o) *o = {4, 64, nullptr, 0, 0};
}

int ternspec_engine_create(ternspec_model* model, const ternspec_engine_options* options,
                           ternspec_engine** out) {
    if (!model || !out) return null_argument("model and out");
    *out = nullptr;
    return guarded([&] {
        ternspec_engine_options defaults;
        ternspec_engine_options_init(&defaults);
        const auto& o = options ? *options : defaults;
        if (o.n_drafters < 0 || (o.n_drafters > 0 && !o.drafters))
            throw ternspec::InputError("engine options: drafters must hold n_drafters (" +
                                       std::to_string(o.n_drafters) + ") entries");
        ternspec::EngineOptions e;
        e.slots = o.slots;
        e.max_queue = o.max_queue;
        e.prefix_cache_bytes = o.prefix_cache_bytes;
        for (int i = 0; i < o.n_drafters; ++i) {
            const auto& spec = o.drafters[i];
            if (!spec.drafter)
                throw ternspec::InputError("engine options: drafters[" + std::to_string(i) +
                                           "].drafter is NULL");
            ternspec::DraftOptions d;
            d.drafter = spec.drafter;
            if (spec.draft_model) d.draft_model = spec.draft_model;
            d.extra = extra_options(spec.extra, "engine drafter extra");
            e.drafters.push_back(std::move(d));
        }
        *out = new ternspec_engine{ternspec::Engine(model->model, e)};
    });
}

void ternspec_engine_free(ternspec_engine* engine) {
    delete engine;
}

void ternspec_request_options_init(ternspec_request_options* o) {
    if (!o) return;
    *o = ternspec_request_options{};
    ternspec_generate_options_init(&o->generate);
    o->drafter = "none";
    o->k = 4;
}

int ternspec_engine_submit(ternspec_engine* engine, const char* prompt,
                           const ternspec_request_options* options, ternspec_request** out) {
    if (!engine || !out) return null_argument("engine and out");
    *out = nullptr;
    return guarded([&] {
        ternspec_request_options defaults;
        ternspec_request_options_init(&defaults);
        const auto& o = options ? *options : defaults;
        if (!prompt == !o.prompt_tokens)
            throw ternspec::InputError("give the prompt as text or as prompt_tokens, exactly one of them");
        if (o.generate.on_round)
            throw ternspec::InputError(
                "request options: generate.on_round is not used by the engine (must be NULL)");
        ternspec::RequestOptions r;
        r.generate = generate_options(o.generate);
        r.draft.drafter = o.drafter ? o.drafter : "none";
        r.draft.k = o.k;
        r.draft.k_auto = o.k_auto != 0;
        r.draft.tree_nodes = o.tree_nodes;
        r.draft.draft_min = o.draft_min;
        auto req = prompt ? engine->engine.submit(prompt, r)
                          : engine->engine.submit_tokens({o.prompt_tokens, o.n_prompt_tokens}, r);
        *out = new ternspec_request{std::move(req)};
    });
}

int ternspec_request_next(ternspec_request* request, char** piece_out, int* more_out) {
    if (!request || !piece_out || !more_out) return null_argument("request, piece_out and more_out");
    *piece_out = nullptr;
    return guarded([&] {
        std::string piece;
        *more_out = request->request.next(piece) ? 1 : 0;
        *piece_out = copy_string(piece);
    });
}

int ternspec_request_wait(ternspec_request* request, char** text_out, ternspec_stats* stats_out) {
    if (!request) return null_argument("request");
    if (text_out) *text_out = nullptr;
    return guarded([&] {
        const auto r = request->request.wait();
        if (text_out) *text_out = copy_string(r.text);
        if (stats_out) *stats_out = stats_of(r);
    });
}

void ternspec_request_cancel(ternspec_request* request) {
    if (request) request->request.cancel();
}

void ternspec_request_free(ternspec_request* request) {
    if (!request) return;
    request->request.cancel();
    delete request;
}

void ternspec_string_free(char* s) {
    std::free(s);
}

}  // extern "C"
