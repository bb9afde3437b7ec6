#include "drafters/context_index.hpp"

#include <algorithm>
#include <queue>

namespace ternspec {

void ContextIndex::clear() {
    for (const auto t : seq_) last_[static_cast<std::size_t>(t)] = -1;
    seq_.clear();
    prev_.clear();
}

void ContextIndex::append(std::int32_t token) {
    const auto t = static_cast<std::size_t>(token);
    if (t >= last_.size()) last_.resize(std::max(t + 1, last_.size() * 2), -1);
    prev_.push_back(last_[t]);
    last_[t] = static_cast<std::int32_t>(seq_.size());
    seq_.push_back(token);
}

void ContextIndex::matches(int max_length, int max_occurrences, std::vector<Occurrence>& out) const {
    out.clear();
    if (seq_.empty()) return;
    const auto n = static_cast<std::int32_t>(seq_.size());
    const std::int32_t* s = seq_.data();
    for (std::int32_t j = prev_[static_cast<std::size_t>(n - 1)];
         j >= 0 && static_cast<int>(out.size()) < max_occurrences; j = prev_[static_cast<std::size_t>(j)]) {
        std::int32_t len = 1;
        while (len < max_length && j - len >= 0 && s[j - len] == s[n - 1 - len]) ++len;
        out.push_back({j, len});
    }
    // Walked most recent first; a stable sort keeps that order among equal lengths.
    std::stable_sort(out.begin(), out.end(),
                     [](const Occurrence& a, const Occurrence& b) { return a.length > b.length; });
}

void FollowerTally::clear() {
    for (const auto& e : entries_) slot_[static_cast<std::size_t>(e.token)] = -1;
    entries_.clear();
}

void FollowerTally::add(std::int32_t token, std::int32_t position) {
    const auto t = static_cast<std::size_t>(token);
    if (t >= slot_.size()) slot_.resize(std::max(t + 1, slot_.size() * 2), -1);
    auto& slot = slot_[t];
    if (slot < 0) {
        slot = static_cast<std::int32_t>(entries_.size());
        entries_.push_back({token, 0, position});
    }
    auto& e = entries_[static_cast<std::size_t>(slot)];
    ++e.count;
    e.latest = std::max(e.latest, position);
}

int FollowerTally::best() const {
    int b = -1;
    for (int i = 0; i < static_cast<int>(entries_.size()); ++i) {
        const auto& e = entries_[static_cast<std::size_t>(i)];
        if (b < 0 || e.count > entries_[static_cast<std::size_t>(b)].count ||
            (e.count == entries_[static_cast<std::size_t>(b)].count &&
             e.latest > entries_[static_cast<std::size_t>(b)].latest))
            b = i;
    }
    return b;
}

namespace {

// The token at `pos` of the context followed by the path drafted so far: an occurrence whose continuation
// runs into the present continues with the draft itself (a copy that overlaps its source, as in a loop).
struct Virtual {
    std::span<const std::int32_t> seq, path;
    bool has(std::int64_t pos) const { return pos < static_cast<std::int64_t>(seq.size() + path.size()); }
    std::int32_t at(std::int64_t pos) const {
        const auto p = static_cast<std::size_t>(pos);
        return p < seq.size() ? seq[p] : path[p - seq.size()];
    }
};

double reliability(const SuffixDraftLimits& lim, int step) {
    if (lim.prior <= 0) return 1.0;
    const double m = lim.match_len + step;
    return m / (m + lim.prior);
}

// Counts what follows each position `step` tokens after its match ended.
void tally_followers(const Virtual& v, std::span<const std::int32_t> ends, int step, FollowerTally& tally) {
    tally.clear();
    for (const auto j : ends)
        if (const auto next = std::int64_t{j} + step + 1; v.has(next)) tally.add(v.at(next), j);
}

DraftTree chain(std::span<const std::int32_t> seq, std::span<const std::int32_t> ends,
                const SuffixDraftLimits& lim, FollowerTally& tally, double* score) {
    DraftTree d;
    std::vector<std::int32_t> alive(ends.begin(), ends.end());
    double prob = 1.0;
    auto node_count = static_cast<std::int64_t>(alive.size());
    for (int step = 0; step < lim.max_len; ++step) {
        tally_followers(
            {seq, lim.overlap ? std::span<const std::int32_t>(d.tokens) : std::span<const std::int32_t>()},
            alive, step, tally);
        const int b = tally.best();
        if (b < 0) break;
        const auto e = tally.entries()[static_cast<std::size_t>(b)];
        prob *= static_cast<double>(e.count) / static_cast<double>(node_count) * reliability(lim, step);
        if (prob < lim.min_prob) break;
        d.add(e.token, step - 1);
        *score += prob;
        const Virtual v{
            seq, lim.overlap ? std::span<const std::int32_t>(d.tokens) : std::span<const std::int32_t>()};
        std::erase_if(alive, [&](std::int32_t j) {
            const auto next = std::int64_t{j} + step + 1;
            return !v.has(next) || v.at(next) != e.token;
        });
        node_count = e.count;
    }
    return d;
}

DraftTree tree(std::span<const std::int32_t> seq, std::span<const std::int32_t> ends,
               const SuffixDraftLimits& lim, FollowerTally& tally, double* score) {
    struct Cand {
        double prob;
        std::int32_t latest, token, parent, depth;
        std::size_t begin, end;  // its positions in `pool`
        bool operator<(const Cand& o) const { return prob < o.prob || (prob == o.prob && latest < o.latest); }
    };
    std::vector<std::int32_t> pool(ends.begin(), ends.end());
    std::priority_queue<Cand> queue;
    DraftTree d;
    std::vector<std::int32_t> path;
    // Pushes the children of draft node `parent` (-1: the root), whose positions are pool[begin, end), at
    // `depth`.
    auto push_children = [&](std::size_t begin, std::size_t end, std::int64_t node_count, double prob,
                             std::int32_t parent, int depth) {
        if (depth >= lim.max_len) return;
        path.assign(static_cast<std::size_t>(depth), 0);
        for (std::int32_t n = parent, i = depth - 1; n >= 0; n = d.parents[static_cast<std::size_t>(n)], --i)
            path[static_cast<std::size_t>(i)] = d.tokens[static_cast<std::size_t>(n)];
        const Virtual v{seq,
                        lim.overlap ? std::span<const std::int32_t>(path) : std::span<const std::int32_t>()};
        tally_followers(v, std::span<const std::int32_t>(pool.data() + begin, end - begin), depth, tally);
        for (const auto& e : tally.entries()) {
            const double p = prob * static_cast<double>(e.count) / static_cast<double>(node_count) *
                             reliability(lim, depth);
            if (p < lim.min_prob) continue;
            const std::size_t b = pool.size();
            for (std::size_t i = begin; i < end; ++i) {
                const auto next = std::int64_t{pool[i]} + depth + 1;
                if (v.has(next) && v.at(next) == e.token) pool.push_back(pool[i]);
            }
            queue.push({p, e.latest, e.token, parent, depth + 1, b, pool.size()});
        }
    };
    push_children(0, pool.size(), static_cast<std::int64_t>(pool.size()), 1.0, -1, 0);
    while (!queue.empty() && static_cast<int>(d.size()) < lim.max_nodes) {
        const Cand c = queue.top();
        queue.pop();
        d.add(c.token, c.parent);
        *score += c.prob;
        push_children(c.begin, c.end, static_cast<std::int64_t>(c.end - c.begin), c.prob,
                      static_cast<std::int32_t>(d.size()) - 1, c.depth);
    }
    return d;
}

}  // namespace

DraftTree draft_from_occurrences(std::span<const std::int32_t> seq, std::span<const std::int32_t> ends,
                                 const SuffixDraftLimits& limits, FollowerTally& tally, double* score) {
    *score = 0;
    return limits.max_nodes > 0 ? tree(seq, ends, limits, tally, score)
                                : chain(seq, ends, limits, tally, score);
}

}  // namespace ternspec
