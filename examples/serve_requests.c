/* Serves several requests at once through ternspec's engine (C API): each client thread submits a prompt
 * with its own options (drafter, k or k = auto, a stop string), streams the text as it comes, and prints
 * it with its statistics. Requests beyond the slots wait in the queue and join as slots free.
 *   serve_requests MODEL "prompt one" "prompt two" ...      (at most 16 prompts) */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ternspec/ternspec.h>

typedef struct {
    ternspec_engine* engine;
    const char* prompt;
    int index;
    char* text; /* what was streamed, concatenated */
    ternspec_stats stats;
    int status;
    char error[256];
} client;

static void* run_client(void* arg) {
    client* c = (client*)arg;
    ternspec_request_options o;
    ternspec_request* request = NULL;
    const char* stop[] = {"\n\n"}; /* every other request ends at its first blank line */
    size_t length = 0;
    int more = 1;
    ternspec_request_options_init(&o);
    o.generate.max_new_tokens = 48;
    o.drafter = c->index % 3 == 2 ? "none" : "suffix";
    o.k_auto = c->index % 3 == 1; /* k = auto: the draft length chosen per round, up to k */
    o.k = o.k_auto ? 8 : 4;
    if (c->index % 2) {
        o.generate.stop = stop;
        o.generate.n_stop = 1;
    }
    c->text = calloc(1, 1);
    c->status = ternspec_engine_submit(c->engine, c->prompt, &o, &request);
    while (c->status == TERNSPEC_OK && more) {
        char* piece = NULL;
        c->status = ternspec_request_next(request, &piece, &more);
        if (c->status != TERNSPEC_OK) break;
        c->text = realloc(c->text, length + strlen(piece) + 1);
        memcpy(c->text + length, piece, strlen(piece) + 1);
        length += strlen(piece);
        ternspec_string_free(piece);
    }
    if (c->status == TERNSPEC_OK) c->status = ternspec_request_wait(request, NULL, &c->stats);
    if (c->status != TERNSPEC_OK) snprintf(c->error, sizeof c->error, "%s", ternspec_last_error());
    ternspec_request_free(request);
    return NULL;
}

int main(int argc, char** argv) {
    ternspec_model* model = NULL;
    ternspec_engine* engine = NULL;
    ternspec_engine_options eo;
    ternspec_drafter_spec suffix = {"suffix", NULL, NULL};
    client clients[16];
    pthread_t threads[16];
    int n = argc - 2, i, failed = 0;
    if (argc < 3 || n > 16) {
        fprintf(stderr, "usage: %s MODEL PROMPT... (1 to 16 prompts)\n", argv[0]);
        return 2;
    }
    if (ternspec_model_load(argv[1], 0, &model) != TERNSPEC_OK) {
        fprintf(stderr, "error: %s\n", ternspec_last_error());
        return 1;
    }
    ternspec_engine_options_init(&eo);
    eo.slots = 2;
    eo.drafters = &suffix;
    eo.n_drafters = 1;
    if (ternspec_engine_create(model, &eo, &engine) != TERNSPEC_OK) {
        fprintf(stderr, "error: %s\n", ternspec_last_error());
        ternspec_model_free(model);
        return 1;
    }
    for (i = 0; i < n; ++i) {
        memset(&clients[i], 0, sizeof clients[i]);
        clients[i].engine = engine;
        clients[i].prompt = argv[i + 2];
        clients[i].index = i;
        pthread_create(&threads[i], NULL, run_client, &clients[i]);
    }
    for (i = 0; i < n; ++i) pthread_join(threads[i], NULL);
    for (i = 0; i < n; ++i) {
        const ternspec_stats* s = &clients[i].stats;
        if (clients[i].status != TERNSPEC_OK) {
            fprintf(stderr, "request %d failed: %s\n", i + 1, clients[i].error);
            failed = 1;
        } else {
            printf("=== request %d (%s): %s\n", i + 1, s->stop_reason, clients[i].text);
            printf("    %lld tokens, %lld drafted, %lld accepted, tau %.2f\n", (long long)s->emitted,
                   (long long)s->drafted, (long long)s->accepted, s->tau);
        }
        free(clients[i].text);
    }
    ternspec_engine_free(engine);
    ternspec_model_free(model);
    return failed;
}
