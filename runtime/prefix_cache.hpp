#pragma once
// Finished requests' KV caches kept for later requests that start with the same tokens (a shared system
// prompt, the next turn of a chat), in a least-recently-used store bounded in bytes. A hit copies the
// matching rows instead of computing them; batch invariance makes the copy what the prefill would have
// written, so the output does not change. On a hybrid target the recurrent state exists only at an entry's
// end: an entry serves a prompt that extends all of it.
#include <cstdint>
#include <list>
#include <span>
#include <vector>

#include "target/model/kv_cache.hpp"

namespace ternspec {

class PrefixCache {
  public:
    explicit PrefixCache(std::size_t max_bytes) : max_bytes_(max_bytes) {}

    struct Hit {
        const KvCache* cache = nullptr;  // valid until the next insert
        int rows = 0;                    // the prompt's first `rows` tokens are in it
    };
    // The entry sharing the longest prefix with `prompt`, leaving at least one prompt token to compute (its
    // logits choose the first output token). No hit: rows 0.
    Hit lookup(std::span<const std::int32_t> prompt);
    // Keeps `cache`, whose rows hold `tokens`' keys and values (tokens.size() == cache.size()). An entry the
    // new one extends is dropped; the least recently used go while the store is over its budget (one
    // larger than the whole budget is not kept).
    void insert(std::vector<std::int32_t> tokens, KvCache cache);

    std::size_t bytes() const { return bytes_; }
    std::size_t max_bytes() const { return max_bytes_; }
    std::size_t entries() const { return entries_.size(); }

  private:
    struct Entry {
        std::vector<std::int32_t> tokens;
        KvCache cache;
        std::size_t bytes;
    };
    std::size_t max_bytes_, bytes_ = 0;
    std::list<Entry> entries_;  // most recently used first
};

}  // namespace ternspec
