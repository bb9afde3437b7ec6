#include "drafters/ngram_drafter.hpp"

#include <algorithm>

namespace ternspec {

DraftTree NgramDrafter::propose(std::span<const std::int32_t> ctx, const DraftBudget& budget) {
    DraftTree d;
    const int len = static_cast<int>(ctx.size());
    // A chain: a tree budget (max_nodes) caps its length like the depth does.
    const int longest =
        budget.max_nodes > 0 ? std::min(budget.max_depth, budget.max_nodes) : budget.max_depth;
    for (int n = std::min(max_n_, len - 1); n >= min_n_; --n) {
        const auto tail = ctx.subspan(static_cast<std::size_t>(len - n));
        for (int start = len - n - 1; start >= 0; --start) {
            if (!std::equal(tail.begin(), tail.end(), ctx.begin() + start)) continue;
            for (int j = start + n; j < len && static_cast<int>(d.size()) < longest; ++j)
                d.add(ctx[static_cast<std::size_t>(j)], static_cast<std::int32_t>(d.size()) - 1);
            return d;
        }
    }
    return d;
}

}  // namespace ternspec
