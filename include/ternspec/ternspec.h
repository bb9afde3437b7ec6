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

/* Called for every emitted token with the text it makes visible (held back while UTF-8 is incomplete or it
 * could become a stop string, so it may be ""); return 0 to stop generating. When generation ends, text
 * still held back comes in one last call with token -1 (its return value unused): the pieces add up to the
 * result's text. */
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
    /* Stop strings: the text ends before the first one found (stop reason "stop"). Default none. */
    const char* const* stop;
    int n_stop;
    int kv_type;             /* TERNSPEC_KV_F16 (default) or TERNSPEC_KV_F32 */
    float presence_penalty;  /* OpenAI's, over the repeat_last_n window; default 0 (off) */
    float frequency_penalty; /* the same; default 0 (off) */
    int json_object;         /* 1: the output is one JSON object (see GenerateOptions in ternspec.hpp) */
    const char* json_schema; /* or the JSON text of a schema it must satisfy; default NULL */
} ternspec_generate_options;

enum ternspec_kv_type { TERNSPEC_KV_F16 = 0, TERNSPEC_KV_F32 = 1 };

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
    /* conditional_acceptance[i]: share of drafts accepted through depth i whose depth i + 1 was accepted */
    int n_conditional;
    double conditional_acceptance[TERNSPEC_MAX_DRAFT];
    const char* stop_reason;      /* "eos", "stop", "length", "context" or "cancelled" (a static string) */
    int64_t cached_prompt_tokens; /* prompt tokens read from an engine's prefix cache */
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
    int k_auto; /* 1: k = auto, each round's draft length chosen (up to k) from measured costs; default 0 */
    int draft_min; /* drafts shorter than this are not verified; default 0 */
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

typedef struct {
    const char* role; /* "system", "user", "assistant", "tool" */
    const char* content;
} ternspec_chat_message;
/* A conversation in the model's chat template. tools_json: OpenAI's `tools` array as JSON text, or NULL.
 * add_generation_prompt: 1 opens the assistant's turn. */
int ternspec_chat_prompt_messages(const ternspec_model* model, const ternspec_chat_message* messages,
                                  size_t n_messages, const char* tools_json, int add_generation_prompt,
                                  char** text_out);

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
/* The same with a prompt of token ids. */
int ternspec_generate_tokens(ternspec_session* session, const int32_t* prompt, size_t n_prompt,
                             const ternspec_generate_options* options, ternspec_token_callback callback,
                             void* user, char** text_out, ternspec_stats* stats_out);
void ternspec_string_free(char* s);

/* ---- The engine: continuous batching of requests with their own options ----
 * Requests submitted from any thread join the running batch between rounds (up to `slots` at once; more
 * wait in a queue) and leave when done; one target forward per round verifies every running request.
 * A greedy request's output equals ternspec_generate's for it alone. */
typedef struct ternspec_engine ternspec_engine;
typedef struct ternspec_request ternspec_request;

typedef struct {
    const char* drafter;     /* "suffix", "ngram", "eagle", "mtp" */
    const char* draft_model; /* weights folder for "eagle" and "mtp"; NULL otherwise */
    const char* extra;       /* "key=value,..." or NULL */
} ternspec_drafter_spec;

typedef struct {
    int slots;                             /* requests decoded together; default 4 */
    int max_queue;                         /* requests waiting beyond the slots; default 64 */
    const ternspec_drafter_spec* drafters; /* the drafters requests may choose; default none */
    int n_drafters;
    size_t prefix_cache_bytes; /* prefix cache budget (see EngineOptions in ternspec.hpp); 0 (default): off */
} ternspec_engine_options;

typedef struct {
    ternspec_generate_options generate; /* on_round must be NULL (read text with ternspec_request_next) */
    const char* drafter;                /* "none" (default) or one of the engine's drafters */
    int k;                              /* draft length, or with k_auto the longest; default 4 */
    int k_auto;                         /* 1: k = auto; default 0 */
    int tree_nodes;                     /* default 0 (chains) */
    int draft_min;                      /* default 0 */
    const int32_t* prompt_tokens;       /* non-NULL: the prompt as token ids (the text prompt is then NULL) */
    size_t n_prompt_tokens;
} ternspec_request_options;

void ternspec_engine_options_init(ternspec_engine_options* options);
int ternspec_engine_create(ternspec_model* model, const ternspec_engine_options* options,
                           ternspec_engine** out);
/* Cancels what is queued or running and waits for the engine's thread. Free its requests before or after. */
void ternspec_engine_free(ternspec_engine* engine);

void ternspec_request_options_init(ternspec_request_options* options);
/* A bad request (its options, its prompt) or a full queue is refused here with TERNSPEC_ERROR_INPUT. */
int ternspec_engine_submit(ternspec_engine* engine, const char* prompt,
                           const ternspec_request_options* options, ternspec_request** out);
/* Blocks until more text is visible or the request has ended. *piece_out gets the new text (free it with
 * ternspec_string_free); *more_out is 0 once the request has ended and all its text was returned. */
int ternspec_request_next(ternspec_request* request, char** piece_out, int* more_out);
/* Blocks until the request ends; text_out and stats_out may be NULL. A failed request returns its status. */
int ternspec_request_wait(ternspec_request* request, char** text_out, ternspec_stats* stats_out);
void ternspec_request_cancel(ternspec_request* request); /* from any thread */
void ternspec_request_free(ternspec_request* request);   /* a running request is cancelled first */

#ifdef __cplusplus
}
#endif

#endif /* TERNSPEC_H */
