#include "target/model/kv_cache.hpp"

#include <algorithm>
#include <cstring>

#include "target/io/half.hpp"
#include "target/kernels/half_table.hpp"
#include "ternspec/error.hpp"

namespace ternspec {

KvCache::KvCache(const ModelConfig& cfg, int capacity, KvType type)
    : layers_(cfg.kv_layers()),
      capacity_(capacity),
      kv_heads_(cfg.n_kv_heads),
      head_dim_(cfg.head_dim),
      width_(cfg.n_kv_heads * cfg.head_dim),
      type_(type),
      elem_(type == KvType::F16 ? 2 : 4),
      recurrent_(cfg) {
    if (capacity <= 0) throw InputError("KV cache capacity must be positive");
}

// The last n rows go: the recurrent state keeps the rest of the last call by replaying them.
void KvCache::roll_back_recurrent(const char* what, int n) {
    if (recurrent_.empty() || n == 0) return;
    if (n > recurrent_.call_tokens())
        throw Error(std::string("KvCache::") + what +
                    ": a hybrid target's recurrent state rolls back within its last forward call only (" +
                    std::to_string(recurrent_.call_tokens()) + " tokens), not " + std::to_string(n));
    recurrent_.keep_prefix(recurrent_.call_tokens() - n);
}

std::size_t KvCache::offset(int layer, int which, int head, int slot) const {
    const std::size_t plane = (static_cast<std::size_t>(layer) * 2 + which) * kv_heads_ + head;
    return (plane * allocated_ + slot) * head_dim_ * elem_;
}

// Doubling keeps the copies to O(rows written); each plane moves to its place in the wider layout.
void KvCache::grow_to(int rows) {
    const int target = std::min(capacity_, std::max({rows, 2 * allocated_, 64}));
    const std::size_t slice_bytes = static_cast<std::size_t>(head_dim_) * elem_;
    const int planes = 2 * layers_ * kv_heads_;
    std::vector<std::uint8_t> next(static_cast<std::size_t>(planes) * target * slice_bytes);
    for (int plane = 0; allocated_ > 0 && plane < planes; ++plane)
        std::memcpy(next.data() + static_cast<std::size_t>(plane) * target * slice_bytes,
                    data_.data() + static_cast<std::size_t>(plane) * allocated_ * slice_bytes,
                    static_cast<std::size_t>(allocated_) * slice_bytes);
    data_ = std::move(next);
    allocated_ = target;
}

std::size_t KvCache::total_bytes() const {
    return data_.size() + recurrent_.bytes();
}

void KvCache::copy_prefix_from(const KvCache& src, int rows) {
    if (size_ != 0) throw Error("KvCache::copy_prefix_from: the cache already holds rows");
    if (src.layers_ != layers_ || src.kv_heads_ != kv_heads_ || src.head_dim_ != head_dim_ ||
        src.type_ != type_ || src.recurrent_layers() != recurrent_layers())
        throw Error("KvCache::copy_prefix_from: caches of different shapes or types");
    if (rows < 0 || rows > src.size_ || rows > capacity_)
        throw Error("KvCache::copy_prefix_from: " + std::to_string(rows) + " rows of a cache of " +
                    std::to_string(src.size_) + " into one of capacity " + std::to_string(capacity_));
    if (!recurrent_.empty() && rows != src.size_)
        throw Error("KvCache::copy_prefix_from: a recurrent state exists only at the source's end (" +
                    std::to_string(src.size_) + " rows), not at " + std::to_string(rows));
    if (rows > allocated_) grow_to(rows);
    const std::size_t slice_bytes = static_cast<std::size_t>(head_dim_) * elem_;
    const int planes = 2 * layers_ * kv_heads_;
    for (int plane = 0; rows > 0 && plane < planes; ++plane)
        std::memcpy(data_.data() + static_cast<std::size_t>(plane) * allocated_ * slice_bytes,
                    src.data_.data() + static_cast<std::size_t>(plane) * src.allocated_ * slice_bytes,
                    static_cast<std::size_t>(rows) * slice_bytes);
    if (!recurrent_.empty()) recurrent_.assign(src.recurrent_);
    size_ = rows;
}

void KvCache::store(int layer, int slot, const float* k, const float* v) {
    if (slot < 0 || slot >= capacity_)
        throw InputError("KV cache full: slot " + std::to_string(slot) + " past the capacity of " +
                         std::to_string(capacity_) + " tokens");
    if (slot >= allocated_) grow_to(slot + 1);
    for (int which = 0; which < 2; ++which)
        for (int h = 0; h < kv_heads_; ++h) {
            const float* src = (which == 0 ? k : v) + static_cast<std::size_t>(h) * head_dim_;
            std::uint8_t* dst = data_.data() + offset(layer, which, h, slot);
            if (type_ == KvType::F32)
                std::memcpy(dst, src, static_cast<std::size_t>(head_dim_) * 4);
            else
                float_row_to_half(src, reinterpret_cast<std::uint16_t*>(dst), head_dim_);
        }
}

const void* KvCache::slice(int layer, bool value, int head, int slot) const {
    return data_.data() + offset(layer, value ? 1 : 0, head, slot);
}

void KvCache::load_part(int layer, int slot, bool value, int first, int n, float* out) const {
    while (n > 0) {
        const int head = first / head_dim_, e = first % head_dim_;
        const int count = std::min(n, head_dim_ - e);
        const void* src = slice(layer, value, head, slot);
        if (type_ == KvType::F32)
            std::memcpy(out, static_cast<const float*>(src) + e, static_cast<std::size_t>(count) * 4);
        else
            half_row_to_float(static_cast<const std::uint16_t*>(src) + e, out, count);
        first += count;
        out += count;
        n -= count;
    }
}

void KvCache::commit(int n) {
    if (n < 0 || size_ + n > capacity_) throw InputError("KV cache commit past its capacity");
    size_ += n;
}

void KvCache::trim_by(int n) {
    if (n < 0 || n > size_)
        throw Error("KvCache::trim_by(" + std::to_string(n) + ") with " + std::to_string(size_) + " rows");
    roll_back_recurrent("trim_by", n);
    size_ -= n;
}

void KvCache::truncate(int len) {
    if (len < 0 || len > size_)
        throw Error("KvCache::truncate(" + std::to_string(len) + ") with " + std::to_string(size_) + " rows");
    if (len == 0)
        recurrent_.reset();
    else
        roll_back_recurrent("truncate", size_ - len);
    size_ = len;
}

void KvCache::keep(int count, std::span<const int> offsets) {
    if (count < 0 || count > size_) throw Error("KvCache::keep: count out of range");
    if (!recurrent_.empty() && recurrent_.tree_call()) {  // a tree's accepted path: replayed
        if (count != recurrent_.call_tokens())
            throw Error(
                "KvCache::keep: after a draft tree a hybrid target keeps rows of that forward call (" +
                std::to_string(recurrent_.call_tokens()) + " rows), not of the last " +
                std::to_string(count));
        recurrent_.keep_path(offsets);
    } else if (!recurrent_.empty()) {  // a chain's accepted prefix
        for (std::size_t i = 0; i < offsets.size(); ++i)
            if (offsets[i] != static_cast<int>(i))
                throw Error("KvCache::keep: after a chain forward a hybrid target keeps a prefix of it");
        roll_back_recurrent("keep", count - static_cast<int>(offsets.size()));
    }
    const int base = size_ - count;
    int prev = -1;
    for (std::size_t i = 0; i < offsets.size(); ++i) {
        const int off = offsets[i];
        if (off <= prev || off >= count)
            throw Error("KvCache::keep: offsets must be ascending and inside the last call");
        prev = off;
        const int dst = base + static_cast<int>(i), src = base + off;
        if (dst == src) continue;
        for (int l = 0; l < layers_; ++l)
            for (int which = 0; which < 2; ++which)
                for (int h = 0; h < kv_heads_; ++h)
                    std::memmove(data_.data() + offset(l, which, h, dst),
                                 data_.data() + offset(l, which, h, src),
                                 static_cast<std::size_t>(head_dim_) * elem_);
    }
    size_ = base + static_cast<int>(offsets.size());
}

}  // namespace ternspec
