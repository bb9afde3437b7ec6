// Distillation features (include/ternspec/distill.hpp): one target forward per window of corpus tokens,
// written as flat little-endian arrays beside a meta.json that says what they are and how many windows are
// complete (docs/distill.md).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>

#include "drafters/eagle_config.hpp"
#include "runtime/model_impl.hpp"
#include "target/io/mapped_file.hpp"
#include "target/kernels/half_table.hpp"
#include "target/model/kv_cache.hpp"
#include "ternspec/distill.hpp"

namespace ternspec {
namespace {

namespace fs = std::filesystem;

constexpr int kMinWindows = 8;

std::vector<int> default_layers(int n) {
    if (n < 8) return {1, n / 2, n - 1};
    return {2, n / 2, n - 3};
}

// One output array: appended window by window; truncated to the complete windows when a run resumes.
class ArrayFile {
  public:
    ArrayFile(fs::path path, std::size_t window_bytes, std::int64_t keep_windows)
        : path_(std::move(path)), window_bytes_(window_bytes) {
        const auto keep = static_cast<std::uintmax_t>(keep_windows) * window_bytes_;
        std::error_code ec;
        if (fs::exists(path_, ec)) {
            if (fs::file_size(path_) < keep)
                throw InputError(path_.string() + " is shorter than its meta.json says: remove the folder");
            fs::resize_file(path_, keep, ec);
            if (ec) throw Error("cannot truncate " + path_.string() + ": " + ec.message());
        } else if (keep_windows > 0) {
            throw InputError(path_.string() +
                             " is missing although meta.json lists windows: remove the folder");
        }
        out_.open(path_, std::ios::binary | std::ios::app);
        if (!out_) throw Error("cannot open " + path_.string() + " for writing");
    }
    void write(const void* data, std::size_t bytes) {
        out_.write(static_cast<const char*>(data), static_cast<std::streamsize>(bytes));
    }
    void flush() {
        out_.flush();
        if (!out_) throw Error("writing " + path_.string() + " failed (disk full?)");
    }

