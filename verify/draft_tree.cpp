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

}  // namespace ternspec
