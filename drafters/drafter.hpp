#pragma once
// The interface every proposer implements. The decode loop calls, per request:
//   begin(prompt, its hidden rows) -> [propose(context, budget) -> observe(tokens now cached, rows)]*
//   -> end_request(output)
// The context given to propose ends with the pending token: sampled, not yet through the target, so it
// has no hidden state yet; it reaches observe() first thing in the next round. A drafter that wants the
// target's hidden states lists the layers in hidden_layers().
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "verify/draft_tree.hpp"
#include "verify/sampler.hpp"

namespace ternspec {

class Qwen3Model;

// The most tokens one round may draft (chain length or tree nodes): the verifier's masks and the
// controller's tables are sized for it.
inline constexpr int kMaxDraftTokens = 64;

struct DraftBudget {
    int max_depth = 4;  // K: longest path
    int max_nodes = 0;  // 0: a chain of max_depth; otherwise a tree of at most this many nodes
    // Set when the target samples: drafters with a distribution of their own (EAGLE, MTP) then draw their
    // drafts from it, processed as the target's is, and attach it (soft drafts); null: greedy, one-hot.
    const SamplingParams* sampling = nullptr;
    Rng* rng = nullptr;
    bool soft() const { return sampling && rng && !sampling->greedy(); }
};

// Hidden states of the target for the tokens just appended: layer -> tokens x hidden_size.
using HiddenRows = std::map<int, std::vector<float>>;

class Drafter {
  public:
    virtual ~Drafter() = default;
    virtual std::string name() const = 0;
    virtual std::vector<int> hidden_layers() const { return {}; }
    virtual void begin(std::span<const std::int32_t> prompt, const HiddenRows* hidden) = 0;
    // Tokens that have just entered the target's KV cache, in order, with their hidden rows when asked for.
    virtual void observe(std::span<const std::int32_t> cached, const HiddenRows* hidden) = 0;
    virtual DraftTree propose(std::span<const std::int32_t> context, const DraftBudget& budget) = 0;
    // Called once after begin(), before the first propose(), when the session may draft (drafts of at most
    // max_depth): a model drafter runs here what its first propose() would otherwise do over the whole
    // prompt (its head or modules over every prompt row), so the session counts that with the prefill, where
    // it belongs, and not as a cost per drafted token. The result must be what the lazy path computes.
    virtual void catch_up(std::span<const std::int32_t> /*verified*/, int /*max_depth*/) {}
    virtual void end_request(std::span<const std::int32_t> /*output*/) {}
    // A drafter for another concurrent request that shares what this one learns across requests (the
    // suffix drafter's trie of earlier answers), so a server's slots learn from every request; null when a
    // drafter has nothing to share (a fresh one is then as good).
    virtual std::unique_ptr<Drafter> sibling() const { return nullptr; }
    // Weight bytes a chain draft of `depth` tokens reads (0 for drafters without weights): what drafting
    // costs on a memory-bound CPU, next to the target's bytes per forward.
    virtual std::size_t weight_bytes_per_draft(int /*depth*/) const { return 0; }
};

// Options for any drafter: the common ones, plus free-form key=value pairs a drafter may read.
struct DrafterOptions {
    std::string draft_model;  // path, for drafters with weights
    std::map<std::string, std::string> extra;
    // A numeric option (InputError naming it when its value is not a number), or text. Each records the
    // key as one the drafter knows, so create_drafter can warn about options nobody read (typos).
    double get(const std::string& key, double fallback) const;
    std::string text(const std::string& key, const std::string& fallback) const;
    // Adds "key=value,key=value" (empty pieces skipped; the last value of a key wins); a piece without a
    // key and '=' is an InputError that `what` (the option or field) starts.
    void add_extra(const std::string& pairs, const std::string& what);
    mutable std::set<std::string> known;
};

std::unique_ptr<Drafter> create_drafter(const std::string& name, const DrafterOptions& options,
                                        std::shared_ptr<const Qwen3Model> target);
std::vector<std::string> drafter_names();

}  // namespace ternspec
