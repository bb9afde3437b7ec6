/* ternspec's C API: opaque handles, int status codes and a per-thread last-error string; no exception
 * crosses this boundary. Strings are UTF-8.
 *
 * Ownership: free what *_load / *_create hand out with the matching *_free, and every char* a function
 * returns through an out-parameter with ternspec_string_free. A session keeps its model alive; freeing the
 * model first is allowed.
 * Threads: a model may be used from any number of threads at once (sessions, tokenize, info, chat); a
 * session by one thread at a time, except ternspec_session_cancel, which any thread may call. Callbacks run
 * on the generating thread, before ternspec_generate returns; their string arguments are valid only during
 * the call. ternspec_last_error is per thread. */
#ifndef TERNSPEC_H
#define TERNSPEC_H

#include <stddef.h>
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

#define TERNSPEC_MAX_DRAFT 64 /* the longest draft (and the most tree nodes) a session may ask for */

typedef struct ternspec_model ternspec_model;
typedef struct ternspec_session ternspec_session;

/* Called for every emitted token; return 0 to stop generating. */
typedef int (*ternspec_token_callback)(int32_t token, const char* piece, void* user);
/* Called after each verification round: draft tokens sent, accepted, and the round's seconds. */
typedef void (*ternspec_round_callback)(int drafted, int accepted, double draft_seconds,
                                        double verify_seconds, void* user);

typedef struct {
    int max_new_tokens;               /* default 128 */
    float temperature;                /* 0: greedy (default) */
    int top_k;                        /* 0: off */
    float top_p;                      /* default 1 */
    float min_p;                      /* default 0 */
    uint64_t seed;                    /* default 0 */
    int stop_at_eos;                  /* default 1 */
    float repeat_penalty;             /* llama.cpp's; default 1 (off) */
    int repeat_last_n;                /* default 64; -1: the whole context */
    int context;                      /* KV capacity; 0 (default): the model's context length */
    ternspec_round_callback on_round; /* default NULL; gets the user pointer of ternspec_generate */
} ternspec_generate_options;

typedef struct {
    int64_t prompt_tokens, emitted, target_forwards, drafted, accepted;
    double acceptance_rate, tau, decode_tokens_per_s, seconds_total;
    double seconds_prefill, seconds_draft, seconds_verify;
    /* per_position_acceptance[i]: share of drafts reaching depth i + 1 whose token there was accepted */
    int n_positions;
    double per_position_acceptance[TERNSPEC_MAX_DRAFT];
    /* accepted_length_histogram[n]: verification rounds that accepted n draft tokens */
    int n_histogram;
    int64_t accepted_length_histogram[TERNSPEC_MAX_DRAFT + 1];
} ternspec_stats;

typedef struct {
    int vocab_size, hidden_size, layers, heads, kv_heads, head_dim, context_length;
    uint64_t weight_bytes;
} ternspec_model_info;

typedef struct {
    int quantize; /* absmean-quantise float weights that are not exactly ternary; default 0 */
    int threads;  /* worker threads for this model's work; 0 (default): all cores */
} ternspec_load_options;

typedef struct {
    const char* drafter;     /* "none" (default), "suffix", "ngram", "eagle", "mtp" */
    int k;                   /* draft length, 1..TERNSPEC_MAX_DRAFT; default 4 */
    int tree_nodes;          /* 0 (default): chains; else trees of at most this many nodes */
    const char* draft_model; /* weights folder for "eagle" and "mtp"; default NULL */
    const char* extra;       /* drafter options "key=value,key=value" (e.g. "mtp_depth=2"); default NULL */
} ternspec_session_options;

const char* ternspec_version(void);
const char* ternspec_active_kernels(void); /* "avx512vnni", "avx2" or "scalar" */
const char* ternspec_last_error(void);     /* message of this thread's last failed call, "" if none */

void ternspec_load_options_init(ternspec_load_options* options);
int ternspec_model_load(const char* path, int quantize, ternspec_model** out);
int ternspec_model_load_with(const char* path, const ternspec_load_options* options, ternspec_model** out);
void ternspec_model_free(ternspec_model* model);
int ternspec_model_get_info(const ternspec_model* model, ternspec_model_info* out);

/* ids may be NULL when capacity is 0: *n_out gets the count either way; a capacity below it is
 * TERNSPEC_ERROR_INPUT with nothing written. */
int ternspec_tokenize(const ternspec_model* model, const char* text, int32_t* ids, size_t capacity,
                      size_t* n_out);
int ternspec_detokenize(const ternspec_model* model, const int32_t* ids, size_t n, char** text_out);
/* One user turn in the model's chat template (ChatML when it has none), ready to generate. */
int ternspec_chat_prompt(const ternspec_model* model, const char* user_message, char** text_out);

/* drafter: as in ternspec_session_options; draft_model may be NULL. */
int ternspec_session_create(ternspec_model* model, const char* drafter, int k, int tree_nodes,
                            const char* draft_model, ternspec_session** out);
void ternspec_session_options_init(ternspec_session_options* options);
int ternspec_session_create_with(ternspec_model* model, const ternspec_session_options* options,
                                 ternspec_session** out);
void ternspec_session_free(ternspec_session* session);
/* Stops the session's generation in progress at its next token; a no-op when none runs. */
void ternspec_session_cancel(ternspec_session* session);

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
