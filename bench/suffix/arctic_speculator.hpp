#pragma once
// Snowflake ArcticInference's SuffixDecoding (csrc/suffix_decoding), driven as its vLLM integration drives
// it: a local tree per request over prompt and response, one global tree over every response including the
// one being generated, both updated every step; the draft with the higher score wins. Built only when
// -DTERNSPEC_ARCTIC_SRC points at a checkout of that folder (nothing of it is in this repository); it is the
// reference the suffix drafter is measured against (docs/suffix.md).
#include <memory>

#include "bench/suffix/replay.hpp"

namespace ternspec::bench {

struct ArcticOptions {
    int max_depth = 64;  // its vLLM defaults
    float max_spec_factor = 1.0f, max_spec_offset = 0.0f, min_token_prob = 0.1f;
};

std::unique_ptr<Speculator> make_arctic(const ArcticOptions& o);

}  // namespace ternspec::bench
