// Decodes a prompt with a drafter through ternspec's C++ API, streaming the text, then prints statistics.
//   decode_cpp MODEL "prompt" [drafter]
#include <cstdio>
#include <ternspec/ternspec.hpp>

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: %s MODEL PROMPT [drafter]\n", argv[0]);
        return 2;
    }
    try {
        const auto model = ternspec::Model::load(argv[1]);
        ternspec::DraftOptions draft;
        draft.drafter = argc > 3 ? argv[3] : "suffix";
        draft.k = 6;
        ternspec::Session session(model, draft);
        ternspec::GenerateOptions options;
        options.max_new_tokens = 48;
        options.on_token = [](std::int32_t, std::string_view piece) {
            std::fwrite(piece.data(), 1, piece.size(), stdout);
            return true;
        };
        const auto r = session.generate(argv[2], options);
        std::printf("\n[%s, kernels %s] %lld tokens, tau %.2f, acceptance %.1f%%, stop: %s\n",
                    draft.drafter.c_str(), ternspec::active_kernels().c_str(),
                    static_cast<long long>(r.stats.emitted), r.stats.tau, 100 * r.stats.acceptance_rate,
                    r.stop_reason.c_str());
    } catch (const ternspec::Error& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
    return 0;
}
