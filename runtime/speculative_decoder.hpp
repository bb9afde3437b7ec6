#pragma once
// The decode loop: prefill, then rounds of draft -> one target forward over the pending token and the draft
// (chain or tree) -> acceptance -> KV rollback -> the drafter is told. Without a drafter it is plain
// decoding through the same code, which is what the lossless tests compare against.
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "drafters/drafter.hpp"
#include "runtime/cost_model.hpp"
#include "target/model/kv_cache.hpp"
#include "target/model/qwen3_model.hpp"
#include "verify/decode_stats.hpp"
#include "verify/json_constraint.hpp"
#include "verify/sampler.hpp"

namespace ternspec {

struct DecodeOptions {
    int max_new_tokens = 128;
    SamplingParams sampling;
    DraftBudget budget;
    // When set, each round's draft length is chosen by this controller (budget.max_depth is the cap) and
    // the controller learns from the round; shared across requests so it keeps what it learned.
    std::shared_ptr<DraftLengthController> adaptive;
    bool stop_at_eos = true;
    int context = 0;  // KV capacity; 0: the model's context length
    // llama.cpp's --draft-min: a draft of fewer tokens is not verified (the round runs the pending token
    // alone), for drafters whose short drafts are rarely worth a wider forward.
    int draft_min = 0;
    KvType kv_type = KvType::F16;
    // Stop strings (llama.cpp's --stop, OpenAI's `stop`): the output text ends before the first one found,
    // the decode stops there and its stop reason is StopString. Empty strings are dropped.
    std::vector<std::string> stop;
    // Structured output (verify/json_constraint.hpp): the output is one JSON object this schema allows
    // (JsonSchema::any_object() for any); the target's distribution is masked to it in every row, drafts
    // included, and the decode ends when the object closes (StopReason::Complete). Null: free text.
    std::shared_ptr<const JsonSchema> json_schema;
    // The model's token table the masks test tokens with (a pass over the whole vocabulary to build); null:
    // built for this request. The engine builds one per model and shares it.
    std::shared_ptr<const JsonTokenMask> json_mask;
    // Called for every emitted token with the text it makes visible: held back while a UTF-8 sequence is
    // incomplete or the text could still grow into a stop string, so a piece may be empty. When the decode
    // ends, whatever was still held back comes in one last call with token -1 (its return value unused):
    // the pieces always add up to DecodeResult::text. Returning false cancels the decode.
    std::function<bool(std::int32_t token, const std::string& piece)> on_token;
    // Called after each verification round, before its tokens are emitted: draft nodes sent, draft tokens
    // accepted, and the round's drafting and verification seconds (for live acceptance displays).
    std::function<void(int drafted, int accepted, double draft_seconds, double verify_seconds)> on_round;
    // The time source of the statistics' timings, in seconds (null: the steady clock). An extension point
    // for harnesses that must leave their own work out of every timing and out of what -k auto learns: the
    // replay benchmark (bench/harness/replay_drafter.hpp) stops its clock while its oracle decodes.
    std::function<double()> clock;
};

// InputError naming the field when DecodeOptions is out of range: max_new_tokens >= 0, context >= 0,
// budget.max_depth in 0..64, budget.max_nodes in 0..64, and the sampling parameters. Every entry point
// (CLI, C++ and C APIs, batches) checks through this before it allocates anything.
void validate(const DecodeOptions& o);

// The KV capacity a request gets: DecodeOptions::context capped at the model's, or the model's.
int request_context(const Qwen3Model& m, const DecodeOptions& o);
// InputError when `prompt` cannot be decoded with `o` on `m`: options out of range, an empty prompt, ids
// outside the vocabulary, or no room left in the context. Returns the context. DecodeSession checks through
// this before it allocates; callers serving many requests use it to report a bad one and serve the rest.
int check_request(const Qwen3Model& m, const DecodeOptions& o, std::span<const std::int32_t> prompt);

// Why a decode ended.
enum class StopReason { None, Eos, Length, Context, Cancelled, StopString, Complete };
// "eos", "length", "context", "cancelled", "stop" ("" for None): the names in JSON and the public API.
const char* stop_reason_name(StopReason r);

struct DecodeResult {
    std::vector<std::int32_t> tokens;  // output only (through the one that completed a stop string)
    std::string text;                  // cut before a stop string
    StopReason stop_reason = StopReason::None;
    DecodeStats stats;
};

class SpeculativeDecoder {
  public:
    SpeculativeDecoder(std::shared_ptr<const Qwen3Model> model, Drafter* drafter)
        : model_(std::move(model)), drafter_(drafter) {}
    DecodeResult run(std::span<const std::int32_t> prompt, const DecodeOptions& options);

  private:
    std::shared_ptr<const Qwen3Model> model_;
    Drafter* drafter_;
};

}  // namespace ternspec
