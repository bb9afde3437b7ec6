// The public C++ API over the internal model, drafters and decode loop.
#include <tbb/task_arena.h>

#include "runtime/batch_decoder.hpp"
#include "runtime/cost_model.hpp"
#include "runtime/engine.hpp"
#include "runtime/model_chat_template.hpp"
#include "runtime/model_impl.hpp"
#include "runtime/speculative_decoder.hpp"
#include "target/kernels/cpu_features.hpp"
#include "ternspec/ternspec.hpp"

namespace ternspec {

struct Session::Impl {
    std::shared_ptr<Model::Impl> model;
    std::unique_ptr<Drafter> drafter;
    DraftOptions draft;
    std::shared_ptr<DraftLengthController> adaptive;  // k_auto: learns across the session's requests
};

std::string version() {
    return TERNSPEC_VERSION;
}
std::string active_kernels() {
    check_kernel_environment();  // an override that cannot be honoured is an error, not ignored
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

std::string Model::chat_prompt(const std::vector<ChatMessage>& messages, std::string_view tools_json,
                               bool add_generation_prompt) const {
    auto list = nlohmann::ordered_json::array();
    for (const auto& m : messages) list.push_back({{"role", m.role}, {"content", m.content}});
    ChatOptions o;
    o.add_generation_prompt = add_generation_prompt;
    auto tools = nlohmann::ordered_json::parse(tools_json, nullptr, false);
    if (tools.is_discarded() || !tools.is_array())
        throw InputError("chat_prompt: tools_json is not a JSON array (OpenAI's `tools`)");
    o.tools = std::move(tools);
    const auto chat = model_chat_template(*impl_->model);
    if (!o.tools.empty()) chat.check_renders_tools();
    return chat.render(list, o);
}

namespace {

// InputError naming the field when a draft option is out of range; checked before any weights load.
void check_draft(const DraftOptions& draft) {
    auto range = [](const char* name, int v, int lo, int hi) {
        if (v < lo || v > hi)
            throw InputError(std::string(name) + " " + std::to_string(v) + " is out of range (" +
                             std::to_string(lo) + " to " + std::to_string(hi) + ")");
    };
    range("draft length k", draft.k, 1, kMaxDraftTokens);
    range("tree_nodes", draft.tree_nodes, 0, kMaxDraftTokens);
    range("draft_min", draft.draft_min, 0, kMaxDraftTokens);
}

DrafterOptions drafter_options(const DraftOptions& draft) {
    DrafterOptions o;
    o.draft_model = draft.draft_model;
    o.extra = draft.extra;
    return o;
}

}  // namespace

Session::Session(const Model& model, const DraftOptions& draft) : impl_(std::make_unique<Impl>()) {
    impl_->model = model.impl_;
    impl_->draft = draft;
    check_draft(draft);
    impl_->drafter = impl_->model->in_arena(
        [&] { return create_drafter(draft.drafter, drafter_options(draft), impl_->model->model); });
    if (draft.k_auto && impl_->drafter)
        impl_->adaptive = impl_->model->in_arena([&] {
            return adaptive_controller(*impl_->model->model,
                                       cost_key(impl_->model->path, *impl_->model->model), draft.k);
        });
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
    o.sampling = {options.sampling.temperature,
                  options.sampling.top_k,
                  options.sampling.top_p,
                  options.sampling.min_p,
                  options.sampling.seed,
                  options.sampling.repeat_penalty,
                  options.sampling.repeat_last_n,
                  options.sampling.presence_penalty,
                  options.sampling.frequency_penalty};
    o.budget = {draft.k, draft.tree_nodes};
    o.draft_min = draft.draft_min;
    o.stop_at_eos = options.stop_at_eos;
    o.stop = options.stop;
    if (!options.json_schema.empty()) {
        o.json_schema = JsonSchema::compile_text(options.json_schema, "GenerateOptions::json_schema");
    } else if (options.json_object) {
        o.json_schema = JsonSchema::any_object();
    }
    o.context = options.context;
    o.kv_type = options.kv_type == KvCacheType::F32 ? KvType::F32 : KvType::F16;
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
    out.stats.cached_prompt_tokens = s.cached_prompt_tokens;
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
    DecodeOptions o = decode_options(options, impl_->draft);
    o.adaptive = impl_->adaptive;
    if (o.json_schema) o.json_mask = impl_->model->json_mask();
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
        per[i].adaptive = s.adaptive;
        if (per[i].json_schema) per[i].json_mask = s.model->json_mask();
        reqs.push_back({s.model->model->tokenizer().encode(prompts[i]), s.drafter.get(), &per[i]});
    }
    const Model::Impl& model = *sessions[0]->impl_->model;
    auto rs = decode_batch(model.model, reqs, per[0], Overlap::Off, nullptr, model.arena.get());
    std::vector<Result> out;
    for (auto& r : rs) out.push_back(to_result(std::move(r)));
    return out;
}

// ---- Engine ----

struct Request::Impl {
    std::shared_ptr<EngineRequest> req;
    std::size_t read = 0;  // of req->text, returned by next(); under req->mu
};

bool Request::next(std::string& piece) {
    auto& q = *impl_->req;
    std::unique_lock<std::mutex> lock(q.mu);
    q.cv.wait(lock, [&] { return q.done || q.text.size() > impl_->read; });
    piece = q.text.substr(impl_->read);
    impl_->read = q.text.size();
    return !piece.empty() || !q.done;
}

Result Request::wait() {
    auto& q = *impl_->req;
    const auto lock = q.wait_done();
    q.throw_if_failed();
    DecodeResult copy = q.result;
    return to_result(std::move(copy));
}

void Request::cancel() {
    impl_->req->cancelled = true;
}

bool Request::done() const {
    std::lock_guard<std::mutex> lock(impl_->req->mu);
    return impl_->req->done;
}

struct Engine::Impl {
    std::shared_ptr<Model::Impl> model;
    std::unique_ptr<EngineCore> core;
};

Engine::Engine(const Model& model, const EngineOptions& options) : impl_(std::make_unique<Impl>()) {
    impl_->model = model.impl_;
    if (options.slots < 1)
        throw InputError("EngineOptions::slots " + std::to_string(options.slots) + " must be 1 or more");
    if (options.max_queue < 0)
        throw InputError("EngineOptions::max_queue " + std::to_string(options.max_queue) + " is negative");
    EngineCoreOptions o;
    o.slots = options.slots;
    o.max_queue = options.max_queue;
    o.cost_key = cost_key(impl_->model->path, *impl_->model->model);
    o.arena = impl_->model->arena.get();
    o.prefix_cache_bytes = options.prefix_cache_bytes;
    for (const auto& d : options.drafters) {
        if (d.drafter == "none") throw InputError("EngineOptions::drafters: \"none\" needs no entry");
        if (o.drafters.count(d.drafter))
            throw InputError("EngineOptions::drafters: '" + d.drafter + "' is listed twice");
        const auto dopt = drafter_options(d);
        o.loaded[d.drafter] =
            impl_->model->in_arena([&] { return create_drafter(d.drafter, dopt, impl_->model->model); });
        o.drafters[d.drafter] = dopt;
    }
    impl_->core = std::make_unique<EngineCore>(impl_->model->model, std::move(o));
}

Engine::~Engine() = default;

Request Engine::submit(std::string_view prompt, const RequestOptions& options) {
    const auto ids = impl_->model->model->tokenizer().encode(prompt);
    return submit_tokens(ids, options);
}

Request Engine::submit_tokens(std::span<const std::int32_t> prompt, const RequestOptions& options) {
    const auto& g = options.generate;
    const auto& d = options.draft;
    if (g.on_token || g.on_round || g.cancel)
        throw InputError(
            "RequestOptions::generate: on_token, on_round and cancel are Session's; read an engine request "
            "with Request::next and stop it with Request::cancel");
    if (!d.draft_model.empty() || !d.extra.empty())
        throw InputError("RequestOptions::draft: draft_model and extra belong to EngineOptions::drafters");
    if (!impl_->core->has_drafter(d.drafter))
        throw InputError("RequestOptions::draft: drafter '" + d.drafter +
                         "' is not one of EngineOptions::drafters");
    check_draft(d);
    auto req = std::make_shared<EngineRequest>();
    req->prompt.assign(prompt.begin(), prompt.end());
    req->options = decode_options(g, d);
    req->drafter = d.drafter;
    req->adaptive_k = d.k_auto;
    // A bad request is refused here, in the caller's thread, not later on the engine's.
    check_request(*impl_->model->model, req->options, req->prompt);
    if (!impl_->core->submit(req))
        throw InputError("the engine's queue is full (" + std::to_string(impl_->core->capacity()) +
                         " requests in flight) or it is stopping");
    Request r;
    r.impl_ = std::make_shared<Request::Impl>();
    r.impl_->req = std::move(req);
    return r;
}

}  // namespace ternspec
