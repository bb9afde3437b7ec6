#include "drafters/mtp_modules.hpp"

#include "drafters/head_matrix.hpp"
#include "target/model/mtp_files.hpp"
#include "target/model/qwen3_model.hpp"
#include "ternspec/error.hpp"

namespace ternspec {

void append_final_hidden(const Qwen3Model& target, std::span<const std::int32_t> cached,
                         const HiddenRows* hidden, std::vector<float>& out) {
    const int H = target.config().hidden_size;
    const auto it = hidden ? hidden->find(target.config().n_layers) : HiddenRows::const_iterator{};
    if (!hidden || it == hidden->end() || it->second.size() != cached.size() * static_cast<std::size_t>(H))
        throw Error("MTP drafter: the target did not return its final hidden states");
    out.insert(out.end(), it->second.begin(), it->second.end());
}

std::shared_ptr<MtpModules> MtpModules::load(const std::string& path,
                                             std::shared_ptr<const Qwen3Model> target) {
    const auto files = MtpFiles::open(path);
    const auto& tc = target->config();
    const auto& c = files.config();
    auto mismatch = [&](const char* what, int have, int want) {
        if (have != want)
            throw FormatError(path + ": MTP " + what + " is " + std::to_string(have) +
                              " but the target's is " + std::to_string(want));
    };
    mismatch("num_hidden_layers (index of the first module)", files.first_layer(), tc.n_layers);
    mismatch("hidden_size", c.hidden_size, tc.hidden_size);
    mismatch("vocab_size", c.vocab_size, tc.vocab_size);
    auto m = std::make_shared<MtpModules>();
    m->target_ = std::move(target);
    m->cfg_ = c;
    m->recursive_ = files.recursive();
    const auto H = static_cast<std::uint64_t>(c.hidden_size), V = static_cast<std::uint64_t>(c.vocab_size);
    auto shaped = [&](const std::string& name, const std::vector<std::uint64_t>& shape) -> const TensorRef& {
        const auto& t = files.get(name);
        if (t.shape != shape)
            throw FormatError(t.file + ": MTP tensor " + t.source_name + " has the wrong shape");
        return t;
    };
    const TernaryFetch ternary = [&](const std::string& name, std::vector<std::uint64_t> shape) {
        // Refused unless exactly ternary: a module trained in float would not compute what it was trained to.
        return import_ternary(shaped(name, shape), false);
    };
    const FloatFetch floats = [&](const std::string& name, std::uint64_t n) {
        return import_floats(shaped(name, {n}));
    };
    auto pack = [](const TernaryData& d, const std::string& name) {
        return TernaryMatrix(d.rows, d.cols, d.group, d.trits, d.scales, name);
    };
    for (int d = 0; d < files.depth(); ++d) {
        const std::string p = "blk." + std::to_string(files.first_layer() + d) + ".";
        Module mod;
        mod.enorm = floats(p + "nextn.enorm.weight", H);
        mod.hnorm = floats(p + "nextn.hnorm.weight", H);
        mod.head_norm = files.find(p + "nextn.shared_head_norm.weight")
                            ? floats(p + "nextn.shared_head_norm.weight", H)
                            : m->target_->output_norm();
        mod.eh_proj = pack(ternary(p + "nextn.eh_proj.weight", {H, 2 * H}), p + "nextn.eh_proj.weight");
        mod.block = DecoderBlock::load(p, c, ternary, floats);
        if (files.find(p + "nextn.shared_head_head.weight"))
            mod.head = std::make_shared<TernaryMatrix>(pack(
                ternary(p + "nextn.shared_head_head.weight", {V, H}), p + "nextn.shared_head_head.weight"));
        if (files.find(p + "nextn.embed_tokens.weight"))
            mod.embed = std::make_unique<TernaryMatrix>(
                pack(ternary(p + "nextn.embed_tokens.weight", {V, H}), p + "nextn.embed_tokens.weight"));
        m->modules_.push_back(std::move(mod));
    }
    m->draft_ids_ = files.draft_vocab();
    if (!m->draft_ids_.empty()) {
        // Modules on the target's head share one restricted copy; a module with its own head gets its own.
        std::shared_ptr<const TernaryMatrix> shared;
        for (auto& mod : m->modules_) {
            if (mod.head) {
                mod.head =
                    std::make_shared<TernaryMatrix>(select_rows(*mod.head, m->draft_ids_, "MTP draft head"));
                continue;
            }
            if (!shared)
                shared = std::make_shared<TernaryMatrix>(
                    select_rows(m->target_->head_matrix(), m->draft_ids_, "MTP draft head"));
            mod.head = shared;
            mod.head_from_target = true;
        }
    }
    return m;
}

std::size_t MtpModules::bytes() const {
    std::size_t b = 0;
    for (const auto& mod : modules_)
        b += mod.eh_proj.bytes() + mod.block.bytes() + (mod.head ? mod.head->bytes() : 0);
    return b;
}

std::size_t MtpModules::step_bytes(int d) const {
    const Module& mod = modules_.at(static_cast<std::size_t>(d));
    return mod.eh_proj.bytes() + mod.block.bytes() + (mod.head ? *mod.head : target_->head_matrix()).bytes();
}

int MtpModules::draft_vocab_size() const {
    return draft_ids_.empty() ? cfg_.vocab_size : static_cast<int>(draft_ids_.size());
}

KvCache MtpModules::make_cache(int capacity) const {
    ModelConfig one = cfg_;
    one.n_layers = 1;
    return KvCache(one, capacity, KvType::F32);
}

std::vector<float> MtpModules::forward(int d, KvCache& cache, const float* prev,
                                       std::span<const std::int32_t> tokens,
                                       std::span<const std::int32_t> positions,
                                       const std::vector<std::vector<int>>& slots) const {
    const Module& mod = modules_.at(static_cast<std::size_t>(d));
    const int M = static_cast<int>(tokens.size()), H = cfg_.hidden_size;
    const int base = cache.size();
    if (base + M > cache.capacity())
        throw InputError("MTP module cache full at " + std::to_string(cache.capacity()) + " positions");
    std::vector<float> cat(static_cast<std::size_t>(M) * 2 * H), e(static_cast<std::size_t>(H));
    for (int i = 0; i < M; ++i) {
        const std::int32_t t = tokens[static_cast<std::size_t>(i)];
        if (mod.embed) {
            if (t < 0 || t >= cfg_.vocab_size)
                throw InputError("token id " + std::to_string(t) + " is out of range");
            mod.embed->dequantize_row(t, e.data());
        } else {
            target_->embed(t, e.data());
        }
        float* row = cat.data() + static_cast<std::size_t>(i) * 2 * H;
        rms_norm(e.data(), mod.enorm.data(), H, cfg_.rms_eps, row);
        rms_norm(prev + static_cast<std::size_t>(i) * H, mod.hnorm.data(), H, cfg_.rms_eps, row + H);
    }
    std::vector<float> x(static_cast<std::size_t>(M) * H);
    BlockBuffers buf;
    buf.qa.quantize(cat.data(), M, 2 * H);
    ternary_matmul(mod.eh_proj, buf.qa, x.data());
    const RopeTable rope(positions, cfg_.rotary_dims(), cfg_.rope_theta);
    const SequenceRows seq{&cache, base, 0, M, &rope, &slots, {}};
    mod.block.forward(cfg_, 0, std::span(&seq, 1), x, buf);
    cache.commit(M);
    return x;
}

void MtpModules::hidden_in(const float* rows, int n, bool from_target, float* out) const {
    const int H = cfg_.hidden_size;
    const auto& w = from_target ? target_->output_norm() : modules_.at(0).head_norm;
    for (int i = 0; i < n; ++i)
        rms_norm(rows + static_cast<std::size_t>(i) * H, w.data(), H, cfg_.rms_eps,
                 out + static_cast<std::size_t>(i) * H);
}

void MtpModules::logits(int d, const float* out, int rows, float* logits) const {
    const Module& mod = modules_.at(static_cast<std::size_t>(d));
    normed_logits(mod.head ? *mod.head : target_->head_matrix(), mod.head_norm.data(), cfg_.rms_eps, out,
                  rows, logits, !mod.head || mod.head_from_target ? target_->rotation() : nullptr);
}

}  // namespace ternspec
