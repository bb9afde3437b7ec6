#include "drafters/suffix_trie.hpp"

#include <algorithm>
#include <string>

#include "ternspec/error.hpp"

namespace ternspec {

SuffixTrie::SuffixTrie(int max_depth) : max_depth_(max_depth) {
    if (max_depth < 1) throw InputError("suffix trie depth must be at least 1");
    nodes_.emplace_back();
}

std::int32_t SuffixTrie::child(std::int32_t node, std::int32_t token) const {
    if (node == 0)
        return token >= 0 && static_cast<std::size_t>(token) < root_index_.size()
                   ? root_index_[static_cast<std::size_t>(token)]
                   : -1;
    for (const auto& [t, c] : nodes_[static_cast<std::size_t>(node)].children)
        if (t == token) return c;
    return -1;
}

std::int32_t SuffixTrie::child_or_create(std::int32_t node, std::int32_t token) {
    if (auto c = child(node, token); c >= 0) return c;
    std::int32_t id;
    if (!free_.empty()) {
        id = free_.back();
        free_.pop_back();
        nodes_[static_cast<std::size_t>(id)] = Node{};
    } else {
        id = static_cast<std::int32_t>(nodes_.size());
        nodes_.emplace_back();
    }
    nodes_[static_cast<std::size_t>(id)].depth = nodes_[static_cast<std::size_t>(node)].depth + 1;
    nodes_[static_cast<std::size_t>(id)].parent = node;
    auto& ch = nodes_[static_cast<std::size_t>(node)].children;
    const auto before = ch.capacity();
    ch.emplace_back(token, id);
    child_bytes_ += (ch.capacity() - before) * sizeof(ch[0]);
    if (node == 0) {
        const auto t = static_cast<std::size_t>(token);
        if (t >= root_index_.size()) root_index_.resize(std::max(t + 1, root_index_.size() * 2), -1);
        root_index_[t] = id;
    }
    return id;
}

void SuffixTrie::extend(Cursor& cur, std::int32_t token) {
    std::vector<std::int32_t> next;
    next.reserve(cur.active.size() + 1);
    next.push_back(child_or_create(0, token));
    for (auto a : cur.active)
        if (nodes_[static_cast<std::size_t>(a)].depth < max_depth_) next.push_back(child_or_create(a, token));
    ++clock_;
    for (auto n : next) {
        auto& node = nodes_[static_cast<std::size_t>(n)];
        node.count++;
        node.stamp = clock_;
    }
    nodes_[0].count++;
    cur.active = std::move(next);
}

void SuffixTrie::add_sequence(std::span<const std::int32_t> tokens) {
    Cursor c;
    for (auto t : tokens) extend(c, t);
}

void SuffixTrie::remove_sequence(std::span<const std::int32_t> tokens) {
    // Walk as add_sequence did, decrementing; free emptied nodes only at the end, since later steps still
    // walk through them.
    std::vector<std::int32_t> active, emptied;
    for (auto t : tokens) {
        std::vector<std::int32_t> next;
        auto step = [&](std::int32_t from) {
            const auto c = child(from, t);
            if (c < 0) throw Error("SuffixTrie::remove_sequence: sequence was never added");
            next.push_back(c);
        };
        step(0);
        for (auto a : active)
            if (nodes_[static_cast<std::size_t>(a)].depth < max_depth_) step(a);
        for (auto n : next)
            if (--nodes_[static_cast<std::size_t>(n)].count == 0) emptied.push_back(n);
        nodes_[0].count--;
        active = std::move(next);
    }
    // An emptied node's subtree is emptied too (counts cover children's), so unlinking each from its parent
    // and freeing it costs O(removed nodes); scanning every node made eviction 13.7 ms at a 100K-token cap.
    for (auto n : emptied) {
        const auto parent = nodes_[static_cast<std::size_t>(n)].parent;
        auto& ch = nodes_[static_cast<std::size_t>(parent)].children;
        const auto it = std::find_if(ch.begin(), ch.end(), [&](const auto& p) { return p.second == n; });
        if (parent == 0) root_index_[static_cast<std::size_t>(it->first)] = -1;
        ch.erase(it);
    }
    for (auto n : emptied) {
        child_bytes_ -= nodes_[static_cast<std::size_t>(n)].children.capacity() *
                        sizeof(std::pair<std::int32_t, std::int32_t>);
        nodes_[static_cast<std::size_t>(n)] = Node{};
        free_.push_back(n);
    }
}

void SuffixTrie::check_integrity() const {
    auto fail = [](const std::string& what) { throw Error("SuffixTrie integrity: " + what); };
    std::vector<char> is_free(nodes_.size(), 0);
    for (auto f : free_) {
        if (f <= 0 || static_cast<std::size_t>(f) >= nodes_.size() || is_free[static_cast<std::size_t>(f)])
            fail("free list entry " + std::to_string(f));
        is_free[static_cast<std::size_t>(f)] = 1;
    }
    std::size_t reached = 0, bytes = 0;
    std::vector<std::int32_t> stack{0};
    while (!stack.empty()) {
        const auto n = stack.back();
        stack.pop_back();
        ++reached;
        const auto& node = nodes_[static_cast<std::size_t>(n)];
        bytes += node.children.capacity() * sizeof(node.children[0]);
        std::int64_t below = 0;
        for (const auto& [tok, c] : node.children) {
            if (c <= 0 || static_cast<std::size_t>(c) >= nodes_.size() ||
                is_free[static_cast<std::size_t>(c)])
                fail("node " + std::to_string(n) + " links to a freed or invalid node " + std::to_string(c));
            const auto& child = nodes_[static_cast<std::size_t>(c)];
            if (child.parent != n || child.depth != node.depth + 1)
                fail("node " + std::to_string(c) + " disagrees with its parent " + std::to_string(n));
            if (n == 0 && this->child(0, tok) != c)
                fail("root index disagrees with the root's child list for token " + std::to_string(tok));
            if (child.count <= 0)
                fail("node " + std::to_string(c) + " is reachable with count " + std::to_string(child.count));
            below += child.count;
            stack.push_back(c);
        }
        if (n != 0 && below > node.count)
            fail("node " + std::to_string(n) + " counts fewer than its children");
    }
    if (reached != live_nodes())
        fail(std::to_string(reached) + " nodes reachable but " + std::to_string(live_nodes()) + " live");
    if (bytes != child_bytes_)
        fail("child list bytes " + std::to_string(child_bytes_) + ", counted " + std::to_string(bytes));
}

std::int32_t SuffixTrie::find(std::span<const std::int32_t> pattern) const {
    std::int32_t n = 0;
    for (auto t : pattern) {
        n = child(n, t);
        if (n < 0) return -1;
    }
    return n;
}

}  // namespace ternspec
