// The C API: every entry point catches everything and reports through a status and ternspec_last_error().
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

#include "ternspec/ternspec.h"
#include "ternspec/ternspec.hpp"

struct ternspec_model {
    ternspec::Model model;
};
struct ternspec_session {
    ternspec::Session session;
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

}  // namespace

extern "C" {

const char* ternspec_version(void) {
    return TERNSPEC_VERSION;
}
const char* ternspec_last_error(void) {
    return g_last_error.c_str();
}

int ternspec_model_load(const char* path, int quantize, ternspec_model** out) {
    if (!path || !out) return null_argument("path and out");
    *out = nullptr;
    return guarded([&] {
        ternspec::LoadOptions o;
        o.quantize = quantize != 0;
        *out = new ternspec_model{ternspec::Model::load(path, o)};
    });
}

void ternspec_model_free(ternspec_model* model) {
    delete model;
}

int ternspec_session_create(ternspec_model* model, const char* drafter, int k, int tree_nodes,
                            const char* draft_model, ternspec_session** out) {
    if (!model || !out) return null_argument("model and out");
    *out = nullptr;
    return guarded([&] {
        ternspec::DraftOptions d;
        d.drafter = drafter ? drafter : "none";
        d.k = k;
        d.tree_nodes = tree_nodes;
        if (draft_model) d.draft_model = draft_model;
        *out = new ternspec_session{ternspec::Session(model->model, d)};
    });
}

void ternspec_session_free(ternspec_session* session) {
    delete session;
}

void ternspec_generate_options_init(ternspec_generate_options* o) {
    if (!o) return;
    *o = {128, 0.0f, 0, 1.0f, 0.0f, 0, 1};
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
        g.sampling = {o.temperature, o.top_k, o.top_p, o.min_p, o.seed};
        g.stop_at_eos = o.stop_at_eos != 0;
        if (callback)
            g.on_token = [&](std::int32_t t, std::string_view piece) {
                return callback(t, std::string(piece).c_str(), user) != 0;
            };
        const auto r = session->session.generate(prompt, g);
        if (text_out) {
            char* s = static_cast<char*>(std::malloc(r.text.size() + 1));
            if (!s) throw std::bad_alloc();
            std::memcpy(s, r.text.c_str(), r.text.size() + 1);
            *text_out = s;
        }
        if (stats_out)
            *stats_out = {r.stats.prompt_tokens,
                          r.stats.emitted,
                          r.stats.target_forwards,
                          r.stats.drafted,
                          r.stats.accepted,
                          r.stats.acceptance_rate,
                          r.stats.tau,
                          r.stats.decode_tokens_per_s,
                          r.stats.seconds_total};
    });
}

void ternspec_string_free(char* s) {
    std::free(s);
}

}  // extern "C"
