#include "drafters/suffix_drafter.hpp"

#include <algorithm>
#include <cmath>
#include <queue>

#include "ternspec/error.hpp"

namespace ternspec {
namespace {

// The global trie's memory budget in bytes, checked before the conversion: a negative or huge double cast
// to size_t is undefined behaviour, so the check cannot wait for the constructor's body.
std::size_t budget_bytes(const DrafterOptions& o) {
    const double mb = o.get("global_max_mb", 256.0);
    if (!(mb > 0) || mb > double(1 << 30))
        throw InputError(
            "suffix drafter: global_max_mb must be positive and at most 2^30 (the global trie's "
            "memory budget in MiB), not " +
            std::to_string(mb));
    return static_cast<std::size_t>(mb * (1 << 20));
}

}  // namespace

SuffixDrafter::SuffixDrafter(const DrafterOptions& o)
    : depth_(static_cast<int>(o.get("suffix_depth", 32))),
      max_spec_factor_(o.get("max_spec_factor", 2.0)),
      min_token_prob_(o.get("min_token_prob", 0.1)),
      global_max_tokens_(static_cast<std::size_t>(o.get("global_max_tokens", 1 << 20))),
      global_max_bytes_(budget_bytes(o)),
      local_(depth_),
      global_(depth_) {}

void SuffixDrafter::begin(std::span<const std::int32_t> prompt, const HiddenRows*) {
    local_ = SuffixTrie(depth_);
    cursor_ = {};
    for (auto t : prompt) local_.extend(cursor_, t);
    synced_ = observed_ = prompt.size();
}

void SuffixDrafter::observe(std::span<const std::int32_t> cached, const HiddenRows*) {
    for (const auto t : cached) {
        if (observed_ == synced_) {
            local_.extend(cursor_, t);
            ++synced_;
        }
        ++observed_;
    }
}

void SuffixDrafter::end_request(std::span<const std::int32_t> output) {
    if (output.empty()) return;
    global_.add_sequence(output);
    global_tokens_ += output.size();
    responses_.emplace_back(output.begin(), output.end());
    // The oldest responses go first while either bound is exceeded; a response larger than the whole budget
    // is evicted at once, itself included.
    while ((global_tokens_ > global_max_tokens_ || global_.memory_bytes() > global_max_bytes_) &&
           !responses_.empty()) {
        global_.remove_sequence(responses_.front());
        global_tokens_ -= responses_.front().size();
        responses_.pop_front();
    }
}

DraftTree SuffixDrafter::expand(const SuffixTrie& trie, std::int32_t node, int match_len,
                                const DraftBudget& budget, double* expected) const {
    DraftTree d;
    *expected = 0;
    const int max_len =
        std::min(budget.max_depth, std::max(1, static_cast<int>(std::floor(max_spec_factor_ * match_len))));
    const int max_nodes = budget.max_nodes > 0 ? budget.max_nodes : max_len;
    struct Cand {
        double prob;
        std::int32_t trie_node, parent, depth, token;
        bool operator<(const Cand& o) const { return prob < o.prob || (prob == o.prob && token > o.token); }
    };
    std::priority_queue<Cand> queue;
    auto push_children = [&](std::int32_t tn, std::int32_t parent, int depth, double prob) {
        if (depth >= max_len) return;
        std::int64_t total = 0;
        for (const auto& [t, c] : trie.children(tn)) total += trie.count(c);
        if (total == 0) return;
        if (budget.max_nodes == 0) {  // chain: only the most frequent child
            std::pair<std::int32_t, std::int32_t> best{-1, -1};
            for (const auto& ch : trie.children(tn))
                if (best.second < 0 || trie.count(ch.second) > trie.count(best.second) ||
                    (trie.count(ch.second) == trie.count(best.second) && ch.first < best.first))
                    best = ch;
            const double p = prob * static_cast<double>(trie.count(best.second)) / static_cast<double>(total);
            if (p >= min_token_prob_) queue.push({p, best.second, parent, depth + 1, best.first});
            return;
        }
        for (const auto& [t, c] : trie.children(tn)) {
            const double p = prob * static_cast<double>(trie.count(c)) / static_cast<double>(total);
            if (p >= min_token_prob_) queue.push({p, c, parent, depth + 1, t});
        }
    };
    push_children(node, -1, 0, 1.0);
    while (!queue.empty() && static_cast<int>(d.size()) < max_nodes) {
        const Cand c = queue.top();
        queue.pop();
        d.add(c.token, c.parent);
        *expected += c.prob;
        push_children(c.trie_node, static_cast<std::int32_t>(d.size()) - 1, c.depth, c.prob);
    }
    return d;
}

DraftTree SuffixDrafter::propose(std::span<const std::int32_t> ctx, const DraftBudget& budget) {
    for (; synced_ < ctx.size(); ++synced_) local_.extend(cursor_, ctx[synced_]);
    DraftTree best;
    double best_expected = 0;
    // The trie is depth-bounded: a match of length m leaves depth - m levels for the continuation, so
    // matches are capped to leave room for a full draft (else a long copy would shrink drafts to nothing).
    const int max_match = std::max(1, depth_ - budget.max_depth);
    // Local trie: the cursor already holds every suffix of the context; take the longest that occurred
    // before.
    for (int i = std::min(static_cast<int>(cursor_.active.size()), max_match) - 1; i >= 0; --i) {
        const auto node = cursor_.active[static_cast<std::size_t>(i)];
        if (local_.children(node).empty()) continue;
        double e = 0;
        auto d = expand(local_, node, i + 1, budget, &e);
        if (e > best_expected) best = std::move(d), best_expected = e;
        break;
    }
    // Global trie: the longest suffix of the context with a continuation. Every substring of a stored
    // sequence is a path from the root, so if the last m tokens continue, the last m - 1 do too, and a binary
    // search finds the longest m in O(log depth) walks instead of one walk per length.
    const int len = static_cast<int>(ctx.size());
    auto continuing = [&](int m) {
        const auto node = global_.find(ctx.subspan(static_cast<std::size_t>(len - m)));
        return node >= 0 && !global_.children(node).empty() ? node : -1;
    };
    int lo = 0, hi = std::min(max_match, len);  // lo: the longest length known to continue, at `found`
    std::int32_t found = -1;
    while (lo < hi) {
        const int mid = (lo + hi + 1) / 2;
        if (const auto node = continuing(mid); node >= 0)
            lo = mid, found = node;
        else
            hi = mid - 1;
    }
    if (lo > 0) {
        double e = 0;
        auto d = expand(global_, found, lo, budget, &e);
        if (e > best_expected) best = std::move(d), best_expected = e;
    }
    return best;
}

}  // namespace ternspec
