#pragma once
// ternspec's public C++ API: load a ternary Qwen3 model, open sessions with a drafter, generate with a
// streaming callback, read the statistics. Only the standard library and ternspec/error.hpp are included,
// so nothing internal leaks. Errors are ternspec::FormatError (files) and ternspec::InputError (requests).
// One Model serves any number of Sessions, on any threads; a Session is used by one thread at a time.
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
std::string active_kernels();  // "avx2" or "scalar"

struct LoadOptions {
    bool quantize = false;  // absmean-quantise float weights that are not exactly ternary (else refused)
    int threads = 0;        // 0: all cores (applies process-wide)
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
};

struct DraftOptions {
    std::string drafter = "none";              // none, suffix, ngram
    int k = 4;                                 // draft length
    int tree_nodes = 0;                        // > 0: draft trees of at most this many nodes
    std::string draft_model;                   // for drafters with weights
    std::map<std::string, std::string> extra;  // drafter-specific options, e.g. {"max_spec_factor", "2"}
};

struct GenerateOptions {
    int max_new_tokens = 128;
    SamplingOptions sampling;
    bool stop_at_eos = true;
    int context = 0;  // KV capacity; 0: the model's context length
    // Called per emitted token with its text (incomplete UTF-8 is held back); return false to stop.
    std::function<bool(std::int32_t token, std::string_view piece)> on_token;
    const std::atomic<bool>* cancel = nullptr;  // set to true from any thread to stop
};

struct Statistics {
    std::int64_t prompt_tokens = 0, emitted = 0, target_forwards = 0, drafted = 0, accepted = 0;
    double acceptance_rate = 0, tau = 0;  // tau: tokens per target forward, bonus included
    std::vector<double> per_position_acceptance;
    std::vector<std::int64_t> accepted_length_histogram;
    double seconds_prefill = 0, seconds_draft = 0, seconds_verify = 0, seconds_total = 0,
           decode_tokens_per_s = 0;
};

struct Result {
    std::string text;
    std::vector<std::int32_t> tokens;
    std::string stop_reason;  // eos, length, context, cancelled
    Statistics stats;
};

class Model {
  public:
    static Model load(const std::string& path, const LoadOptions& options = {});
    ModelInfo info() const;
    std::vector<std::int32_t> encode(std::string_view text) const;
    std::string decode(const std::vector<std::int32_t>& tokens) const;
    // One user turn in the model's own chat template (Qwen3's ChatML when it ships none), ready to generate.
    std::string chat_prompt(std::string_view user_message) const;

    struct Impl;
    const std::shared_ptr<Impl>& impl() const { return impl_; }

  private:
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
    // generate() would return alone. The sessions must share one Model; on_token is not called here
    // (results come back together), cancel stops every request.
    static std::vector<Result> generate_together(std::span<Session* const> sessions,
                                                 std::span<const std::string> prompts,
                                                 const GenerateOptions& options = {});

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace ternspec
