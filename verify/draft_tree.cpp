#include "verify/draft_tree.hpp"

namespace ternspec {

int DraftTree::depth(int node) const {
    int d = 0;
    for (int i = node; i >= 0; i = parents[static_cast<std::size_t>(i)]) ++d;
    return d;
}

bool DraftTree::is_chain() const {
    for (std::size_t i = 0; i < parents.size(); ++i)
        if (parents[i] != static_cast<std::int32_t>(i) - 1) return false;
    return true;
}

void DraftTree::truncate(std::size_t n) {
    if (n >= tokens.size()) return;
    tokens.resize(n);
    parents.resize(n);
    if (dist.size() > n + 1) dist.resize(n + 1);
}

std::size_t DraftTree::prune(const std::vector<char>& keep) {
    std::vector<std::int32_t> at(tokens.size(), -1);  // old index -> new, -1: dropped
    DraftTree out;
    if (!dist.empty()) out.dist.push_back(dist[0]);
    for (std::size_t i = 0; i < tokens.size(); ++i) {
        const std::int32_t p = parents[i];
        if (!keep[i] || (p >= 0 && at[static_cast<std::size_t>(p)] < 0)) continue;
        at[i] = static_cast<std::int32_t>(out.size());
        out.add(tokens[i], p < 0 ? -1 : at[static_cast<std::size_t>(p)]);
        if (!dist.empty()) out.dist.push_back(i + 1 < dist.size() ? dist[i + 1] : nullptr);
    }
    const std::size_t gone = tokens.size() - out.size();
    *this = std::move(out);
    return gone;
}

}  // namespace ternspec