  private:
    fs::path path_;
    std::size_t window_bytes_;
    std::ofstream out_;
};

void write_json_atomically(const fs::path& path, const nlohmann::json& j) {
    const fs::path tmp = path.string() + ".tmp";
    {
        std::ofstream o(tmp);
        o << j.dump(1) << "\n";
        o.flush();
        if (!o) throw Error("writing " + tmp.string() + " failed");
    }
    std::error_code ec;
    fs::rename(tmp, path, ec);
    if (ec) throw Error("cannot rename " + tmp.string() + " to " + path.string() + ": " + ec.message());
}

}  // namespace

DistillFeatureSummary write_distill_features(const Model& model, const DistillFeatureOptions& o) {
    const auto& impl = *model.impl_;
    const Qwen3Model& m = *impl.model;
    const ModelConfig& cfg = m.config();
    const int H = cfg.hidden_size, W = o.window, K = o.top_k;
    if (o.corpus.empty()) throw InputError("corpus: no text files given");
    if (o.out_dir.empty()) throw InputError("out_dir: empty");
    if (W < 8 || W > cfg.context_length)
        throw InputError("window " + std::to_string(W) + " is outside 8.." +
                         std::to_string(cfg.context_length) + " (the model's context)");
    if (K < 1 || K > 64) throw InputError("top_k " + std::to_string(K) + " is outside 1..64");
    if (o.tokens < 1) throw InputError("tokens must be positive");
    if (o.drafter != "eagle" && o.drafter != "mtp")
        throw InputError("drafter: " + o.drafter + " (eagle or mtp)");
    const bool mtp = o.drafter == "mtp";
    if (mtp && cfg.hybrid())
        throw InputError(
            "drafter mtp: Qwen3 targets only (MTP modules are Qwen3 decoder layers; a hybrid's "
            "own nextn layers are not distilled)");
    if (mtp && (!o.layers.empty() || !o.init_from.empty()))
        throw InputError(
            "drafter mtp: its modules read the final hidden state; layers and init_from are EAGLE's");
    std::vector<int> layers = mtp                ? std::vector<int>{cfg.n_layers}
                              : o.layers.empty() ? default_layers(cfg.n_layers)
                                                 : o.layers;
    if (!o.init_from.empty()) {
        const std::string path = (fs::path(o.init_from) / "config.json").string();
        const auto j = nlohmann::json::parse(read_text_file(path), nullptr, false);
        if (j.is_discarded()) throw InputError("init_from: " + path + " is not JSON");
        const auto head_layers = aux_layers_for(j, path, cfg.n_layers, "");
        if (!o.layers.empty() && o.layers != head_layers)
            throw InputError("layers: the head in " + o.init_from + " taps other layers (" +
                             nlohmann::json(head_layers).dump() + ")");
        layers = head_layers;
    }
    if (!mtp && layers.size() != 3) throw InputError("layers: EAGLE-3 taps exactly three target layers");
    for (int l : layers)
        if (!mtp && (l < 0 || l >= cfg.n_layers))
            throw InputError("layers: " + std::to_string(l) + " is outside 0.." +
                             std::to_string(cfg.n_layers - 1));

    // The corpus as windows of W tokens, file by file (a window never spans two files).
    std::vector<std::vector<std::int32_t>> windows;
    std::int64_t corpus_tokens = 0;
    const auto wanted = static_cast<std::size_t>((o.tokens + W - 1) / W);
    for (const auto& file : o.corpus) {
        const auto ids = m.tokenizer().encode(read_text_file(file));
        corpus_tokens += static_cast<std::int64_t>(ids.size());
        for (std::size_t at = 0; at + static_cast<std::size_t>(W) <= ids.size() && windows.size() < wanted;
             at += static_cast<std::size_t>(W))
            windows.emplace_back(ids.begin() + static_cast<std::ptrdiff_t>(at),
                                 ids.begin() + static_cast<std::ptrdiff_t>(at) + W);
    }
    if (windows.size() < kMinWindows)
        throw InputError("corpus: " + std::to_string(corpus_tokens) + " tokens in " +
                         std::to_string(o.corpus.size()) + " file(s) make " + std::to_string(windows.size()) +
                         " windows of " + std::to_string(W) + " tokens; at least " +
                         std::to_string(kMinWindows) + " are needed");

    nlohmann::json meta = {{"format", "ternspec-distill-features"},
                           {"version", 1},
                           {"model", impl.path},
                           {"vocab_size", cfg.vocab_size},
                           {"hidden_size", H},
                           {"num_hidden_layers", cfg.n_layers},
                           {"num_attention_heads", cfg.n_heads},
                           {"num_key_value_heads", cfg.n_kv_heads},
                           {"head_dim", cfg.head_dim},
                           {"rope_theta", cfg.rope_theta},
                           {"rms_norm_eps", cfg.rms_eps},
                           {"layers", layers},
                           {"layer_convention", "vllm"},
                           {"drafter", o.drafter},
                           {"intermediate_size", cfg.intermediate_size},
                           {"window", W},
                           {"top_k", K},
                           {"corpus", o.corpus},
                           {"windows_planned", windows.size()}};
    const fs::path dir(o.out_dir);
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) throw InputError("out_dir " + o.out_dir + ": " + ec.message());
    std::int64_t done = 0;
    if (fs::exists(dir / "meta.json")) {
        nlohmann::json old =
            nlohmann::json::parse(read_text_file((dir / "meta.json").string()), nullptr, false);
        if (old.is_discarded() || !old.is_object())
            throw InputError((dir / "meta.json").string() + " is not JSON");
        for (const auto& [key, value] : meta.items())
            if (!old.contains(key) || old[key] != value)
                throw InputError(o.out_dir + " holds features of another run (its " + key +
                                 " differs): remove it or choose another folder");
        done =
            std::min<std::int64_t>(old.value("windows_done", 0), static_cast<std::int64_t>(windows.size()));
    }
    const std::size_t f = sizeof(std::uint16_t), i = sizeof(std::int32_t), w = static_cast<std::size_t>(W),
                      taps = layers.size();
    if (mtp) {
        // The modules score with the target's head: its rows, once (exact trit x scale, as half).
        const fs::path head = dir / "head.f16";
        const auto bytes = static_cast<std::uintmax_t>(cfg.vocab_size) * static_cast<std::uintmax_t>(H) * f;
        std::error_code size_ec;
        if (!fs::exists(head) || fs::file_size(head, size_ec) != bytes) {
            std::ofstream out(head, std::ios::binary | std::ios::trunc);
            std::vector<float> r(static_cast<std::size_t>(H));
            std::vector<std::uint16_t> h(static_cast<std::size_t>(H));
            for (int v = 0; v < cfg.vocab_size; ++v) {
                m.head_matrix().dequantize_row(v, r.data());
                float_row_to_half(r.data(), h.data(), H);
                out.write(reinterpret_cast<const char*>(h.data()),
                          static_cast<std::streamsize>(h.size() * f));
            }
            out.flush();
            if (!out) throw Error("writing " + head.string() + " failed (disk full?)");
        }
    }
    ArrayFile tokens_out(dir / "tokens.i32", w * i, done),
        features_out(dir / "features.f16", w * taps * H * f, done),
        embeddings_out(dir / "embeddings.f16", w * H * f, done),
        topk_ids_out(dir / "topk_ids.i32", w * K * i, done),
        topk_probs_out(dir / "topk_probs.f16", w * K * f, done);

