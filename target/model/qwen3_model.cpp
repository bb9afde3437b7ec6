#include "target/model/qwen3_model.hpp"

#include <malloc.h>
#include <spdlog/spdlog.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "target/kernels/half_table.hpp"
#include "target/model/attention.hpp"
#include "target/model/ternary_import.hpp"
#include "ternspec/error.hpp"

namespace ternspec {

void rms_norm(const float* x, const float* w, int n, float eps, float* out) {
    // Four partial sums in a fixed order: one running sum waits on each add's latency.
    double part[4] = {0, 0, 0, 0};
    int i = 0;
    for (; i + 4 <= n; i += 4)
        for (int j = 0; j < 4; ++j) part[j] += static_cast<double>(x[i + j]) * x[i + j];
    for (; i < n; ++i) part[0] += static_cast<double>(x[i]) * x[i];
    const double ss = (part[0] + part[1]) + (part[2] + part[3]);
    const float r = static_cast<float>(1.0 / std::sqrt(ss / n + eps));
    for (i = 0; i < n; ++i) out[i] = x[i] * r * w[i];
}

namespace {

void expect_shape(const TensorRef& t, std::vector<std::uint64_t> want) {
    if (t.shape != want) {
        auto fmt = [](const std::vector<std::uint64_t>& s) {
            std::string o = "[";
            for (std::size_t i = 0; i < s.size(); ++i) o += (i ? ", " : "") + std::to_string(s[i]);
            return o + "]";
        };
        throw FormatError(t.file + ": tensor " + t.source_name + " has shape " + fmt(t.shape) +
                          ", expected " + fmt(want));
    }
}

}  // namespace

std::shared_ptr<Qwen3Model> Qwen3Model::load(const ModelFiles& files, const ModelLoadOptions& options) {
    auto m = std::make_shared<Qwen3Model>();
    const auto& c = files.config();
    m->cfg_ = c;
    m->tokenizer_ = files.tokenizer_ptr();
    m->chat_template_ = files.chat_template();
    if (files.extra_layers() > 0) m->mtp_layers_path_ = files.path();
    const auto H = static_cast<std::uint64_t>(c.hidden_size);
    const int total = 2 + 7 * c.n_layers + (c.tied_embeddings ? 0 : 1);
    int done = 0;
    auto step = [&](const std::string& name) {
        ++done;
        if (options.progress) options.progress(done, total, name);
    };
    auto ternary = [&](const std::string& name, std::vector<std::uint64_t> shape) {
        const auto& t = files.get(name);
        expect_shape(t, std::move(shape));
        auto d = import_ternary(t, options.quantize);
        m->quantized_ = m->quantized_ || d.quantized;
        step(name);
        return d;
    };
    auto pack = [](const TernaryData& d, const std::string& name) {
        return TernaryMatrix(d.rows, d.cols, d.group, d.trits, d.scales, name);
    };
    auto floats = [&](const std::string& name, std::uint64_t n) {
        const auto& t = files.get(name);
        expect_shape(t, {n});
        return import_floats(t);
    };
    m->embed_ = pack(ternary("token_embd.weight", {static_cast<std::uint64_t>(c.vocab_size), H}),
                     "token_embd.weight");
    if (!c.tied_embeddings) {
        m->head_ = std::make_unique<TernaryMatrix>(
            pack(ternary("output.weight", {static_cast<std::uint64_t>(c.vocab_size), H}), "output.weight"));
    }
    m->output_norm_ = floats("output_norm.weight", H);
    step("output_norm.weight");
    m->layers_.reserve(static_cast<std::size_t>(c.n_layers));
    auto fetch_ternary = [&](const std::string& name, std::vector<std::uint64_t> shape) {
        return ternary(name, std::move(shape));
    };
    auto fetch_floats = [&](const std::string& name, std::uint64_t n) { return floats(name, n); };
    auto fetch_matrix = [&](const std::string& name, std::uint64_t rows, std::uint64_t cols) {
        const auto& t = files.get(name);
        expect_shape(t, {rows, cols});
        return import_floats(t);
    };
    // A file whose block_count is smaller than its layers would run a truncated model without a word.
    for (const auto& [name, t] : files.tensors()) {
        if (block_index(name) >= c.n_layers + files.extra_layers())
            throw FormatError(t.file + ": tensor " + t.source_name + " is past the " +
                              std::to_string(c.n_layers) + " layers the file declares");
    }
    for (int l = 0; l < c.n_layers; ++l) {
        const std::string prefix = "blk." + std::to_string(l) + ".";
        if (c.is_recurrent(l))
            m->recurrent_.push_back(
                DeltaNetBlock::load(prefix, c, fetch_ternary, fetch_floats, fetch_matrix));
        else
            m->layers_.push_back(DecoderBlock::load(prefix, c, fetch_ternary, fetch_floats));
    }
    if (auto rot = files.rotation()) {
        // Every ternary matrix folded, or none: a partial fold is refused by name.
        rot->check_covers(ternary_matrix_names(c), files.path());
        if (c.tied_embeddings && !rot->latent_embedding())
            throw FormatError(files.path() +
                              ": the tied head is folded but prism.hadamard.inverse_weight_names "
                              "does not name token_embd.weight");
        m->rotation_ = rot;
        for (auto& L : m->layers_) L.rotation = rot.get();
        for (int l = 0, r = 0; l < c.n_layers; ++l)
            if (c.is_recurrent(l)) {
                auto& L = m->recurrent_[static_cast<std::size_t>(r++)];
                L.rotation = rot.get();
                const std::string p = "blk." + std::to_string(l) + ".";
                L.rotate_alpha_beta = rot->folds(p + "ssm_alpha.weight");
                if (L.rotate_alpha_beta != rot->folds(p + "ssm_beta.weight"))
                    throw FormatError(files.path() + ": prism.hadamard.weight_names folds one of " + p +
                                      "ssm_alpha.weight and " + p + "ssm_beta.weight, not both");
            }
    }
    if (m->quantized_)
        spdlog::warn("{}: float weights were not ternary; quantised them with absmean per group of 128",
                     files.path());
#if defined(__GLIBC__)
    // Packing goes through transient trit and scale buffers; hand their pages back so resident memory is
    // the packed weights, not the packing's high-water mark.
    malloc_trim(0);
#endif
    return m;
}

std::size_t Qwen3Model::weight_bytes() const {
    std::size_t b = head_matrix().bytes();
    for (const auto& L : layers_) b += L.bytes();
    for (const auto& L : recurrent_) b += L.bytes();
    return b;
}

std::size_t Qwen3Model::recurrent_state_bytes() const {
    const auto& c = cfg_;
    const std::size_t per_layer =
        (static_cast<std::size_t>(c.ssm_value_heads) * c.ssm_head_dim * c.ssm_head_dim +
         static_cast<std::size_t>(std::max(c.ssm_conv_kernel - 1, 0)) * c.ssm_conv_channels()) *
        sizeof(float);
    return per_layer * static_cast<std::size_t>(c.recurrent_count());
}

KvCache Qwen3Model::make_cache(int capacity, KvType type) const {
    return KvCache(cfg_, capacity > 0 ? std::min(capacity, cfg_.context_length) : cfg_.context_length, type);
}

std::vector<float> Qwen3Model::logits_chunked(std::span<const std::int32_t> ids, int chunk) const {
    if (chunk < 1) throw InputError("chunk size must be positive");
    KvCache cache = make_cache(static_cast<int>(ids.size()));
    std::vector<float> out;
    out.reserve(ids.size() * static_cast<std::size_t>(cfg_.vocab_size));
    for (std::size_t s = 0; s < ids.size(); s += static_cast<std::size_t>(chunk)) {
        const std::size_t n = std::min(ids.size() - s, static_cast<std::size_t>(chunk));
        std::vector<std::int32_t> pos(n);
        std::iota(pos.begin(), pos.end(), static_cast<std::int32_t>(s));
        ForwardInput in;
        in.tokens = ids.subspan(s, n);
        in.positions = pos;
        const auto r = forward(cache, in);
        out.insert(out.end(), r.logits.begin(), r.logits.end());
    }
    return out;
}

void Qwen3Model::embed(std::int32_t token, float* out) const {
    if (token < 0 || token >= cfg_.vocab_size)
        throw InputError("token id " + std::to_string(token) + " is out of range (vocabulary of " +
                         std::to_string(cfg_.vocab_size) + ")");
    embed_.dequantize_row(token, out);
    if (rotation_ && rotation_->latent_embedding()) rotation_->inverse(out, cfg_.hidden_size);
}

void Qwen3Model::lm_head(const float* hidden, int rows, float* logits) const {
    normed_logits(head_matrix(), output_norm_.data(), cfg_.rms_eps, hidden, rows, logits, rotation_.get());
}

void normed_logits(const TernaryMatrix& head, const float* norm, float eps, const float* hidden, int rows,
                   float* logits, const HadamardRotation* rotation) {
    const int H = head.cols();
    std::vector<float> normed(static_cast<std::size_t>(rows) * H);
    for (int r = 0; r < rows; ++r) {
        rms_norm(hidden + static_cast<std::size_t>(r) * H, norm, H, eps,
                 normed.data() + static_cast<std::size_t>(r) * H);
        if (rotation) rotation->forward(normed.data() + static_cast<std::size_t>(r) * H, H);
    }
    QuantizedActivations qa;
    qa.quantize(normed.data(), rows, H);
    ternary_matmul(head, qa, logits);
}

ForwardOutput Qwen3Model::forward(KvCache& cache, const ForwardInput& in) const {
    const SequenceInput one{&cache, &in};
    return std::move(forward_many(std::span(&one, 1))[0]);
}

namespace {

// Every input is checked before anything changes: a throw leaves every cache as it was. Returns the
// number of tokens in all.
int check_inputs(std::span<const Qwen3Model::SequenceInput> seqs, int context_length) {
    int total = 0;
    for (const auto& s : seqs) {
        const ForwardInput& in = *s.input;
        const int M = static_cast<int>(in.tokens.size()), base = s.cache->size();
        if (M == 0) throw InputError("forward with no tokens");
        if (in.positions.size() != in.tokens.size()) throw Error("forward: one position per token is needed");
        if (!in.parents.empty() && in.parents.size() != in.tokens.size())
            throw Error("forward: one parent per token is needed");
        if (base + M > s.cache->capacity())
            throw InputError("context full: " + std::to_string(base + M) + " tokens exceed the context of " +
                             std::to_string(s.cache->capacity()));
        for (int i = 0; i < M; ++i) {
            if (in.positions[i] < 0 || in.positions[i] >= context_length)
                throw InputError("position " + std::to_string(in.positions[i]) +
                                 " is past the model's context of " + std::to_string(context_length));
            if (!in.parents.empty() && (in.parents[i] < -1 || in.parents[i] >= i))
                throw Error("forward: parent of token " + std::to_string(i) + " must come before it");
        }
        s.cache->recurrent().check_call(M, !in.parents.empty());  // before any cache changes
        for (const int row : in.logit_rows)
            if (row < 0 || row >= M) throw Error("forward: logit row out of range");
        for (const auto& o : seqs)
            if (&o != &s && o.cache == s.cache) throw Error("forward: two sequences share one KV cache");
        total += M;
    }
    return total;
}

// Each sequence's rows of the batch: its cache, where it starts, its RoPE table and attention slots.
struct BatchLayout {
    std::vector<RopeTable> ropes;
    std::vector<std::vector<std::vector<int>>> slots;
    std::vector<SequenceRows> rows;

