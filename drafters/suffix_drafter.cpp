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

int int_option(const DrafterOptions& o, const char* key, double fallback, int lo, int hi) {
    const double v = o.get(key, fallback);
    if (!(v >= lo && v <= hi) || v != std::floor(v))
        throw InputError(std::string("suffix drafter: ") + key + " must be an integer in [" +
                         std::to_string(lo) + ", " + std::to_string(hi) + "], not " + std::to_string(v));
    return static_cast<int>(v);
}

}  // namespace

SuffixDrafter::SuffixDrafter(const DrafterOptions& o)
    : depth_(int_option(o, "suffix_depth", 32, 1, 1024)),
      max_match_(int_option(o, "max_match", 32, 1, 1 << 16)),
      max_occurrences_(int_option(o, "max_occurrences", 32, 1, 1 << 20)),
      max_spec_factor_(o.get("max_spec_factor", double(kMaxDraftTokens))),
      max_spec_offset_(o.get("max_spec_offset", 0.0)),
      min_token_prob_(o.get("min_token_prob", 0.2)),
      match_prior_(o.get("match_prior", 2.0)),
      overlap_(o.get("overlap", 1) != 0),
      global_max_tokens_(static_cast<std::size_t>(o.get("global_max_tokens", 1 << 20))),
      global_max_bytes_(budget_bytes(o)),
      global_(std::make_shared<GlobalStore>(depth_)) {}

std::unique_ptr<Drafter> SuffixDrafter::sibling() const {
    auto d =
        std::make_unique<SuffixDrafter>(*this);  // the options; its own request state is reset by begin()
    d->local_.clear();
    d->observed_ = 0;
    return d;  // global_ is the same shared store
}

void SuffixDrafter::begin(std::span<const std::int32_t> prompt, const HiddenRows*) {
    local_.clear();
    for (auto t : prompt) local_.append(t);
    observed_ = prompt.size();
}

void SuffixDrafter::observe(std::span<const std::int32_t> cached, const HiddenRows*) {
    for (const auto t : cached) {
        if (observed_ == local_.size()) local_.append(t);
        ++observed_;
    }
}

void SuffixDrafter::end_request(std::span<const std::int32_t> output) {
    if (output.empty()) return;
    auto& g = *global_;
    std::lock_guard<std::mutex> lock(g.mu);
    g.trie.add_sequence(output);
    g.tokens += output.size();
    g.responses.emplace_back(output.begin(), output.end());
    // The oldest responses go first while either bound is exceeded; a response larger than the whole budget
    // is evicted at once, itself included.
    while ((g.tokens > global_max_tokens_ || g.trie.memory_bytes() > global_max_bytes_) &&
           !g.responses.empty()) {
        g.trie.remove_sequence(g.responses.front());
        g.tokens -= g.responses.front().size();
        g.responses.pop_front();
    }
}

int SuffixDrafter::max_len(int match_len, const DraftBudget& budget) const {
    const double cap = max_spec_factor_ * match_len + max_spec_offset_ + 1e-6;
    return std::max(0, std::min(budget.max_depth, static_cast<int>(std::min(cap, double(kMaxDraftTokens)))));
}

