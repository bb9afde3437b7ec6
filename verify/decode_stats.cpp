#include "verify/decode_stats.hpp"

#include <algorithm>

namespace ternspec {

void DecodeStats::record_round(int draft_depth, int draft_nodes, int accepted_len) {
    ++target_forwards;
    drafted += draft_nodes;
    accepted += accepted_len;
    if (static_cast<int>(depth_drafted.size()) < draft_depth) {
        depth_drafted.resize(static_cast<std::size_t>(draft_depth), 0);
        depth_accepted.resize(static_cast<std::size_t>(draft_depth), 0);
        depth_tested.resize(static_cast<std::size_t>(draft_depth), 0);
    }
    for (int d = 0; d < draft_depth; ++d) depth_drafted[static_cast<std::size_t>(d)]++;
    for (int d = 0; d < std::min(draft_depth, accepted_len + 1); ++d)
        depth_tested[static_cast<std::size_t>(d)]++;
    for (int d = 0; d < accepted_len; ++d) depth_accepted[static_cast<std::size_t>(d)]++;
    if (static_cast<int>(accepted_hist.size()) <= accepted_len)
        accepted_hist.resize(static_cast<std::size_t>(accepted_len) + 1, 0);
    accepted_hist[static_cast<std::size_t>(accepted_len)]++;
    if (static_cast<int>(draft_size_hist.size()) <= draft_nodes)
        draft_size_hist.resize(static_cast<std::size_t>(draft_nodes) + 1, 0);
    draft_size_hist[static_cast<std::size_t>(draft_nodes)]++;
}

void DecodeStats::merge(const DecodeStats& o) {
    prompt_tokens += o.prompt_tokens;
    cached_prompt_tokens += o.cached_prompt_tokens;
    emitted += o.emitted;
    round_emitted += o.round_emitted;
    target_forwards += o.target_forwards;
    drafted += o.drafted;
    accepted += o.accepted;
    pruned += o.pruned;
    auto add = [](std::vector<std::int64_t>& a, const std::vector<std::int64_t>& b) {
        if (a.size() < b.size()) a.resize(b.size(), 0);
        for (std::size_t i = 0; i < b.size(); ++i) a[i] += b[i];
    };
    add(depth_drafted, o.depth_drafted);
    add(depth_accepted, o.depth_accepted);
    add(depth_tested, o.depth_tested);
    add(accepted_hist, o.accepted_hist);
    add(draft_size_hist, o.draft_size_hist);
    t_prefill += o.t_prefill;
    t_draft += o.t_draft;
    t_verify += o.t_verify;
    t_total += o.t_total;
}

namespace {
std::vector<double> ratios(const std::vector<std::int64_t>& num, const std::vector<std::int64_t>& den) {
    std::vector<double> out;
    for (std::size_t d = 0; d < den.size(); ++d)
        out.push_back(den[d] ? static_cast<double>(num[d]) / static_cast<double>(den[d]) : 0.0);
    return out;
}
}  // namespace

std::vector<double> DecodeStats::per_position_acceptance() const {
    return ratios(depth_accepted, depth_drafted);
}

std::vector<double> DecodeStats::conditional_acceptance() const {
    return ratios(depth_accepted, depth_tested);
}

nlohmann::json DecodeStats::to_json() const {
    const auto per_pos = per_position_acceptance();
    const double decode_s = t_total - t_prefill;
    return {
        {"prompt_tokens", prompt_tokens},
        {"cached_prompt_tokens", cached_prompt_tokens},
        {"emitted", emitted},
        {"round_emitted", round_emitted},
        {"target_forwards", target_forwards},
        {"drafted", drafted},
        {"accepted", accepted},
        {"pruned", pruned},
        {"acceptance_rate", acceptance_rate()},
        {"tau", tau()},
        {"per_position_acceptance", per_pos},  // vLLM's convention: of the drafts reaching the depth
        {"conditional_acceptance", conditional_acceptance()},  // of those whose earlier depths were accepted
        {"accepted_length_histogram", accepted_hist},
        {"draft_size_histogram", draft_size_hist},
        {"seconds",
         {{"prefill", t_prefill},
          {"draft", t_draft},
          {"verify", t_verify},
          {"total", t_total},
          {"overhead", std::max(0.0, decode_s - t_draft - t_verify)}}},
        {"prefill_tokens_per_s", t_prefill > 0 ? prompt_tokens / t_prefill : 0.0},
        {"decode_tokens_per_s", decode_tokens_per_s()}};
}

}  // namespace ternspec