    BatchLayout(std::span<const Qwen3Model::SequenceInput> seqs, const ModelConfig& cfg) {
        ropes.reserve(seqs.size());  // rows point into ropes and slots
        slots.reserve(seqs.size());
        for (int r = 0; const auto& s : seqs) {
            const ForwardInput& in = *s.input;
            const int M = static_cast<int>(in.tokens.size());
            ropes.emplace_back(in.positions, cfg.rotary_dims(), cfg.rope_theta);
            slots.push_back(attention_slots(s.cache->size(), M, in.parents));
            rows.push_back({s.cache, s.cache->size(), r, M, &ropes.back(), &slots.back(), in.parents});
            r += M;
        }
    }
};

}  // namespace

std::vector<ForwardOutput> Qwen3Model::forward_many(std::span<const SequenceInput> seqs) const {
    const int H = cfg_.hidden_size;
    const int total = check_inputs(seqs, cfg_.context_length);
    const BatchLayout layout(seqs, cfg_);
    std::vector<float> x(static_cast<std::size_t>(total) * H);
    for (std::size_t q = 0; q < seqs.size(); ++q)
        for (int i = 0; i < layout.rows[q].rows; ++i)
            embed(seqs[q].input->tokens[i], x.data() + static_cast<std::size_t>(layout.rows[q].row0 + i) * H);
    std::vector<ForwardOutput> out(seqs.size());
    auto capture = [&](int layer) {
        for (std::size_t q = 0; q < seqs.size(); ++q) {
            const auto& want = seqs[q].input->hidden_layers;
            if (std::find(want.begin(), want.end(), layer) == want.end()) continue;
            const auto& r = layout.rows[q];
            out[q].hidden[layer].assign(x.begin() + static_cast<std::ptrdiff_t>(r.row0) * H,
                                        x.begin() + static_cast<std::ptrdiff_t>(r.row0 + r.rows) * H);
        }
    };
    // A hybrid's recurrent state starts this call from its current state (rolled back by replay if asked).
    for (const auto& s : seqs)
        s.cache->recurrent().begin_call(static_cast<int>(s.input->tokens.size()), s.input->parents);
    BlockBuffers buf;
    for (int l = 0; l < cfg_.n_layers; ++l) {
        capture(l);
        if (cfg_.is_recurrent(l)) {
            const int r = cfg_.recurrent_index(l);
            recurrent_[static_cast<std::size_t>(r)].forward(cfg_, r, layout.rows, x, buf);
        } else {
            const int k = cfg_.kv_index(l);
            layers_[static_cast<std::size_t>(k)].forward(cfg_, k, layout.rows, x, buf);
        }
    }
    capture(cfg_.n_layers);
    for (const auto& s : seqs) s.cache->commit(static_cast<int>(s.input->tokens.size()));
    head_logits(seqs, layout.rows, x, out);
    return out;
}

// One LM-head pass over every sequence's wanted rows.
void Qwen3Model::head_logits(std::span<const SequenceInput> seqs, const std::vector<SequenceRows>& rows,
                             const std::vector<float>& x, std::vector<ForwardOutput>& out) const {
    const int H = cfg_.hidden_size;
    std::vector<float> sel;
    for (std::size_t q = 0; q < seqs.size(); ++q) {
        const ForwardInput& in = *seqs[q].input;
        if (in.no_logits) continue;
        if (in.logit_rows.empty()) {
            for (int i = 0; i < rows[q].rows; ++i) out[q].logit_rows.push_back(i);
        } else {
            out[q].logit_rows = in.logit_rows;
        }
        for (const int row : out[q].logit_rows)
            sel.insert(sel.end(), x.begin() + static_cast<std::ptrdiff_t>(rows[q].row0 + row) * H,
                       x.begin() + static_cast<std::ptrdiff_t>(rows[q].row0 + row + 1) * H);
    }
    if (sel.empty()) return;
    const int R = static_cast<int>(sel.size() / static_cast<std::size_t>(H)), V = cfg_.vocab_size;
    std::vector<float> logits(static_cast<std::size_t>(R) * V);
    lm_head(sel.data(), R, logits.data());
    std::size_t at = 0;
    for (auto& o : out) {
        const std::size_t n = o.logit_rows.size() * static_cast<std::size_t>(V);
        o.logits.assign(logits.begin() + static_cast<std::ptrdiff_t>(at),
                        logits.begin() + static_cast<std::ptrdiff_t>(at + n));
        at += n;
    }
}

}  // namespace ternspec
