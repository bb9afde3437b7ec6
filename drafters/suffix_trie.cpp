#include "drafters/suffix_trie.hpp"

#include <algorithm>

#include "ternspec/error.hpp"

namespace ternspec {

SuffixTrie::SuffixTrie(int max_depth) : max_depth_(max_depth) {
    if (max_depth < 1) throw InputError("suffix trie depth must be at least 1");
    nodes_.emplace_back();
}

std::int32_t SuffixTrie::child(std::int32_t node, std::int32_t token) const {
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
    nodes_[static_cast<std::size_t>(node)].children.emplace_back(token, id);
    return id;
}

void SuffixTrie::extend(Cursor& cur, std::int32_t token) {
    std::vector<std::int32_t> next;
    next.reserve(cur.active.size() + 1);
    next.push_back(child_or_create(0, token));
    for (auto a : cur.active)
        if (nodes_[static_cast<std::size_t>(a)].depth < max_depth_) next.push_back(child_or_create(a, token));
    for (auto n : next) nodes_[static_cast<std::size_t>(n)].count++;
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
    if (emptied.empty()) return;
    std::vector<char> dead(nodes_.size(), 0);
    for (auto n : emptied) dead[static_cast<std::size_t>(n)] = 1;
    for (std::size_t i = 0; i < nodes_.size(); ++i) {
        auto& ch = nodes_[i].children;
        ch.erase(std::remove_if(ch.begin(), ch.end(),
                                [&](const auto& p) { return dead[static_cast<std::size_t>(p.second)] != 0; }),
                 ch.end());
    }
    for (auto n : emptied) {
        nodes_[static_cast<std::size_t>(n)] = Node{};
        free_.push_back(n);
    }
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
