#include "runtime/decode_session.hpp"

#include <algorithm>
#include <chrono>
#include <numeric>

#include "ternspec/error.hpp"
#include "verify/verify.hpp"

namespace ternspec {
namespace {

double steady_now() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

HiddenRows select_rows(const std::map<int, std::vector<float>>& hidden, const std::vector<int>& rows,
                       int width) {
    HiddenRows out;
    for (const auto& [layer, all] : hidden) {
        auto& dst = out[layer];
        dst.resize(rows.size() * static_cast<std::size_t>(width));
        for (std::size_t r = 0; r < rows.size(); ++r)
            std::copy_n(all.begin() + static_cast<std::ptrdiff_t>(rows[r]) * width, width,
                        dst.begin() + static_cast<std::ptrdiff_t>(r) * width);
    }
    return out;
}

// Rows this request can ever hold: its prompt, its output and one draft. A long-context model then costs
// KV memory for what is asked, not for its whole context (4.7 GB per request at Qwen3-1.7B's 40K).
int kv_rows(int ctx, std::size_t prompt, const DecodeOptions& opt) {
    const long long need = static_cast<long long>(prompt) + std::max(0, opt.max_new_tokens) +
                           std::max(opt.budget.max_depth, opt.budget.max_nodes) + 2;
    return static_cast<int>(std::min<long long>(ctx, need));
}

// Verification's view of the constraint: the document so far, then the draft path to the row.
class JsonRows : public RowMask {
  public:
    JsonRows(const JsonTokenMask& mask, const JsonConstraint& state) : mask_(mask), state_(state) {}
    void apply(float* row, std::span<const std::int32_t> path) const override {
        JsonConstraint s = state_;
        for (auto t : path)
            if (!mask_.allows(s, t, &s)) return;  // a draft token outside the document: the row is never used
        mask_.apply(s, row);
    }
    bool admits(std::span<const std::int32_t> path, std::int32_t token) const override {
        JsonConstraint s = state_;
        for (auto t : path)
            if (!mask_.allows(s, t, &s)) return false;
        return mask_.allows(s, token);
    }

