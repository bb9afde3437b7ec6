#pragma once
// ternspec's public C++ API: load a ternary Qwen3 model, open sessions with a drafter, generate with a
// streaming callback, read the statistics. Only the standard library and ternspec/error.hpp are included,
// so nothing internal leaks. Errors are ternspec::FormatError (files) and ternspec::InputError (requests).
//
// Threads and lifetimes: a Model is immutable once loaded; any number of threads may use it and the
// Sessions made from it at once (copies share it; it lives while a copy or a Session does). A Session is
// used by one thread at a time. Callbacks run on the thread that called generate(), before it returns;
// their string_view arguments are valid only during the call. GenerateOptions::cancel may be set from any
// thread.
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ternspec/error.hpp"

namespace ternspec {

std::string version();
// The kernels this CPU runs: "avx512vnni", "avx2" or "scalar" (TERNSPEC_KERNELS=avx2|scalar forces a
// lower one, for comparisons; an override this CPU or build cannot honour is an InputError here).
std::string active_kernels();

struct LoadOptions {
    bool quantize = false;  // absmean-quantise float weights that are not exactly ternary (else refused)
    int threads = 0;        // 0: TBB's default (all cores); N: this model's work runs on N threads
};

struct ModelInfo {
    std::string path, format;
    int vocab_size, hidden_size, layers, heads, kv_heads, head_dim, context_length;
    std::size_t weight_bytes;
};

struct SamplingOptions {
    float temperature = 0.0f;  // 0: greedy
    int top_k = 0;
    float top_p = 1.0f;
    float min_p = 0.0f;
    std::uint64_t seed = 0;
    float repeat_penalty = 1.0f;  // llama.cpp's repeat penalty over the last repeat_last_n tokens; 1: off
    int repeat_last_n = 64;       // -1: the whole context
    // OpenAI's penalties (-2 to 2; 0: off) over the same window, as llama.cpp applies them: a token seen c
    // times there loses presence_penalty + c * frequency_penalty of its logit.
    float presence_penalty = 0.0f, frequency_penalty = 0.0f;
};

// The drafters:
//   "none"    plain decoding;
//   "suffix"  SuffixDecoding: a suffix index over this request and earlier responses (no weights);
//   "ngram"   the most recent earlier continuation of the last tokens (no weights);
//   "eagle"   an EAGLE-3 head (draft_model: its folder, e.g. a SpecForge checkpoint);
//   "mtp"     multi-token-prediction modules (draft_model: the sidecar folder; extra {"mtp_depth", "D"}).
// Options a drafter does not know in `extra` are reported as warnings on the log.
struct DraftOptions {
    std::string drafter = "none";
    int k = 4;  // draft length (longest path), 1 to 64; with k_auto, the longest draft it may choose
    // k = auto: each round's draft length is chosen from t(M), the target's forward time measured on this
    // machine (cached per model file), and the acceptance seen so far; 0 (no draft) when drafting does not
    // pay. Draft lengths it chose show in Statistics.
    bool k_auto = false;
    int draft_min = 0;                         // drafts shorter than this are not verified (llama.cpp's)
    int tree_nodes = 0;                        // > 0: draft trees of at most this many nodes
    std::string draft_model;                   // for "eagle" and "mtp"
    std::map<std::string, std::string> extra;  // drafter-specific options, e.g. {"max_spec_factor", "2"}
};

// One verification round, for live acceptance displays.
struct RoundInfo {
    int drafted = 0;   // draft tokens sent to the target
    int accepted = 0;  // of them accepted
    double draft_seconds = 0, verify_seconds = 0;
};

enum class KvCacheType { F16, F32 };

struct GenerateOptions {
    int max_new_tokens = 128;
    SamplingOptions sampling;
    bool stop_at_eos = true;
    // The text ends before the first of these (OpenAI's `stop`); stop_reason "stop". Empty ones are dropped.
    std::vector<std::string> stop;
    // Structured output: the output is one JSON object, any (json_object) or one `json_schema` (the JSON
    // text of a schema in the supported subset: type, properties, required, additionalProperties false,
    // items, minItems, maxItems, enum, const) allows; another keyword is an InputError naming it. The
    // target's distribution is masked to the document, drafts verified against it, so speculative output
    // equals constrained plain output; generation ends when the object closes (stop_reason "complete").
    bool json_object = false;
    std::string json_schema;
    int context = 0;  // KV capacity; 0: the model's context length
    KvCacheType kv_type = KvCacheType::F16;
    // Called per emitted token with the text it makes visible (held back while UTF-8 is incomplete or the
    // text could still become a stop string, so it may be empty); return false to stop. When generation
    // ends, text still held back comes in one last call with token -1. The pieces add up to Result::text.
    std::function<bool(std::int32_t token, std::string_view piece)> on_token;
    // Called after each verification round, before the round's tokens reach on_token.
    std::function<void(const RoundInfo& round)> on_round;
    const std::atomic<bool>* cancel = nullptr;  // set to true from any thread to stop
};

struct Statistics {
    std::int64_t prompt_tokens = 0, emitted = 0, target_forwards = 0, drafted = 0, accepted = 0;
    std::int64_t cached_prompt_tokens = 0;  // prompt tokens read from an engine's prefix cache
    double acceptance_rate = 0, tau = 0;    // tau: tokens per target forward, bonus included
    std::vector<double>
        per_position_acceptance;                 // [d]: accepted at depth d + 1 / drafts reaching it (vLLM's)
    std::vector<double> conditional_acceptance;  // [d]: accepted at depth d + 1 / drafts accepted to depth d
    std::vector<std::int64_t> accepted_length_histogram;
    double seconds_prefill = 0, seconds_draft = 0, seconds_verify = 0, seconds_total = 0,
           decode_tokens_per_s = 0;
};

struct ChatMessage {
    std::string role;  // system, user, assistant, tool
    std::string content;
};

struct Result {
    std::string text;
    std::vector<std::int32_t> tokens;
    std::string
        stop_reason;  // eos, stop (a stop string), complete (structured output), length, context, cancelled
    Statistics stats;
};

struct DistillFeatureOptions;
struct DistillFeatureSummary;

class Model {
  public:
    static Model load(const std::string& path, const LoadOptions& options = {});
    ModelInfo info() const;
    std::vector<std::int32_t> encode(std::string_view text) const;
    std::string decode(const std::vector<std::int32_t>& tokens) const;
    // One user turn in the model's own chat template (Qwen3's ChatML when it ships none), ready to generate.
    std::string chat_prompt(std::string_view user_message) const;
    // A conversation in the model's chat template; add_generation_prompt opens the assistant's turn.
    std::string chat_prompt(const std::vector<ChatMessage>& messages,
                            bool add_generation_prompt = true) const;
    // The same with tools offered to the model: `tools_json` is OpenAI's `tools` array as JSON text.
    std::string chat_prompt(const std::vector<ChatMessage>& messages, std::string_view tools_json,
                            bool add_generation_prompt = true) const;