DraftTree SuffixDrafter::expand(const SuffixTrie& trie, std::int32_t node, int match_len,
                                const DraftBudget& budget, double* expected) const {
    DraftTree d;
    *expected = 0;
    const int len = max_len(match_len, budget);
    const int max_nodes = budget.max_nodes > 0 ? budget.max_nodes : len;
    struct Cand {
        double prob;
        std::int64_t seen;
        std::int32_t trie_node, parent, depth, token;
        bool operator<(const Cand& o) const { return prob < o.prob || (prob == o.prob && seen < o.seen); }
    };
    std::priority_queue<Cand> queue;
    auto reliable = [&](int depth) {
        return match_prior_ > 0 ? (match_len + depth) / (match_len + depth + match_prior_) : 1.0;
    };
    // A child's probability is its count over its parent's (which counts the occurrences that end there).
    auto push_children = [&](std::int32_t tn, std::int32_t parent, int depth, double prob) {
        if (depth >= len) return;
        const auto total = static_cast<double>(trie.count(tn));
        if (budget.max_nodes == 0) {  // chain: only the most frequent child, ties to the most recent
            std::int32_t best = -1, best_tok = -1;
            for (const auto& [t, c] : trie.children(tn))
                if (best < 0 || trie.count(c) > trie.count(best) ||
                    (trie.count(c) == trie.count(best) && trie.last_seen(c) > trie.last_seen(best)))
                    best = c, best_tok = t;
            if (best < 0) return;
            const double p = prob * static_cast<double>(trie.count(best)) / total * reliable(depth);
            if (p >= min_token_prob_)
                queue.push({p, trie.last_seen(best), best, parent, depth + 1, best_tok});
            return;
        }
        for (const auto& [t, c] : trie.children(tn)) {
            const double p = prob * static_cast<double>(trie.count(c)) / total * reliable(depth);
            if (p >= min_token_prob_) queue.push({p, trie.last_seen(c), c, parent, depth + 1, t});
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

void SuffixDrafter::propose_local(const DraftBudget& budget, DraftTree* best, double* best_score) {
    local_.matches(max_match_, max_occurrences_, occurrences_);
    // The occurrences come longest first: the set matching m tokens is a prefix of the list. Each distinct
    // length drafts once, from its whole prefix (a shorter length with the same set drafts the same tokens,
    // only fewer). Shorter matches allow shorter drafts, so the walk stops once the cap cannot beat the best.
    const SuffixDraftLimits base{0, budget.max_nodes, min_token_prob_, overlap_};
    ends_.clear();
    for (std::size_t i = 0; i < occurrences_.size();) {
        const int m = occurrences_[i].length;
        for (; i < occurrences_.size() && occurrences_[i].length == m; ++i)
            ends_.push_back(occurrences_[i].end);
        const int len = max_len(m, budget);
        if (len <= *best_score) break;
        SuffixDraftLimits lim = base;
        lim.max_len = len;
        lim.match_len = m;
        lim.prior = match_prior_;
        double score = 0;
        auto d = draft_from_occurrences(local_.tokens(), ends_, lim, tally_, &score);
        if (score > *best_score) *best = std::move(d), *best_score = score;
    }
}

void SuffixDrafter::propose_global(std::span<const std::int32_t> ctx, const DraftBudget& budget,
                                   DraftTree* best, double* best_score) {
    std::lock_guard<std::mutex> lock(global_->mu);
    const SuffixTrie& global = global_->trie;
    // The trie is depth-bounded: a match of length m leaves depth - m levels for the continuation, so
    // matches are capped to leave room for a full draft.
    if (global.live_nodes() <= 1) return;
    const int len = static_cast<int>(ctx.size());
    const int max_match = std::min(std::max(1, depth_ - budget.max_depth), len);
    // Every substring of a stored sequence is a path from the root, so if the last m tokens continue, the
    // last m - 1 do too: a binary search finds the longest.
    auto continuing = [&](int m) {
        const auto node = global.find(ctx.subspan(static_cast<std::size_t>(len - m)));
        return node >= 0 && !global.children(node).empty() ? node : -1;
    };
    int lo = 0, hi = max_match;
    while (lo < hi) {
        const int mid = (lo + hi + 1) / 2;
        if (continuing(mid) >= 0)
            lo = mid;
        else
            hi = mid - 1;
    }
    // Then every length from the longest down, skipping those whose node counts the same occurrences as
    // the longer one's (same continuations, shorter cap).
    std::int64_t longer_count = -1;
    for (int m = lo; m >= 1; --m) {
        if (max_len(m, budget) <= *best_score) break;
        const auto node = global.find(ctx.subspan(static_cast<std::size_t>(len - m)));
        if (global.count(node) == longer_count) continue;
        longer_count = global.count(node);
        double e = 0;
        auto d = expand(global, node, m, budget, &e);
        if (e > *best_score) *best = std::move(d), *best_score = e;
    }
}

DraftTree SuffixDrafter::propose(std::span<const std::int32_t> ctx, const DraftBudget& budget) {
    while (local_.size() < ctx.size()) local_.append(ctx[local_.size()]);
    DraftTree best;
    double best_score = 0;
    propose_local(budget, &best, &best_score);
    propose_global(ctx, budget, &best, &best_score);
    return best;
}

}  // namespace ternspec
