#pragma once
// A depth-bounded suffix trie with occurrence counts (the data structure of SuffixDecoding). Appending a
// token costs O(depth): a cursor keeps the nodes of every suffix ending at the last token, and each of them
// gains one child. Sequences can also be removed again (counts go down, empty nodes are freed), which the
// global trie uses to evict its oldest responses.
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

namespace ternspec {

class SuffixTrie {
  public:
    explicit SuffixTrie(int max_depth = 32);

    struct Cursor {
        std::vector<std::int32_t> active;  // node of the suffix of length i + 1 ending at the last token
    };

    void extend(Cursor& cursor, std::int32_t token);
    void add_sequence(std::span<const std::int32_t> tokens);
    void remove_sequence(std::span<const std::int32_t> tokens);

    std::int32_t root() const { return 0; }
    std::int32_t child(std::int32_t node, std::int32_t token) const;
    std::int32_t find(std::span<const std::int32_t> pattern) const;  // -1 when absent
    std::int64_t count(std::int32_t node) const { return nodes_[static_cast<std::size_t>(node)].count; }
    // When the node's count last grew (a clock of extend calls): ties between equal counts go to the most
    // recent, as in SuffixDecoding.
    std::int64_t last_seen(std::int32_t node) const { return nodes_[static_cast<std::size_t>(node)].stamp; }
    const std::vector<std::pair<std::int32_t, std::int32_t>>& children(std::int32_t node) const {
        return nodes_[static_cast<std::size_t>(node)].children;
    }
    int max_depth() const { return max_depth_; }
    std::size_t live_nodes() const { return nodes_.size() - free_.size(); }
    // Bytes the live nodes and their child lists hold: what a memory budget is checked against. (Freed
    // nodes are reused; the node array keeps its high-water mark.)
    std::size_t memory_bytes() const { return live_nodes() * sizeof(Node) + child_bytes_; }
    // Throws Error describing the first broken invariant: parent links and depths agree, no freed node is
    // reachable, every reachable node is live and every live node reachable, counts are positive and cover
    // their children's. For tests, after any sequence of adds and removes.
    void check_integrity() const;

  private:
    struct Node {
        std::int64_t count = 0, stamp = 0;
        std::int32_t depth = 0;
        std::int32_t parent = -1;  // removal unlinks a node from its parent alone, not by scanning every node
        std::vector<std::pair<std::int32_t, std::int32_t>> children;  // (token, node)
    };
    std::int32_t child_or_create(std::int32_t node, std::int32_t token);
    int max_depth_;
    std::vector<Node> nodes_;
    std::vector<std::int32_t> free_;
    std::size_t child_bytes_ = 0;  // capacity of every child list, in bytes
    std::int64_t clock_ = 0;
    // The root has a child per distinct token (thousands): looked up by index, not by scanning its list.
    std::vector<std::int32_t> root_index_;
};

}  // namespace ternspec
