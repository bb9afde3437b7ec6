#include "target/model/recurrent_state.hpp"

#include <algorithm>

#include "target/kernels/kernel_table.hpp"
#include "target/kernels/row_parallel.hpp"
#include "ternspec/error.hpp"

namespace ternspec {

RecurrentState::RecurrentState(const ModelConfig& cfg)
    : layers_(cfg.recurrent_count()),
      d_(cfg.ssm_head_dim),
      hk_(cfg.ssm_key_heads),
      hv_(cfg.ssm_value_heads),
      channels_(cfg.ssm_conv_channels()),
      window_rows_(std::max(cfg.ssm_conv_kernel - 1, 0)) {
    const auto n = static_cast<std::size_t>(layers_);
    const std::size_t state = static_cast<std::size_t>(hv_) * d_ * d_;
    const std::size_t window = static_cast<std::size_t>(window_rows_) * channels_;
    for (auto& s : state_) s.assign(n, std::vector<float>(state));
    conv_.assign(n, std::vector<float>(window));
    conv_start_.assign(n, std::vector<float>(window));
    journal_.assign(n, {});
}

void RecurrentState::check_call(int tokens, bool tree) const {
    if (empty()) return;
    if (tree_)
        throw Error(
            "RecurrentState: a forward over a draft tree must be resolved (KvCache::keep of one path) "
            "before the next forward");
    if (tree && tokens > kMaxJournaled)
        throw InputError("a draft tree of " + std::to_string(tokens) +
                         " tokens on a hybrid target (at most " + std::to_string(kMaxJournaled) +
                         ", the rows a call journals)");
}

void RecurrentState::begin_call(int tokens, std::span<const std::int32_t> tree_parents) {
    const bool tree = !tree_parents.empty();
    if (empty()) return;
    check_call(tokens, tree);
    if (ran_) base_ = 1 - base_;  // the last call's result is now what this one starts from
    ran_ = true;
    tree_ = tree;
    parents_.assign(tree_parents.begin(), tree_parents.end());
    call_tokens_ = tokens;
    const bool journaled = tokens <= kMaxJournaled;
    for (int r = 0; r < layers_; ++r) {
        conv_start_[static_cast<std::size_t>(r)] = conv_[static_cast<std::size_t>(r)];
        auto& j = journal_[static_cast<std::size_t>(r)];
        j.resize(journaled ? record_floats() * static_cast<std::size_t>(tokens) : 0);
        if (!journaled) j.shrink_to_fit();
    }
}

void RecurrentState::record(int r, int t, const float* k, const float* v, const float* decay,
                            const float* beta, const float* conv_in) {
    if (call_tokens_ > kMaxJournaled) return;
    float* p = journal_[static_cast<std::size_t>(r)].data() + record_floats() * static_cast<std::size_t>(t);
    p = std::copy_n(k, hk_ * d_, p);
    p = std::copy_n(v, hv_ * d_, p);
    p = std::copy_n(decay, hv_, p);
    p = std::copy_n(beta, hv_, p);
    std::copy_n(conv_in, channels_, p);
}

const std::vector<float>& RecurrentState::state(int r) const {
    if (tree_)
        throw Error("RecurrentState::state: the last forward was over a draft tree; keep one path first");
    return state_[ran_ ? 1 - base_ : base_][static_cast<std::size_t>(r)];
}

void RecurrentState::keep_prefix(int kept) {
    if (kept < 0 || kept > call_tokens_)
        throw Error("RecurrentState::keep_prefix(" + std::to_string(kept) + ") after a call of " +
                    std::to_string(call_tokens_) + " tokens");
    if (empty() || (kept == call_tokens_ && !tree_)) return;
    if (kept > 0 && call_tokens_ > kMaxJournaled)
        throw Error("RecurrentState::keep_prefix: a forward call of " + std::to_string(call_tokens_) +
                    " tokens rolls back whole or not at all (calls of up to " +
                    std::to_string(kMaxJournaled) + " tokens roll back in part)");
    std::vector<int> rows(static_cast<std::size_t>(kept));
    for (int i = 0; i < kept; ++i) rows[static_cast<std::size_t>(i)] = i;
    if (tree_) return keep_path(rows);  // a tree's first rows are a path only if each is the next's parent
    replay(rows);
}

void RecurrentState::keep_path(std::span<const int> rows) {
    if (empty()) return;
    int prev = -1;
    for (const int row : rows) {
        if (row <= prev || row >= call_tokens_)
            throw Error("RecurrentState::keep_path: rows must be ascending and inside the last call (" +
                        std::to_string(call_tokens_) + " tokens)");
        prev = row;
    }
    if (!tree_)
        throw Error("RecurrentState::keep_path: the last forward was a chain (keep_prefix rolls it back)");
    for (std::size_t i = 0; i < rows.size(); ++i)
        if (parents_[static_cast<std::size_t>(rows[i])] != (i == 0 ? -1 : rows[i - 1]))
            throw Error("RecurrentState::keep_path: rows " + std::to_string(i == 0 ? -1 : rows[i - 1]) +
                        " and " + std::to_string(rows[i]) +
                        " are not parent and child in the last draft tree");
    replay(rows);
}

// The state after the journaled tokens at `rows` (a path: each row's update applies to the state its
// predecessor in the list left), rebuilt from the committed state; the journal is compacted to those rows so
// that a later rollback within them replays a prefix.
void RecurrentState::replay(std::span<const int> rows) {
    const int kept = static_cast<int>(rows.size());
    const std::size_t rec = record_floats();
    for (int r = 0; r < layers_; ++r) {
        auto& jr = journal_[static_cast<std::size_t>(r)];
        for (int i = 0; i < kept; ++i)  // rows ascend, so each record moves down or stays
            if (rows[static_cast<std::size_t>(i)] != i)
                std::copy_n(jr.data() + rec * static_cast<std::size_t>(rows[static_cast<std::size_t>(i)]),
                            rec, jr.data() + rec * static_cast<std::size_t>(i));
        const float* from = state_[base_][static_cast<std::size_t>(r)].data();
        float* to = state_[1 - base_][static_cast<std::size_t>(r)].data();
        // Head by head, each head's kept tokens in order (the forward's order; a head's state stays in
        // cache).
        const auto rule = kernels().delta_rule_head;
        for_each_row(hv_, d_ * d_ * kept, [&](int h) {
            const std::size_t head = static_cast<std::size_t>(h) * d_ * d_;
            for (int t = 0; t < kept; ++t) {
                const float* k = jr.data() + rec * static_cast<std::size_t>(t);
                const float* v = k + hk_ * d_;
                const float* decay = v + hv_ * d_;
                const float* beta = decay + hv_;
                rule(to + head, (t == 0 ? from : to) + head, k + (h % hk_) * d_, v + h * d_, nullptr,
                     decay[h], beta[h], d_, nullptr);
            }
        });
        // The conv window: the last window_rows_ rows of the start window followed by the kept inputs.
        auto& window = conv_[static_cast<std::size_t>(r)];
        const auto& start = conv_start_[static_cast<std::size_t>(r)];
        for (int row = 0; row < window_rows_; ++row) {
            const int src = row + kept;  // index into [start rows..., kept inputs...]
            const float* in = src < window_rows_
                                  ? start.data() + static_cast<std::size_t>(src) * channels_
                                  : jr.data() + rec * static_cast<std::size_t>(src - window_rows_) +
                                        static_cast<std::size_t>(hk_ * d_ + hv_ * d_ + 2 * hv_);
            std::copy_n(in, channels_, window.data() + static_cast<std::size_t>(row) * channels_);
        }
    }
    if (kept == 0) ran_ = false;  // the committed buffer is the state again
    call_tokens_ = kept;
    tree_ = false;
}

std::size_t RecurrentState::bytes() const {
    std::size_t floats = 0;
    for (const auto* group : {&state_[0], &state_[1], &conv_, &conv_start_, &journal_})
        for (const auto& v : *group) floats += v.capacity();
    return floats * sizeof(float);
}

void RecurrentState::assign(const RecurrentState& src) {
    if (src.layers_ != layers_ || src.d_ != d_ || src.hk_ != hk_ || src.hv_ != hv_ ||
        src.channels_ != channels_ || src.window_rows_ != window_rows_)
        throw Error("RecurrentState::assign: states of different shapes");
    for (int r = 0; r < layers_; ++r) state_[0][static_cast<std::size_t>(r)] = src.state(r);
    conv_ = src.conv_;
    base_ = 0;
    ran_ = false;
    tree_ = false;
    call_tokens_ = 0;
}

void RecurrentState::reset() {
    for (auto& s : state_)
        for (auto& v : s) std::fill(v.begin(), v.end(), 0.0f);
    for (auto& v : conv_) std::fill(v.begin(), v.end(), 0.0f);
    base_ = 0;
    ran_ = false;
    tree_ = false;
    call_tokens_ = 0;
}

}  // namespace ternspec
