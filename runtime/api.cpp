// The public C++ API over the internal model, drafters and decode loop.
#include <tbb/task_arena.h>

#include "runtime/batch_decoder.hpp"
#include "runtime/chat/chat_template.hpp"
#include "runtime/speculative_decoder.hpp"
#include "target/kernels/cpu_features.hpp"
#include "ternspec/ternspec.hpp"

namespace ternspec {

struct Model::Impl {
    std::string path, format;
    std::shared_ptr<const Qwen3Model> model;
    // LoadOptions::threads > 0: this model's decodes run in an arena of that many threads, leaving the
    // process's other work (and other models) at TBB's default.
    std::unique_ptr<tbb::task_arena> arena;

    template <typename F>
    auto in_arena(F&& f) const {
        return arena ? arena->execute(std::forward<F>(f)) : f();
    }
};

struct Session::Impl {
    std::shared_ptr<Model::Impl> model;
    std::unique_ptr<Drafter> drafter;
    DraftOptions draft;
};

std::string version() {
    return TERNSPEC_VERSION;
}
std::string active_kernels() {
    return kernel_path_name(kernel_path());
}

Model Model::load(const std::string& path, const LoadOptions& options) {
    check_kernel_environment();  // an override that cannot be honoured is an error, not ignored
    if (options.threads < 0) throw InputError("threads " + std::to_string(options.threads) + " is negative");
    const auto files = ModelFiles::open(path);
    ModelLoadOptions lo;
    lo.quantize = options.quantize;
    auto impl = std::make_shared<Impl>();
    impl->path = path;
    impl->format = files.format();
    if (options.threads > 0) impl->arena = std::make_unique<tbb::task_arena>(options.threads);
    impl->model = impl->in_arena([&] { return Qwen3Model::load(files, lo); });
    return Model(std::move(impl));
}

ModelInfo Model::info() const {
    const auto& c = impl_->model->config();
    return {impl_->path, impl_->format, c.vocab_size, c.hidden_size,    c.n_layers,
            c.n_heads,   c.n_kv_heads,  c.head_dim,   c.context_length, impl_->model->weight_bytes()};
}

std::vector<std::int32_t> Model::encode(std::string_view text) const {
    return impl_->model->tokenizer().encode(text);
}
std::string Model::decode(const std::vector<std::int32_t>& tokens) const {
    return impl_->model->tokenizer().decode(tokens);
}
std::string Model::chat_prompt(std::string_view user_message) const {
    return single_turn_prompt(model_chat_template(*impl_->model), std::string(user_message));
}

std::string Model::chat_prompt(const std::vector<ChatMessage>& messages, bool add_generation_prompt) const {
    auto list = nlohmann::ordered_json::array();
    for (const auto& m : messages) list.push_back({{"role", m.role}, {"content", m.content}});
    ChatOptions o;
    o.add_generation_prompt = add_generation_prompt;
    return model_chat_template(*impl_->model).render(list, o);
}

Session::Session(const Model& model, const DraftOptions& draft) : impl_(std::make_unique<Impl>()) {
    impl_->model = model.impl_;
    impl_->draft = draft;
    DrafterOptions o;
    o.draft_model = draft.draft_model;
    o.extra = draft.extra;
    // Checked before the drafter (maybe a model file) is loaded: validate first, then allocate.
    if (draft.k < 1 || draft.k > kMaxDraftTokens)
        throw InputError("draft length k " + std::to_string(draft.k) + " is out of range (1 to " +
                         std::to_string(kMaxDraftTokens) + ")");
    if (draft.tree_nodes < 0 || draft.tree_nodes > kMaxDraftTokens)
        throw InputError("tree_nodes " + std::to_string(draft.tree_nodes) + " is out of range (0 to " +
                         std::to_string(kMaxDraftTokens) + ")");
    impl_->drafter =
        impl_->model->in_arena([&] { return create_drafter(draft.drafter, o, impl_->model->model); });
}

Session::~Session() = default;
Session::Session(Session&&) noexcept = default;
Session& Session::operator=(Session&&) noexcept = default;

Result Session::generate(std::string_view prompt, const GenerateOptions& options) {
    const auto ids = impl_->model->model->tokenizer().encode(prompt);
    return generate_tokens(ids, options);
}

namespace {

DecodeOptions decode_options(const GenerateOptions& options, const DraftOptions& draft) {
    DecodeOptions o;
    o.max_new_tokens = options.max_new_tokens;
    o.sampling = {options.sampling.temperature,  options.sampling.top_k, options.sampling.top_p,
                  options.sampling.min_p,        options.sampling.seed,  options.sampling.repeat_penalty,
                  options.sampling.repeat_last_n};
    o.budget = {draft.k, draft.tree_nodes};
    o.stop_at_eos = options.stop_at_eos;
    o.context = options.context;
    if (options.on_token || options.cancel)
        o.on_token = [&options](std::int32_t t, const std::string& piece) {
            if (options.cancel && options.cancel->load()) return false;
            return options.on_token ? options.on_token(t, piece) : true;
        };
    if (options.on_round)
        o.on_round = [&options](int drafted, int accepted, double draft_s, double verify_s) {
            options.on_round(RoundInfo{drafted, accepted, draft_s, verify_s});
        };
    return o;
}

Result to_result(DecodeResult&& r) {
    Result out;
    out.text = std::move(r.text);
    out.tokens = std::move(r.tokens);
    out.stop_reason = stop_reason_name(r.stop_reason);
    const auto& s = r.stats;
    out.stats.prompt_tokens = s.prompt_tokens;
    out.stats.emitted = s.emitted;
    out.stats.target_forwards = s.target_forwards;
    out.stats.drafted = s.drafted;
    out.stats.accepted = s.accepted;
    out.stats.acceptance_rate = s.acceptance_rate();
    out.stats.tau = s.tau();
    out.stats.per_position_acceptance = s.per_position_acceptance();
    out.stats.conditional_acceptance = s.conditional_acceptance();
    out.stats.accepted_length_histogram = s.accepted_hist;
    out.stats.seconds_prefill = s.t_prefill;
    out.stats.seconds_draft = s.t_draft;
    out.stats.seconds_verify = s.t_verify;
    out.stats.seconds_total = s.t_total;
    out.stats.decode_tokens_per_s = s.decode_tokens_per_s();
    return out;
}

}  // namespace

Result Session::generate_tokens(std::span<const std::int32_t> prompt, const GenerateOptions& options) {
    const DecodeOptions o = decode_options(options, impl_->draft);
    SpeculativeDecoder dec(impl_->model->model, impl_->drafter.get());
    return impl_->model->in_arena([&] { return to_result(dec.run(prompt, o)); });
}

std::vector<Result> Session::generate_together(std::span<Session* const> sessions,
                                               std::span<const std::string> prompts,
                                               const GenerateOptions& options) {
    if (sessions.size() != prompts.size())
        throw InputError("generate_together: " + std::to_string(sessions.size()) + " sessions for " +
                         std::to_string(prompts.size()) + " prompts");
    if (sessions.empty()) return {};
    // A session decodes one request at a time (its drafter holds that request's state): null or repeated
    // sessions are refused by position before anything runs.
    for (std::size_t i = 0; i < sessions.size(); ++i) {
        if (!sessions[i]) throw InputError("generate_together: session " + std::to_string(i) + " is null");
        for (std::size_t j = 0; j < i; ++j)
            if (sessions[j] == sessions[i])
                throw InputError("generate_together: sessions " + std::to_string(j) + " and " +
                                 std::to_string(i) + " are the same session; give each request its own");
    }
    GenerateOptions shared = options;
    shared.on_token = nullptr;
    shared.on_round = nullptr;
    std::vector<DecodeOptions> per(sessions.size());
    std::vector<BatchRequest> reqs;
    for (std::size_t i = 0; i < sessions.size(); ++i) {
        const Impl& s = *sessions[i]->impl_;
        if (s.model != sessions[0]->impl_->model)
            throw InputError("generate_together: the sessions must share one Model");
        per[i] = decode_options(shared, s.draft);
        reqs.push_back({s.model->model->tokenizer().encode(prompts[i]), s.drafter.get(), &per[i]});
    }
    const Model::Impl& model = *sessions[0]->impl_->model;
    auto rs = model.in_arena([&] { return decode_batch(model.model, reqs, per[0]); });
    std::vector<Result> out;
    for (auto& r : rs) out.push_back(to_result(std::move(r)));
    return out;
}

}  // namespace ternspec
