/* Decodes a prompt with a drafter through ternspec's C API.  decode_c MODEL "prompt" [drafter] */
#include <stdio.h>
#include <ternspec/ternspec.h>

static int print_piece(int32_t token, const char* piece, void* user) {
    (void)token;
    (void)user;
    fputs(piece, stdout);
    return 1;
}

int main(int argc, char** argv) {
    ternspec_model* model = NULL;
    ternspec_session* session = NULL;
    ternspec_generate_options options;
    ternspec_stats stats;
    char* text = NULL;
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL PROMPT [drafter]\n", argv[0]);
        return 2;
    }
    if (ternspec_model_load(argv[1], 0, &model) != TERNSPEC_OK) {
        fprintf(stderr, "error: %s\n", ternspec_last_error());
        return 1;
    }
    if (ternspec_session_create(model, argc > 3 ? argv[3] : "ngram", 4, 0, NULL, &session) != TERNSPEC_OK) {
        fprintf(stderr, "error: %s\n", ternspec_last_error());
        ternspec_model_free(model);
        return 1;
    }
    ternspec_generate_options_init(&options);
    options.max_new_tokens = 48;
    if (ternspec_generate(session, argv[2], &options, print_piece, NULL, &text, &stats) != TERNSPEC_OK) {
        fprintf(stderr, "error: %s\n", ternspec_last_error());
    } else {
        printf("\n[ternspec %s] %lld tokens, tau %.2f\n", ternspec_version(), (long long)stats.emitted,
               stats.tau);
    }
    ternspec_string_free(text);
    ternspec_session_free(session);
    ternspec_model_free(model);
    return 0;
}
