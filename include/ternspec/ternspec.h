/* ternspec's C API: opaque handles, int status codes and a per-thread last-error string; no exception
 * crosses this boundary. Strings are UTF-8. Free what *_create / ternspec_generate hand out. */
#ifndef TERNSPEC_H
#define TERNSPEC_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum ternspec_status {
    TERNSPEC_OK = 0,
    TERNSPEC_ERROR_FORMAT = 1,  /* a model or tokenizer file is malformed */
    TERNSPEC_ERROR_INPUT = 2,   /* a request the model cannot serve, or a bad argument */
    TERNSPEC_ERROR_INTERNAL = 3 /* anything else (out of memory, ...) */
};

typedef struct ternspec_model ternspec_model;
typedef struct ternspec_session ternspec_session;

typedef struct {
    int max_new_tokens; /* default 128 */
    float temperature;  /* 0: greedy (default) */
    int top_k;          /* 0: off */
    float top_p;        /* default 1 */
    float min_p;        /* default 0 */
    uint64_t seed;      /* default 0 */
    int stop_at_eos;    /* default 1 */
} ternspec_generate_options;

typedef struct {
    int64_t prompt_tokens, emitted, target_forwards, drafted, accepted;
    double acceptance_rate, tau, decode_tokens_per_s, seconds_total;
} ternspec_stats;

/* Called for every emitted token; return 0 to stop generating. */
typedef int (*ternspec_token_callback)(int32_t token, const char* piece, void* user);

const char* ternspec_version(void);
const char* ternspec_last_error(void); /* message of this thread's last failed call, "" if none */

int ternspec_model_load(const char* path, int quantize, ternspec_model** out);
void ternspec_model_free(ternspec_model* model);

/* drafter: "none", "suffix", "ngram"; k: draft length; tree_nodes: 0 for chains; draft_model may be NULL. */
int ternspec_session_create(ternspec_model* model, const char* drafter, int k, int tree_nodes,
                            const char* draft_model, ternspec_session** out);
void ternspec_session_free(ternspec_session* session);

void ternspec_generate_options_init(ternspec_generate_options* options);
/* text_out (may be NULL) receives a string to release with ternspec_string_free; stats_out may be NULL. */
int ternspec_generate(ternspec_session* session, const char* prompt, const ternspec_generate_options* options,
                      ternspec_token_callback callback, void* user, char** text_out,
                      ternspec_stats* stats_out);
void ternspec_string_free(char* s);

#ifdef __cplusplus
}
#endif

#endif /* TERNSPEC_H */
