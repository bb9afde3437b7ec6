#pragma once
// What a drafter proposes: a tree of tokens (a chain is a tree whose nodes each have one child), rooted at
// the pending token (the last sampled token, not yet in the KV cache).
#include <cstdint>
#include <memory>
#include <vector>

namespace ternspec {

struct DraftTree {
    std::vector<std::int32_t> tokens;
    std::vector<std::int32_t>
        parents;  // index of the parent node, -1 for children of the root; parents come first
    // Optional draft distributions: dist[0] is the one the root's children were drawn from, dist[i + 1] the
    // one node i's children were drawn from. Null (or a short vector) means the children are one-hot
    // proposals.
    std::vector<std::shared_ptr<const std::vector<float>>> dist;

    std::size_t size() const { return tokens.size(); }
    bool empty() const { return tokens.empty(); }
    void add(std::int32_t token, std::int32_t parent) {
        tokens.push_back(token);
        parents.push_back(parent);
    }
    int depth(int node) const;  // 1 for children of the root
    bool is_chain() const;
    void truncate(std::size_t n);  // keeps the first n nodes (parents come first, so this stays a tree)
    // Keeps node i where keep[i] is set and its parent was kept (a dropped node takes its subtree along);
    // returns how many nodes went.
    std::size_t prune(const std::vector<char>& keep);
};

}  // namespace ternspec
