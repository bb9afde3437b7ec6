#include "bench/harness/replay_drafter.hpp"

#include <algorithm>

#include "ternspec/error.hpp"

namespace ternspec::bench {

// The trained drafter as its session sees it, except that each round drafts with the budget the measured
// session chose (set before the round), within what the trained session allows (its remaining tokens).
class ForcedBudget : public Drafter {
  public:
    explicit ForcedBudget(std::unique_ptr<Drafter> inner) : inner_(std::move(inner)) {}
    std::string name() const override { return inner_->name(); }
    std::vector<int> hidden_layers() const override { return inner_->hidden_layers(); }
    void begin(std::span<const std::int32_t> prompt, const HiddenRows* hidden) override {
        inner_->begin(prompt, hidden);
    }
    void observe(std::span<const std::int32_t> cached, const HiddenRows* hidden) override {
        inner_->observe(cached, hidden);
    }
    DraftTree propose(std::span<const std::int32_t> context, const DraftBudget& budget) override {
        DraftBudget b = budget;
        b.max_depth = std::min(budget.max_depth, forced.max_depth);
        b.max_nodes = forced.max_nodes;
        return inner_->propose(context, b);
    }
    void catch_up(std::span<const std::int32_t> verified, int max_depth) override {
        inner_->catch_up(verified, max_depth);
    }
    void end_request(std::span<const std::int32_t> output) override { inner_->end_request(output); }
    DraftBudget forced;

  private:
    std::unique_ptr<Drafter> inner_;
};

ReplayDrafter::ReplayDrafter(std::unique_ptr<Drafter> inner, std::shared_ptr<const Qwen3Model> oracle_model,
                             std::unique_ptr<Drafter> oracle_drafter, const DecodeOptions& oracle_options,
                             const std::map<std::vector<std::int32_t>, std::vector<std::int32_t>>* references,
                             int vocab)
    : inner_(std::move(inner)),
      oracle_model_(std::move(oracle_model)),
      oracle_drafter_(std::make_unique<ForcedBudget>(std::move(oracle_drafter))),
      oracle_options_(oracle_options),
      references_(references),
      vocab_(vocab) {
    oracle_options_.stop_at_eos = false;  // the two sides must emit the same number of tokens
    oracle_options_.adaptive = nullptr;   // the measured side chooses each round's budget
    oracle_options_.sampling = SamplingParams{};
    oracle_options_.clock = nullptr;
    // Room for any budget the measured side may choose; ForcedBudget narrows each round to it.
    oracle_options_.budget = {kMaxDraftTokens, kMaxDraftTokens};
}

ReplayDrafter::~ReplayDrafter() = default;

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
    clock_->pause();
    oracle_.emplace(oracle_model_, oracle_drafter_.get(), prompt, oracle_options_);
    oracle_->consume(oracle_model_->forward(oracle_->cache(), oracle_->next_input()));  // prefill
    clock_->resume();
}

void ReplayDrafter::catch_up(std::span<const std::int32_t> verified, int max_depth) {
    if (inner_) inner_->catch_up(verified, max_depth);
}

void ReplayDrafter::observe(std::span<const std::int32_t> cached, const HiddenRows* hidden) {
    if (inner_) inner_->observe(cached, hidden);
}

void ReplayDrafter::oracle_round(const DraftBudget& budget) {
    if (oracle_->done())
        throw Error("replay: the trained pair stopped before the measured target (its context is shorter)");
    clock_->pause();
    oracle_drafter_->forced = budget;
    const auto& in = oracle_->next_input();
    oracle_->consume(oracle_model_->forward(oracle_->cache(), in));
    clock_->resume();
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
        clock_->pause();
        oracle_->finish();
        oracle_.reset();
        clock_->resume();
    }
}

std::size_t ReplayDrafter::weight_bytes_per_draft(int depth) const {
    return inner_ ? inner_->weight_bytes_per_draft(depth) : 0;
}

}  // namespace ternspec::bench