    DistillFeatureSummary sum;
    sum.resumed_windows = done;
    sum.layers = layers;
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<std::int32_t> positions(w);
    std::iota(positions.begin(), positions.end(), 0);
    std::vector<std::uint16_t> half(w * taps * static_cast<std::size_t>(H));
    std::vector<float> row(static_cast<std::size_t>(H));
    std::vector<std::int32_t> order(static_cast<std::size_t>(cfg.vocab_size)),
        ids(w * static_cast<std::size_t>(K));
    std::vector<float> probs(w * static_cast<std::size_t>(K));
    for (auto n = static_cast<std::size_t>(done); n < windows.size(); ++n) {
        const auto& toks = windows[n];
        ForwardInput in;
        in.tokens = toks;
        in.positions = positions;
        in.hidden_layers = layers;
        const ForwardOutput out = impl.in_arena([&] {
            KvCache cache(cfg, W);
            return m.forward(cache, in);
        });
        // Features: the taps side by side per position (EAGLE's fc reads the three together).
        for (std::size_t t = 0; t < w; ++t)
            for (std::size_t l = 0; l < taps; ++l)
                float_row_to_half(out.hidden.at(layers[l]).data() + t * static_cast<std::size_t>(H),
                                  half.data() + (t * taps + l) * static_cast<std::size_t>(H), H);
        features_out.write(half.data(), w * taps * static_cast<std::size_t>(H) * f);
        for (std::size_t t = 0; t < w; ++t) {
            m.embed(toks[t], row.data());
            float_row_to_half(row.data(), half.data() + t * static_cast<std::size_t>(H), H);
        }
        embeddings_out.write(half.data(), w * static_cast<std::size_t>(H) * f);
        // The target's top-k next tokens per position, probabilities of the full softmax.
        for (std::size_t t = 0; t < w; ++t) {
            const float* logits = out.logits.data() + t * static_cast<std::size_t>(cfg.vocab_size);
            const float mx = *std::max_element(logits, logits + cfg.vocab_size);
            double z = 0;
            for (int v = 0; v < cfg.vocab_size; ++v) z += std::exp(static_cast<double>(logits[v] - mx));
            std::iota(order.begin(), order.end(), 0);
            std::partial_sort(order.begin(), order.begin() + K, order.end(),
                              [&](std::int32_t a, std::int32_t b) {
                                  return logits[a] != logits[b] ? logits[a] > logits[b] : a < b;
                              });
            for (int k = 0; k < K; ++k) {
                ids[t * static_cast<std::size_t>(K) + static_cast<std::size_t>(k)] =
                    order[static_cast<std::size_t>(k)];
                probs[t * static_cast<std::size_t>(K) + static_cast<std::size_t>(k)] = static_cast<float>(
                    std::exp(static_cast<double>(logits[order[static_cast<std::size_t>(k)]] - mx)) / z);
            }
        }
        std::vector<std::uint16_t> probs_half(probs.size());
        float_row_to_half(probs.data(), probs_half.data(), static_cast<int>(probs.size()));
        topk_ids_out.write(ids.data(), ids.size() * i);
        topk_probs_out.write(probs_half.data(), probs_half.size() * f);
        tokens_out.write(toks.data(), w * i);
        for (auto* a : {&tokens_out, &features_out, &embeddings_out, &topk_ids_out, &topk_probs_out})
            a->flush();
        meta["windows_done"] = n + 1;
        write_json_atomically(dir / "meta.json", meta);
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        sum.seconds = s;
        sum.tokens_per_s = s > 0 ? static_cast<double>((n + 1 - static_cast<std::size_t>(done)) * w) / s : 0;
        if (o.on_progress)
            o.on_progress({static_cast<std::int64_t>((n + 1) * w),
                           static_cast<std::int64_t>(windows.size() * w), sum.tokens_per_s});
    }
    sum.windows = static_cast<std::int64_t>(windows.size());
    sum.tokens = sum.windows * W;
    return sum;
}

}  // namespace ternspec
