#pragma once
// Distillation data for a drafter of the user's own model: the target runs over a text corpus in windows
// (one batched forward each) and writes, per position, what an EAGLE-3 head or MTP modules learn from: the
// hidden states they read, the token's embedding, and the target's own top-k next-token distribution
// (self-distillation). train/distill_eagle.py and train/distill_mtp.py train from these files; `ternspec
// distill` runs both steps. The format is in
// docs/distill.md. Resumable: a run finds the windows an earlier run with the same settings wrote.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "ternspec/ternspec.hpp"

namespace ternspec {

struct DistillProgress {
    std::int64_t tokens_done = 0, tokens_total = 0;  // corpus tokens through the target
    double tokens_per_s = 0;                         // this run's, resumed windows not counted
};

struct DistillFeatureOptions {
    std::vector<std::string> corpus;  // UTF-8 text files
    std::string out_dir;              // created if missing
    std::int64_t tokens = 200000;     // corpus tokens to run through the target (the corpus may hold more)
    int window = 132;                 // tokens per forward: a training sequence plus the unrolled steps
    // Target layers whose input residual stream the head taps (three, vLLM's convention); empty: 2, n/2
    // and n - 3 for n layers (1, n/2, n - 1 below 8 layers).
    std::vector<int> layers;
    int top_k = 8;  // the target's most likely next tokens kept per position, with their probabilities
    // "eagle": the three taps above; "mtp": the final hidden state (before the output norm) instead, and the
    // target's head rows once (head.f16), for MTP modules (Qwen3 targets).
    std::string drafter = "eagle";
    // An EAGLE-3 head folder training will start from (a SpecForge or vLLM-speculators checkpoint, or one of
    // ours): with `layers` empty, the layers its config lists, read in the convention it states (vLLM's or
    // SGLang's, which counts one lower); given both, they must agree.
    std::string init_from;
    std::function<void(const DistillProgress&)> on_progress;
};

struct DistillFeatureSummary {
    std::int64_t windows = 0, tokens = 0;  // written in all, resumed ones included
    std::int64_t resumed_windows = 0;      // found from an earlier run
    std::vector<int> layers;
    double seconds = 0, tokens_per_s = 0;  // this run's
};

// InputError naming the option or file: no corpus, an unreadable file, a corpus too small for 8 windows,
// layers out of range or not the init_from head's, an out_dir holding another run's features.
DistillFeatureSummary write_distill_features(const Model& model, const DistillFeatureOptions& options);

}  // namespace ternspec