  private:
    const JsonTokenMask& mask_;
    const JsonConstraint& state_;
};

}  // namespace

int request_context(const Qwen3Model& m, const DecodeOptions& opt) {
    return opt.context > 0 ? std::min(opt.context, m.config().context_length) : m.config().context_length;
}

int check_request(const Qwen3Model& m, const DecodeOptions& opt, std::span<const std::int32_t> prompt) {
    validate(opt);
    const int ctx = request_context(m, opt);
    const int vocab = m.config().vocab_size;
    if (prompt.empty()) throw InputError("empty prompt: nothing to condition on");
    for (auto t : prompt)
        if (t < 0 || t >= vocab)
            throw InputError("prompt token id " + std::to_string(t) + " is out of range (vocabulary of " +
                             std::to_string(vocab) + ")");
    if (static_cast<int>(prompt.size()) >= ctx)
        throw InputError("prompt of " + std::to_string(prompt.size()) +
                         " tokens does not fit the context of " + std::to_string(ctx) +
                         " tokens (one more is needed to generate)");
    return ctx;
}

DecodeSession::DecodeSession(std::shared_ptr<const Qwen3Model> model, Drafter* drafter,
                             std::span<const std::int32_t> prompt, const DecodeOptions& opt)
    : model_(std::move(model)),
      drafter_(drafter),
      opt_(opt),
      ctx_(check_request(*model_, opt, prompt)),  // validate first, allocate after
      layers_(drafter ? drafter->hidden_layers() : std::vector<int>{}),
      cache_(model_->make_cache(kv_rows(ctx_, prompt.size(), opt), opt.kv_type)),
      rng_(opt.sampling.seed),
      stream_(model_->tokenizer()),
      text_(opt.stop),
      prompt_(prompt.begin(), prompt.end()) {
    res_.stats.prompt_tokens = static_cast<std::int64_t>(prompt.size());
    if (opt.json_schema) {
        json_.emplace(opt.json_schema);
        json_mask_ = opt.json_mask
                         ? opt.json_mask
                         : std::make_shared<JsonTokenMask>(model_->tokenizer(), model_->config().vocab_size);
    }
    t0_ = now();
}

void DecodeSession::reuse_prefix(const KvCache& src, int rows) {
    if (prefilled_ || cache_.size() != 0) throw Error("DecodeSession::reuse_prefix after the prefill began");
    if (!layers_.empty())
        throw Error(
            "DecodeSession::reuse_prefix: the drafter reads the target's hidden states of every prompt row");
    if (rows <= 0 || rows >= static_cast<int>(prompt_.size()))
        throw Error("DecodeSession::reuse_prefix: " + std::to_string(rows) + " rows of a prompt of " +
                    std::to_string(prompt_.size()));
    cache_.copy_prefix_from(src, rows);
    reused_ = rows;
    res_.stats.cached_prompt_tokens = rows;
}

double DecodeSession::now() const {
    return opt_.clock ? opt_.clock() : steady_now();
}

template <typename F>
double DecodeSession::timed_drafter_call(F&& call) {
    const double td = now();
    call();
    const double s = now() - td;
    res_.stats.t_draft += s;
    return s;
}

void DecodeSession::prune_outside_document() {
    // A node the document cannot take has probability 0 under the masked target: never accepted. Dropping
    // it (and its subtree) before the forward is exact for greedy verification and for one-hot proposals;
    // with draft distributions a rejected child also changes the residual the next child is tried against,
    // so sampled soft drafts are verified whole.
    if (!opt_.sampling.greedy() && !draft_.dist.empty()) return;
    std::vector<JsonConstraint> at(draft_.size(), *json_);
    std::vector<char> keep(draft_.size(), 0);
    for (std::size_t i = 0; i < draft_.size(); ++i) {
        const std::int32_t p = draft_.parents[i];
        if (p >= 0 && !keep[static_cast<std::size_t>(p)]) continue;
        keep[i] =
            json_mask_->allows(p < 0 ? *json_ : at[static_cast<std::size_t>(p)], draft_.tokens[i], &at[i]);
    }
    res_.stats.pruned += static_cast<std::int64_t>(draft_.prune(keep));
}

std::int32_t DecodeSession::choose(const float* logits) {
    const int vocab = model_->config().vocab_size;
    std::vector<float> penalized;
    if (opt_.sampling.penalized()) {
        penalized.assign(logits, logits + vocab);
        apply_repeat_penalty(penalized.data(), vocab, opt_.sampling, context_);
        logits = penalized.data();
    }
    if (opt_.sampling.greedy()) {
        const std::int32_t want = argmax(logits, vocab);
        // Allowed, the argmax is the constrained argmax too: the whole row is masked only when it is not.
        if (!json_ || json_mask_->allows(*json_, want)) return want;
    }
    if (json_) {
        if (penalized.empty()) penalized.assign(logits, logits + vocab);
        json_mask_->apply(*json_, penalized.data());
        logits = penalized.data();
    }
    return opt_.sampling.greedy() ? argmax(logits, vocab)
                                  : rng_.draw(target_distribution(logits, vocab, opt_.sampling));
}

bool DecodeSession::emit(std::int32_t tok) {
    res_.tokens.push_back(tok);
    context_.push_back(tok);
    ++res_.stats.emitted;
    if (res_.stats.target_forwards > 0) ++res_.stats.round_emitted;  // the prefill's token is no round's
    if (opt_.stop_at_eos && model_->tokenizer().is_end(tok)) {
        res_.stop_reason = StopReason::Eos;
        return false;
    }
    if (json_ && !json_mask_->allows(*json_, tok, &*json_))
        throw Error("structured output: token " + std::to_string(tok) + " was emitted outside the document");
    const bool go = text_.feed(stream_.push(tok));
    const bool wanted = !opt_.on_token || opt_.on_token(tok, release());
    if (!go) {
        res_.stop_reason = StopReason::StopString;
        return false;
    }
    if (!wanted) {
        res_.stop_reason = StopReason::Cancelled;
        return false;
    }
    if (json_ && json_->complete()) {
        res_.stop_reason = StopReason::Complete;
        return false;
    }
    if (static_cast<int>(res_.tokens.size()) >= opt_.max_new_tokens) {
        res_.stop_reason = StopReason::Length;
        return false;
    }
    return true;
}

const ForwardInput& DecodeSession::next_input() {
    input_ = ForwardInput{};
    input_.hidden_layers = layers_;
    if (!prefilled_) {
        // The prompt after what a prefix cache supplied.
        pos_.resize(prompt_.size() - static_cast<std::size_t>(reused_));
        std::iota(pos_.begin(), pos_.end(), reused_);
        toks_.assign(prompt_.begin() + reused_, prompt_.end());
        input_.tokens = toks_;
        input_.positions = pos_;
        input_.logit_rows = {static_cast<std::int32_t>(toks_.size()) - 1};
        return input_;
    }
    // Draft, capped by the context left and the tokens still wanted.
    draft_ = DraftTree{};
    if (drafter_) {
        round_draft_s_ = timed_drafter_call([&] {
            DraftBudget b = opt_.budget;
            if (!opt_.sampling.greedy()) b.sampling = &opt_.sampling, b.rng = &rng_;
            if (opt_.adaptive) b.max_depth = std::min(b.max_depth, opt_.adaptive->choose());
            b.max_depth = std::min(b.max_depth, opt_.max_new_tokens - static_cast<int>(res_.tokens.size()));
            if (b.max_depth > 0) draft_ = drafter_->propose(context_, b);
            draft_.truncate(static_cast<std::size_t>(std::max(0, ctx_ - cache_.size() - 1)));
            if (json_) prune_outside_document();
            if (static_cast<int>(draft_.size()) < opt_.draft_min) draft_ = DraftTree{};
        });
    }
    toks_ = {pending_};
    pos_ = {cache_.size()};
    parents_ = {-1};
    depth_ = 0;  // the draft's longest path
    for (std::size_t i = 0; i < draft_.size(); ++i) {
        const int d = draft_.depth(static_cast<int>(i));
        depth_ = std::max(depth_, d);
        toks_.push_back(draft_.tokens[i]);
        parents_.push_back(draft_.parents[i] + 1);  // node i sits at row i + 1; the root is row 0
        pos_.push_back(cache_.size() + d);
    }
    input_.tokens = toks_;
    input_.positions = pos_;
    if (!draft_.is_chain()) input_.parents = parents_;
    t_sent_ = now();
    return input_;
}

void DecodeSession::consume(const ForwardOutput& out) {
    DecodeStats& st = res_.stats;
    const int vocab = model_->config().vocab_size, H = model_->config().hidden_size;
    if (!prefilled_) {
        prefilled_ = true;
        context_ = prompt_;  // before choosing: a repeat penalty looks at the prompt
        pending_ = choose(out.logits.data());
        // The drafter's pass over the prompt is part of the prefill (time to first token), not of drafting.
        if (drafter_) {
            drafter_->begin(prompt_, layers_.empty() ? nullptr : &out.hidden);
            if (opt_.budget.max_depth > 0 && opt_.max_new_tokens > 1)
                drafter_->catch_up(prompt_, opt_.budget.max_depth);
        }
        st.t_prefill = now() - t0_;
        if (opt_.max_new_tokens == 0) res_.stop_reason = StopReason::Length;
        done_ = !(opt_.max_new_tokens > 0 && emit(pending_));
        if (!done_ && cache_.size() + 1 > ctx_) res_.stop_reason = StopReason::Context, done_ = true;
        return;
    }
    const int n = static_cast<int>(toks_.size());
    std::optional<JsonRows> rows;
    if (json_) rows.emplace(*json_mask_, *json_);
    const RowMask* mask = rows ? &*rows : nullptr;
    const Verdict v =
        opt_.sampling.greedy()
            ? verify_greedy(draft_, out.logits.data(), vocab, opt_.sampling, context_, mask)
            : verify_stochastic(draft_, out.logits.data(), vocab, opt_.sampling, rng_, context_, mask);
    std::vector<int> kept{0};
    for (int node : v.accepted_nodes) kept.push_back(node + 1);
    cache_.keep(n, kept);
    st.record_round(depth_, static_cast<int>(draft_.size()), static_cast<int>(v.accepted_nodes.size()));
    if (opt_.adaptive) opt_.adaptive->record(depth_, static_cast<int>(v.accepted_nodes.size()));
    double observe_s = 0;
    const double verify_s = now() - t_sent_;
    st.t_verify += verify_s;  // the target's forward (shared in a batch) and the verification
    accepted_ = v.accepted_nodes;
    if (drafter_) {
        std::vector<std::int32_t> cached{pending_};
        for (int node : v.accepted_nodes) cached.push_back(draft_.tokens[static_cast<std::size_t>(node)]);
        observe_s = timed_drafter_call([&] {
            if (layers_.empty()) {
                drafter_->observe(cached, nullptr);
            } else {
                const auto rows = select_rows(out.hidden, kept, H);
                drafter_->observe(cached, &rows);
            }
        });
    }
    // A drafting round after rounds without a draft carries the drafter's catch-up over every token since it
    // last drafted (EAGLE's and MTP's heads run over those rows then): over the whole prompt in a request's
    // first round, over the idle rounds' tokens after the controller stopped drafting. That backlog is not a
    // cost per drafted token; taught to the controller, it priced drafting out for good (-k auto drafted
    // nothing at the 1.7B shape). Only rounds that follow a drafting round teach the cost.
    if (opt_.adaptive && depth_ > 0 && drafted_last_round_)
        opt_.adaptive->record_draft_cost(round_draft_s_ + observe_s, depth_);
    drafted_last_round_ = depth_ > 0;
    if (opt_.on_round)
        opt_.on_round(static_cast<int>(draft_.size()), static_cast<int>(v.accepted_nodes.size()),
                      round_draft_s_ + observe_s, verify_s);
    for (int node : v.accepted_nodes)
        if (!emit(draft_.tokens[static_cast<std::size_t>(node)])) {
            done_ = true;
            return;
        }
    pending_ = v.next_token;
    done_ = !emit(pending_);
    if (!done_ && cache_.size() + 1 > ctx_) res_.stop_reason = StopReason::Context, done_ = true;
}

std::string DecodeSession::release() {
    const std::size_t upto = text_.ready();
    std::string piece = text_.text().substr(shown_, upto - shown_);
    shown_ = upto;
    return piece;
}

DecodeResult DecodeSession::finish() {
    // An incomplete UTF-8 sequence at the end is flushed (replacement characters), except after end of
    // sequence; then the text held back for a stop string that never came is shown.
    if (res_.stop_reason != StopReason::Eos && !text_.stopped()) text_.feed(stream_.flush());
    text_.end();
    if (opt_.on_token && text_.ready() > shown_) opt_.on_token(-1, release());
    res_.text = text_.text();
    if (drafter_) drafter_->end_request(res_.tokens);
    res_.stats.t_total = now() - t0_;
    return std::move(res_);
}

}  // namespace ternspec
