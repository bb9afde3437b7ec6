#pragma once
// Keys and values of every layer for the tokens seen so far, fp16 (default) or fp32. Speculative decoding
// appends a whole draft and then rolls back what was rejected: trim_by for a chain, keep() for the
// accepted path of a tree (the kept tokens move down, in order, to follow the prefix).
// Storage grows with the rows actually written, up to the capacity: a cache sized to a 40K context costs
// memory for the tokens it holds, not for the context (a drafter's F32 cache would otherwise take ~335 MB).
#include <cstdint>
#include <span>
#include <vector>

#include "target/model/model_config.hpp"

namespace ternspec {

enum class KvType { F16, F32 };

class KvCache {
  public:
    KvCache(const ModelConfig& cfg, int capacity, KvType type = KvType::F16);

    int size() const { return size_; }
    int capacity() const { return capacity_; }
    KvType type() const { return type_; }
    int row_width() const { return width_; }  // kv_heads * head_dim

    // Writes the key and value rows of `slot` for one layer (slot may be past size() until commit).
    void store(int layer, int slot, const float* k, const float* v);
    // Reads `n` values of a row starting at element `first` (one attention head's slice).
    void load_part(int layer, int slot, bool value, int first, int n, float* out) const;
    const void* k_row(int layer, int slot) const;
    const void* v_row(int layer, int slot) const;

    void commit(int n);  // the n rows after size() become part of the cache
    void trim_by(int n);
    void truncate(int len);
    // Of the last `count` committed rows, keep those at the given offsets (ascending) and drop the rest.
    void keep(int count, std::span<const int> offsets);

    std::size_t bytes() const { return data_.size(); }  // allocated now

  private:
    std::size_t offset(int layer, int slot, int which) const;
    void grow_to(int rows);
    int layers_, capacity_, width_;
    int allocated_ = 0;  // rows per [layer][k|v] plane
    KvType type_;
    int elem_;
    int size_ = 0;
    std::vector<std::uint8_t> data_;  // [layer][k|v][slot < allocated_][width]
};

}  // namespace ternspec
