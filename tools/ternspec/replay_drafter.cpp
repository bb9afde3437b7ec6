#include "tools/ternspec/replay_drafter.hpp"

#include <algorithm>
#include <chrono>

#include "ternspec/error.hpp"

namespace ternspec::cli {
namespace {

double now() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

ReplayDrafter::ReplayDrafter(std::unique_ptr<Drafter> inner, std::shared_ptr<const Qwen3Model> oracle_model,
                             std::unique_ptr<Drafter> oracle_drafter, const DecodeOptions& oracle_options,
                             const std::map<std::vector<std::int32_t>, std::vector<std::int32_t>>* references,
                             int vocab)
    : inner_(std::move(inner)),
      oracle_model_(std::move(oracle_model)),
      oracle_drafter_(std::move(oracle_drafter)),
      oracle_options_(oracle_options),
      references_(references),
      vocab_(vocab) {
    oracle_options_.stop_at_eos = false;  // the two sides must emit the same number of tokens
    oracle_options_.adaptive = nullptr;   // the measured side chooses each round's budget
    oracle_options_.sampling = SamplingParams{};
}

std::vector<int> ReplayDrafter::hidden_layers() const {
    return inner_ ? inner_->hidden_layers() : std::vector<int>{};
}

void ReplayDrafter::begin(std::span<const std::int32_t> prompt, const HiddenRows* hidden) {
    const std::vector<std::int32_t> key(prompt.begin(), prompt.end());
    auto it = references_->find(key);
    if (it == references_->end()) throw Error("replay: no plain-decoding reference for this prompt");
    reference_ = &it->second;
    prompt_size_ = prompt.size();
    if (inner_) inner_->begin(prompt, hidden);
    const double t = now();
    oracle_.emplace(oracle_model_, oracle_drafter_.get(), prompt, oracle_options_);
    oracle_->consume(oracle_model_->forward(oracle_->cache(), oracle_->next_input()));  // prefill
    untimed_ += now() - t;
}

void ReplayDrafter::observe(std::span<const std::int32_t> cached, const HiddenRows* hidden) {
    if (inner_) inner_->observe(cached, hidden);
}

void ReplayDrafter::oracle_round(const DraftBudget& budget) {
    const double t = now();
    if (oracle_->done())
        throw Error("replay: the trained pair stopped before the measured target (its context is shorter)");
    oracle_->set_budget(budget);
    const auto& in = oracle_->next_input();
    oracle_->consume(oracle_model_->forward(oracle_->cache(), in));
    untimed_ += now() - t;
}

DraftTree ReplayDrafter::propose(std::span<const std::int32_t> context, const DraftBudget& budget) {
    if (inner_) {  // the real cost; its tokens are replaced below
        const DraftTree own = inner_->propose(context, budget);
        int depth = 0;
        for (std::size_t i = 0; i < own.size(); ++i) depth = std::max(depth, own.depth(static_cast<int>(i)));
        bytes_ += inner_->weight_bytes_per_draft(depth);
        drafted_ += own.size();
    }
    oracle_round(budget);
    const DraftTree& shape = oracle_->last_draft();
    const auto& accepted = oracle_->last_accepted();
    // The measured target's next tokens after the pending one: reference[emitted .. ].
    const std::size_t emitted = context.size() - prompt_size_;
    DraftTree out = shape;
    out.dist.clear();  // one-hot proposals
    std::vector<char> on_path(shape.size(), 0);
    for (int node : accepted) on_path[static_cast<std::size_t>(node)] = 1;
    for (std::size_t i = 0; i < shape.size(); ++i) {
        const std::size_t at = emitted + static_cast<std::size_t>(shape.depth(static_cast<int>(i))) - 1;
        if (at >= reference_->size()) throw Error("replay: the draft reaches past the reference output");
        const std::int32_t right = (*reference_)[at];
        // Off the accepted path: a token the target will not choose, distinct among siblings.
        out.tokens[i] =
            on_path[i] ? right : static_cast<std::int32_t>((right + 1 + static_cast<int>(i)) % vocab_);
    }
    return out;
}

void ReplayDrafter::end_request(std::span<const std::int32_t> output) {
    if (inner_) inner_->end_request(output);
    if (oracle_) {
        const double t = now();
        oracle_->finish();
        oracle_.reset();
        untimed_ += now() - t;
    }
}

std::size_t ReplayDrafter::weight_bytes_per_draft(int depth) const {
    return inner_ ? inner_->weight_bytes_per_draft(depth) : 0;
}

double ReplayDrafter::take_untimed_seconds() {
    const double s = untimed_ + (inner_ ? inner_->take_untimed_seconds() : 0.0);
    untimed_ = 0;
    return s;
}

}  // namespace ternspec::cli
