#include "runtime/prefix_cache.hpp"

#include <algorithm>

namespace ternspec {

PrefixCache::Hit PrefixCache::lookup(std::span<const std::int32_t> prompt) {
    auto best = entries_.end();
    int best_rows = 0;
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
        const auto& t = it->tokens;
        const std::size_t n = std::min(t.size(), prompt.size() - (prompt.empty() ? 0 : 1));
        const auto mismatch =
            std::mismatch(t.begin(), t.begin() + static_cast<std::ptrdiff_t>(n), prompt.begin());
        int rows = static_cast<int>(mismatch.first - t.begin());
        // A recurrent state is there only after the entry's last token.
        if (it->cache.recurrent_layers() > 0 && rows != static_cast<int>(t.size())) rows = 0;
        if (rows > best_rows) best = it, best_rows = rows;
    }
    if (best == entries_.end()) return {};
    entries_.splice(entries_.begin(), entries_, best);
    return {&entries_.front().cache, best_rows};
}

void PrefixCache::insert(std::vector<std::int32_t> tokens, KvCache cache) {
    const std::size_t bytes = cache.total_bytes() + tokens.size() * sizeof(std::int32_t);
    if (bytes > max_bytes_ || tokens.empty()) return;
    // An entry the new one extends serves nothing the new one does not (an entry that extends the new one
    // is kept: it serves longer prompts).
    // On a hybrid target a shorter entry still serves prompts the new one does not share (its state sits
    // at its own end), so it stays.
    for (auto it = entries_.begin(); it != entries_.end() && cache.recurrent_layers() == 0;) {
        const bool prefix = it->tokens.size() <= tokens.size() &&
                            std::equal(it->tokens.begin(), it->tokens.end(), tokens.begin());
        if (prefix) {
            bytes_ -= it->bytes;
            it = entries_.erase(it);
        } else {
            ++it;
        }
    }
    entries_.push_front({std::move(tokens), std::move(cache), bytes});
    bytes_ += bytes;
    while (bytes_ > max_bytes_) {
        bytes_ -= entries_.back().bytes;
        entries_.pop_back();
    }
}

}  // namespace ternspec
