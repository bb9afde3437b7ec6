#pragma once
// Attention over a KV cache, shared by the target and the drafters that have their own layers (EAGLE).
// Each new token attends to a list of cache slots in slot order; results do not depend on how many
// tokens share the call.
#include <cstdint>
#include <span>
#include <vector>

#include "target/model/kv_cache.hpp"

namespace ternspec {

// Slots each of M new tokens (at cache slots base..base+M-1) attends to: the cached prefix, then itself and
// its ancestors in this call. parents empty: a chain; else parents[i] is i's parent in this call or -1.
std::vector<std::vector<int>> attention_slots(int base, int M, std::span<const std::int32_t> parents);

// RoPE (rotate-half) tables for the given positions: cos and sin, M x head_dim/2 each.
struct RopeTable {
    std::vector<float> cos, sin;
    int half = 0;
    RopeTable(std::span<const std::int32_t> positions, int head_dim, double theta);
    void apply(float* v, int token) const;  // one head vector of token `token`
};

// out (M x n_heads*head_dim) = softmax(q k^T / sqrt(d)) v for every token and head, grouped-query: query head
// h reads kv head h / (n_heads / n_kv_heads). q rows are `q_stride` floats apart.
void attend(const KvCache& cache, int layer, const std::vector<std::vector<int>>& slots, const float* q,
            std::size_t q_stride, int n_heads, int n_kv_heads, int head_dim, float* out);

}  // namespace ternspec
