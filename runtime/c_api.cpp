// The C API: every entry point catches everything and reports through a status and ternspec_last_error().
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
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

int create_session(ternspec_model* model, const ternspec_session_options& o, ternspec_session** out) {
    if (!model || !out) return null_argument("model and out");
    *out = nullptr;
    return guarded([&] {
        ternspec::DraftOptions d;
        d.drafter = o.drafter ? o.drafter : "none";
        d.k = o.k;
        d.tree_nodes = o.tree_nodes;
        if (o.draft_model) d.draft_model = o.draft_model;
        if (o.extra) {
            ternspec::DrafterOptions parsed;  // the CLI's --draft-opt parser
            parsed.add_extra(o.extra, "session option extra");
            d.extra = std::move(parsed.extra);
        }
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
    return create_session(model, {drafter, k, tree_nodes, draft_model, nullptr}, out);
}

void ternspec_session_options_init(ternspec_session_options* o) {
    if (o) *o = {"none", 4, 0, nullptr, nullptr};
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
    *o = {128, 0.0f, 0, 1.0f, 0.0f, 0, 1, 1.0f, 64, 0, nullptr};
}

int ternspec_generate(ternspec_session* session, const char* prompt, const ternspec_generate_options* options,
                      ternspec_token_callback callback, void* user, char** text_out,
                      ternspec_stats* stats_out) {
    if (!session || !prompt) return null_argument("session and prompt");
    if (text_out) *text_out = nullptr;
    return guarded([&] {
        ternspec_generate_options defaults;
        ternspec_generate_options_init(&defaults);
        const auto& o = options ? *options : defaults;
        ternspec::GenerateOptions g;
        g.max_new_tokens = o.max_new_tokens;
        g.sampling = {o.temperature, o.top_k, o.top_p, o.min_p, o.seed, o.repeat_penalty, o.repeat_last_n};
        g.stop_at_eos = o.stop_at_eos != 0;
        g.context = o.context;
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
        const auto r = session->session.generate(prompt, g);
        if (text_out) *text_out = copy_string(r.text);
        if (stats_out) {
            const auto& st = r.stats;
            ternspec_stats c{st.prompt_tokens,
                             st.emitted,
                             st.target_forwards,
                             st.drafted,
                             st.accepted,
                             st.acceptance_rate,
                             st.tau,
                             st.decode_tokens_per_s,
                             st.seconds_total,
                             st.seconds_prefill,
                             st.seconds_draft,
                             st.seconds_verify,
                             0,
                             {},
                             0,
                             {}};
            c.n_positions = copy_capped(st.per_position_acceptance, c.per_position_acceptance);
            c.n_histogram = copy_capped(st.accepted_length_histogram, c.accepted_length_histogram);
            *stats_out = c;
        }
    });
}

void ternspec_string_free(char* s) {
    std::free(s);
}

}  // extern "C"
