#pragma once
// Keys and values of every layer for the tokens seen so far, fp16 (default) or fp32. Speculative decoding
// appends a whole draft and then rolls back what was rejected: trim_by for a chain, keep() for the
// accepted path of a tree (the kept tokens move down, in order, to follow the prefix).
// Storage grows with the rows actually written, up to the capacity: a cache sized to a 40K context costs
// memory for the tokens it holds, not for the context (a drafter's F32 cache would otherwise take ~335 MB).
// Each kv head's slices are contiguous across slots: attention reads one head's run of slots, and with whole
// rows interleaved that was one short slice per row stride, which the hardware prefetcher did not follow.
#include <cstdint>
#include <span>
#include <vector>

#include "target/model/model_config.hpp"
#include "target/model/recurrent_state.hpp"

namespace ternspec {

enum class KvType { F16, F32 };

class KvCache {
  public:
    KvCache(const ModelConfig& cfg, int capacity, KvType type = KvType::F16);

    int size() const { return size_; }
    int capacity() const { return capacity_; }
    KvType type() const { return type_; }
    int row_width() const { return width_; }  // kv_heads * head_dim
    int head_dim() const { return head_dim_; }

    // Writes the key and value rows of `slot` for one layer (slot may be past size() until commit).
    void store(int layer, int slot, const float* k, const float* v);
    // Reads `n` values of a row (kv_heads * head_dim) starting at element `first`.
    void load_part(int layer, int slot, bool value, int first, int n, float* out) const;
    // One kv head's head_dim values of a slot, as stored (fp16 or fp32); the next slot's follow them.
    const void* slice(int layer, bool value, int head, int slot) const;

    void commit(int n);  // the n rows after size() become part of the cache
    void trim_by(int n);
    void truncate(int len);
    // Of the last `count` committed rows, keep those at the given offsets (ascending) and drop the rest.
    void keep(int count, std::span<const int> offsets);

    std::size_t bytes() const { return data_.size(); }  // keys and values allocated now
    std::size_t total_bytes() const;                    // with the recurrent state's buffers
    // This empty cache takes the first `rows` rows of `src` (same shape and type): a prefix cache hit. A
    // hybrid target's recurrent state exists only at `src`'s end, so there `rows` must be src.size().
    void copy_prefix_from(const KvCache& src, int rows);

    // A hybrid target's Gated DeltaNet state (recurrent_state.hpp). Rolling back (trim_by, truncate, keep)
    // reaches it too: within the last forward call by replaying the kept tokens' updates; truncate(0) starts
    // over from the zero state; anything else is refused by name.
    RecurrentState& recurrent() { return recurrent_; }
    const RecurrentState& recurrent() const { return recurrent_; }
    int recurrent_layers() const { return recurrent_.layers(); }

  private:
    std::size_t offset(int layer, int which, int head, int slot) const;
    void grow_to(int rows);
    int layers_, capacity_, kv_heads_, head_dim_, width_;
    int allocated_ = 0;  // slots per [layer][k|v][head] plane
    KvType type_;
    int elem_;
    int size_ = 0;
    std::vector<std::uint8_t> data_;  // [layer][k|v][kv head][slot < allocated_][head_dim]
    RecurrentState recurrent_;
    void roll_back_recurrent(const char* what, int n);
};

}  // namespace ternspec
