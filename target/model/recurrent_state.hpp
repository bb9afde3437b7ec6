#pragma once
// A hybrid target's Gated DeltaNet state for one sequence, and its rollback without copies (issue #35).
//
// Each GDN layer keeps its state (value heads x head_dim x head_dim, each value row's key entries contiguous)
// in two buffers. A forward call starts from the committed one and writes into the other: its first token
// reads the committed state and writes the updated one, the next tokens update that in place. The committed
// buffer is therefore intact until the next call, and rolling the call back to its first `kept` tokens
// replays their rank-1 updates from it with the very same arithmetic (the delta_rule_head kernel), which
// makes the result byte-identical to decoding those tokens alone. What a replay needs is journaled per token:
// the normalised k of each key head, v, decay and beta of each value head, and the conv input row (for the
// conv window, of which a copy is kept per call: conv_kernel - 1 rows).
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "target/model/model_config.hpp"

namespace ternspec {

class RecurrentState {
  public:
    explicit RecurrentState(const ModelConfig& cfg);

    int layers() const { return layers_; }
    std::size_t bytes() const;  // the buffers held now
    bool empty() const { return layers_ == 0; }

    // A forward of `tokens` tokens begins: the current state becomes the committed one it starts from.
    // Calls of more than kMaxJournaled tokens (a prefill) keep no journal: they can be rolled back whole
    // (nothing to replay) but not in part. A journal token costs (Hk + Hv) d + 2 Hv + channels floats per
    // layer, 57 KB at the 4B shape, so a 512-token prefill would have held 700 MB for nothing.
    static constexpr int kMaxJournaled = 80;  // a verification round: 1 + up to 64 draft tokens, with room
    // tree_parents (not empty): the call's rows form a draft tree, row i's parent row tree_parents[i] (-1:
    // the committed state); the call must then be resolved by keep_path before anything reads the state or
    // calls again.
    void begin_call(int tokens, std::span<const std::int32_t> tree_parents = {});
    // What begin_call refuses, checked without changing anything (forward checks every sequence first).
    void check_call(int tokens, bool tree) const;
    int call_tokens() const { return call_tokens_; }
    bool tree_call() const { return tree_; }

    // During a call, for GDN layer r: the state the call started from, the state being written, the conv
    // window (conv_kernel - 1 rows of conv channels, oldest first) being updated.
    const float* committed(int r) const { return state_[base_][static_cast<std::size_t>(r)].data(); }
    float* working(int r) { return state_[1 - base_][static_cast<std::size_t>(r)].data(); }
    float* conv_window(int r) { return conv_[static_cast<std::size_t>(r)].data(); }
    // Token t of the call at layer r: k (key heads x d, normalised), v (value heads x d), decay and beta per
    // value head, and the conv input row (conv channels).
    void record(int r, int t, const float* k, const float* v, const float* decay, const float* beta,
                const float* conv_in);

    // The state after all tokens the last call kept (the working buffer once a call ran).
    const std::vector<float>& state(int r) const;
    const std::vector<float>& conv(int r) const { return conv_[static_cast<std::size_t>(r)]; }

    // Keeps the first `kept` tokens of the last call (kept <= call_tokens()), replaying their updates.
    void keep_prefix(int kept);
    // After a draft tree: keeps the call's rows `rows` (ascending, a path down the tree from its first row:
    // each one's parent is the one before it), replaying their updates. keep_prefix after a tree checks the
    // same way.
    void keep_path(std::span<const int> rows);
    void reset();  // the zero state of an empty sequence
    // This sequence's state becomes `src`'s current one (a prefix cache entry's), with no call to roll back.
    void assign(const RecurrentState& src);

  private:
    int layers_, d_, hk_, hv_, channels_, window_rows_;
    int base_ = 0;                       // state_[base_] is what the last call started from
    bool ran_ = false;                   // whether the working buffer holds a call's result
    bool tree_ = false;                  // the last call was a draft tree, not yet resolved to one path
    std::vector<std::int32_t> parents_;  // of that tree
    void replay(std::span<const int> rows);
    int call_tokens_ = 0;
    std::vector<std::vector<float>> state_[2], conv_, conv_start_;
    // Per layer, per token of the last call: k | v | decay | beta | conv input.
    std::vector<std::vector<float>> journal_;
    std::size_t record_floats() const {
        return static_cast<std::size_t>(hk_ * d_ + hv_ * d_ + 2 * hv_ + channels_);
    }
};

}  // namespace ternspec
