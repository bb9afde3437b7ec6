#include "runtime/speculative_decoder.hpp"

#include <algorithm>
#include <chrono>
#include <numeric>

#include "verify/verify.hpp"
#include "ternspec/error.hpp"

namespace ternspec {
namespace {

double now() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

HiddenRows select_rows(const std::map<int, std::vector<float>>& hidden, const std::vector<int>& rows, int width) {
    HiddenRows out;
    for (const auto& [layer, all] : hidden) {
        auto& dst = out[layer];
        dst.resize(rows.size() * static_cast<std::size_t>(width));
        for (std::size_t r = 0; r < rows.size(); ++r)
            std::copy_n(all.begin() + static_cast<std::ptrdiff_t>(rows[r]) * width, width,
                        dst.begin() + static_cast<std::ptrdiff_t>(r) * width);
    }
    return out;
}

}  // namespace

std::string chat_prompt(const std::string& user_message) {
    return "<|im_start|>user\n" + user_message + "<|im_end|>\n<|im_start|>assistant\n";
}

DecodeResult SpeculativeDecoder::run(std::span<const std::int32_t> prompt, const DecodeOptions& opt) {
    const Qwen3Model& m = *model_;
    const int vocab = m.config().vocab_size;
    const int H = m.config().hidden_size;
    const int ctx = opt.context > 0 ? std::min(opt.context, m.config().context_length) : m.config().context_length;
    if (prompt.empty()) throw InputError("empty prompt: nothing to condition on");
    for (auto t : prompt)
        if (t < 0 || t >= vocab)
            throw InputError("prompt token id " + std::to_string(t) + " is out of range (vocabulary of " + std::to_string(vocab) + ")");
    if (static_cast<int>(prompt.size()) >= ctx)
        throw InputError("prompt of " + std::to_string(prompt.size()) + " tokens does not fit the context of " +
                         std::to_string(ctx) + " tokens (one more is needed to generate)");
    if (opt.max_new_tokens < 0) throw InputError("the number of tokens to generate must not be negative");

    DecodeResult res;
    DecodeStats& st = res.stats;
    st.prompt_tokens = static_cast<std::int64_t>(prompt.size());
    const double t0 = now();
    KvCache cache = m.make_cache(ctx, opt.kv_type);
    Rng rng(opt.sampling.seed);
    StreamDecoder stream(m.tokenizer());
    const std::vector<int> layers = drafter_ ? drafter_->hidden_layers() : std::vector<int>{};

    auto choose = [&](const float* logits) {
        return opt.sampling.greedy() ? argmax(logits, vocab) : rng.draw(target_distribution(logits, vocab, opt.sampling));
    };

    // Prefill.
    std::vector<std::int32_t> positions(prompt.size());
    std::iota(positions.begin(), positions.end(), 0);
    ForwardInput pre;
    pre.tokens = prompt;
    pre.positions = positions;
    pre.logit_rows = {static_cast<std::int32_t>(prompt.size()) - 1};
    pre.hidden_layers = layers;
    auto pre_out = m.forward(cache, pre);
    std::int32_t pending = choose(pre_out.logits.data());
    st.t_prefill = now() - t0;
    if (drafter_) {
        const double td = now();
        drafter_->begin(prompt, layers.empty() ? nullptr : &pre_out.hidden);
        st.t_draft += now() - td;
    }

    std::vector<std::int32_t> context(prompt.begin(), prompt.end());
    auto emit = [&](std::int32_t tok) -> bool {  // false: stop
        res.tokens.push_back(tok);
        context.push_back(tok);
        ++st.emitted;
        if (opt.stop_at_eos && m.tokenizer().eos_id() && tok == *m.tokenizer().eos_id()) {
            res.stop_reason = "eos";
            return false;
        }
        const std::string piece = stream.push(tok);
        res.text += piece;
        if (opt.on_token && !opt.on_token(tok, piece)) {
            res.stop_reason = "cancelled";
            return false;
        }
        if (static_cast<int>(res.tokens.size()) >= opt.max_new_tokens) {
            res.stop_reason = "length";
            return false;
        }
        return true;
    };

    bool go = opt.max_new_tokens > 0 && emit(pending);
    if (opt.max_new_tokens == 0) res.stop_reason = "length";
    while (go) {
        if (cache.size() + 1 > ctx) {
            res.stop_reason = "context";
            break;
        }
        // Draft, capped by the context left and the tokens still wanted.
        DraftTree draft;
        if (drafter_) {
            const double td = now();
            DraftBudget b = opt.budget;
            if (opt.adaptive) b.max_depth = std::min(b.max_depth, opt.adaptive->choose());
            b.max_depth = std::min(b.max_depth, opt.max_new_tokens - static_cast<int>(res.tokens.size()));
            if (b.max_depth > 0) draft = drafter_->propose(context, b);
            draft.truncate(static_cast<std::size_t>(std::max(0, ctx - cache.size() - 1)));
            st.t_draft += now() - td;
        }
        const double tv = now();
        const int n = 1 + static_cast<int>(draft.size());
        std::vector<std::int32_t> toks{pending}, pos{cache.size()}, parents{-1};
        int depth = 0;  // the draft's longest path
        for (std::size_t i = 0; i < draft.size(); ++i) {
            const int d = draft.depth(static_cast<int>(i));
            depth = std::max(depth, d);
            toks.push_back(draft.tokens[i]);
            parents.push_back(draft.parents[i] + 1);  // node i sits at row i + 1; the root is row 0
            pos.push_back(cache.size() + d);
        }
        ForwardInput fin;
        fin.tokens = toks;
        fin.positions = pos;
        if (!draft.is_chain()) fin.parents = parents;
        fin.hidden_layers = layers;
        auto out = m.forward(cache, fin);
        const Verdict v = opt.sampling.greedy() ? verify_greedy(draft, out.logits.data(), vocab)
                                                : verify_stochastic(draft, out.logits.data(), vocab, opt.sampling, rng);
        std::vector<int> kept{0};
        for (int node : v.accepted_nodes) kept.push_back(node + 1);
        cache.keep(n, kept);
        st.record_round(depth, static_cast<int>(draft.size()), static_cast<int>(v.accepted_nodes.size()));
        if (opt.adaptive) opt.adaptive->record(depth, static_cast<int>(v.accepted_nodes.size()));
        st.t_verify += now() - tv;
        if (drafter_) {
            const double td = now();
            std::vector<std::int32_t> cached{pending};
            for (int node : v.accepted_nodes) cached.push_back(draft.tokens[static_cast<std::size_t>(node)]);
            if (layers.empty()) {
                drafter_->observe(cached, nullptr);
            } else {
                const auto rows = select_rows(out.hidden, kept, H);
                drafter_->observe(cached, &rows);
            }
            st.t_draft += now() - td;
        }
        for (int node : v.accepted_nodes)
            if (!(go = emit(draft.tokens[static_cast<std::size_t>(node)]))) break;
        if (!go) break;
        pending = v.next_token;
        go = emit(pending);
    }
    if (res.stop_reason != "eos") res.text += stream.flush();
    if (drafter_) drafter_->end_request(res.tokens);
    st.t_total = now() - t0;
    return res;
}

}  // namespace ternspec