  private:
    friend class Session;
    friend class Engine;
    friend DistillFeatureSummary write_distill_features(const Model&, const DistillFeatureOptions&);
    struct Impl;
    explicit Model(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
    std::shared_ptr<Impl> impl_;
};

// A stream of requests with one drafter: drafters that learn across requests (the suffix drafter's global
// trie) keep what they learned for the session's lifetime.
class Session {
  public:
    explicit Session(const Model& model, const DraftOptions& draft = {});
    ~Session();
    Session(Session&&) noexcept;
    Session& operator=(Session&&) noexcept;

    Result generate(std::string_view prompt, const GenerateOptions& options = {});
    Result generate_tokens(std::span<const std::int32_t> prompt, const GenerateOptions& options = {});

    // One request per session, served together: each round one target forward verifies every session's
    // draft, so the weights are read once for all of them. Each result equals what that session's
    // generate() would return alone. The sessions must share one Model; on_token and on_round are not called
    // here (results come back together), cancel stops every request.
    static std::vector<Result> generate_together(std::span<Session* const> sessions,
                                                 std::span<const std::string> prompts,
                                                 const GenerateOptions& options = {});

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// Continuous batching for applications: requests with their own options are submitted from any thread,
// join the batch between rounds (up to `slots` at once, more wait in a queue) and leave when done; each
// round one target forward verifies every running request's draft. A greedy request's output equals what
// Session::generate gives it alone (the forward is batch invariant).
struct EngineOptions {
    int slots = 4;       // requests decoded together, 1 or more
    int max_queue = 64;  // requests waiting beyond the slots; a submit beyond is refused (InputError)
    // The drafters requests may choose, with their weights and options (drafter, draft_model, extra; k and
    // tree_nodes are per request). Each is created now, so a bad weight file fails here.
    std::vector<DraftOptions> drafters;
    // Prefix cache: finished requests' keys and values (and a hybrid target's recurrent state) kept for
    // requests that start with the same tokens, up to this many bytes; 0: off. Outputs do not change; the
    // tokens read from it show in Statistics::cached_prompt_tokens. Hybrid targets reuse an entry only
    // when the prompt extends all of it (the state exists at its end); drafters that read the target's
    // hidden states (eagle, mtp) compute every prompt row.
    std::size_t prefix_cache_bytes = 0;
};

// What one engine request asks for. draft.drafter names one of EngineOptions::drafters (or "none");
// draft.draft_model and draft.extra belong to the engine's drafter and must be empty here.
// generate.on_token, on_round and cancel are Session's: a request is read with Request::next and stopped
// with Request::cancel (set, they are refused).
struct RequestOptions {
    GenerateOptions generate;
    DraftOptions draft;
};

class Engine;

// A submitted request. Copies share it; any thread may read or cancel it.
class Request {
  public:
    // Blocks until more text is visible or the request has ended. Returns false once it has ended and
    // every piece was returned; `piece` is the text since the last call (never part of a stop string).
    bool next(std::string& piece);
    // Blocks until the request ends. A request that failed (its options, its prompt) throws here:
    // InputError for a bad request, Error otherwise.
    Result wait();
    void cancel();  // ends it at the next round; its result has stop_reason "cancelled"
    bool done() const;

  private:
    friend class Engine;
    struct Impl;
    std::shared_ptr<Impl> impl_;
};

class Engine {
  public:
    explicit Engine(const Model& model, const EngineOptions& options = {});
    ~Engine();  // cancels what is queued or running, and waits for the engine's thread
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;

    Request submit(std::string_view prompt, const RequestOptions& options = {});
    Request submit_tokens(std::span<const std::int32_t> prompt, const RequestOptions& options = {});

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace ternspec
