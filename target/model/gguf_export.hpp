#pragma once
// Writing Qwen3 models as GGUF: `synth` (random ternary weights with real shapes) and `convert`.
#include <cstdint>
#include <functional>
#include <nlohmann/json_fwd.hpp>
#include <random>
#include <string>
#include <vector>

#include "target/formats/gguf.hpp"
#include "target/model/model_files.hpp"
#include "target/model/mtp_files.hpp"
#include "target/tokenizer/tokenizer.hpp"

namespace ternspec {

using Progress = std::function<void(int done, int total, const std::string& what)>;

void set_qwen3_metadata(GgufWriter& w, const ModelConfig& c, const std::string& name);

// Named shapes: tiny (tests), qwen3-0.6b, qwen3-1.7b, qwen3-4b, qwen3-8b (Qwen3's published sizes, which
// Ternary-Bonsai keeps).
ModelConfig synth_shape(const std::string& name);

// The byte-level tokenizer synthetic models carry: 256 bytes and Qwen's three special tokens.
// A Hugging Face tokenizer.json (byte-level BPE, Qwen2's split regex, NFC) from its vocabulary object,
// added-token list and merges.
std::string qwen2_tokenizer_json(const nlohmann::json& vocab, const nlohmann::json& added,
                                 const nlohmann::json& merges);
Tokenizer synth_tokenizer();

// A random ternary model: trits uniform over {-1, 0, +1}, scales near 1/sqrt(2/3 * row length) so that
// activations stay O(1), a byte-level tokenizer (256 bytes + Qwen's three special tokens).
// hadamard_block > 0: the weights are declared stored in PrismML's rotated basis with that block size
// (random signs; the same random weights, read as rotated: the cost of the rotation, not a trained model).
void synth_model(const std::string& out, const ModelConfig& shape, TensorType type, std::uint64_t seed,
                 const Progress& progress = {}, int hadamard_block = 0);

// Random trits, scales near 1/sqrt(2/3 * cols) per block (exact in the type's precision), encoded as `type`
// (a ternary type, or f16/bf16/f32 holding exactly ternary values).
std::vector<std::uint8_t> random_matrix(TensorType type, int rows, int cols, std::mt19937_64& rng);

// Sidecar: ternspec's MTP modules (plain Qwen3 layers, a qwen3 file, for any target). Qwen35Nextn:
// Qwen3.5's own MTP layers (gated-attention blocks in a qwen35 file, as llama.cpp reads them).
enum class MtpForm { Sidecar, Qwen35Nextn };
// D random MTP modules at the target shape `c`, in the GGUF form convert writes (mtp_gguf_path), with a
// draft vocabulary of the first `draft_vocab` ids when it is non-zero: the drafting cost of real modules.
void synth_mtp(const std::string& out, const ModelConfig& c, int depth, int draft_vocab, TensorType type,
               std::uint64_t seed, MtpForm form = MtpForm::Sidecar);

// The ternary weights of `t` written as `type`, refused by name when `type` cannot hold them exactly
// (quantize_floats: absmean-quantise float weights that are not ternary).
std::vector<std::uint8_t> encode_ternary_exact(const TensorRef& t, TensorType type, bool quantize_floats);

// Re-encodes every weight of `in` as `type` (norms stay F32). Fails, naming the tensor, when the target type
// cannot hold the weights exactly (e.g. two group-128 scales inside one 256-block of TQ2_0).
// MTP modules (`mtp`, or nextn layers `in` already carries) go by default to a file of their own,
// mtp_gguf_path(out), named as llama.cpp names MTP layers (qwen3.nextn_predict_layers = D, blk.<L + d>.*):
// llama.cpp's qwen3 loader refuses a file with tensors it does not create ("wrong number of tensors"), so
// `out` stays the plain target it loads. SameFile appends them to `out` instead (ternspec reads both forms;
// the tests use it to cover files made elsewhere).
enum class MtpPlacement { SeparateFile, SameFile };
void convert_model(const ModelFiles& in, const std::string& out, TensorType type, bool quantize,
                   const Progress& progress = {}, const MtpFiles* mtp = nullptr,
                   MtpPlacement placement = MtpPlacement::SeparateFile);
// "X.gguf" -> "X.mtp.gguf" (otherwise the path with ".mtp.gguf" appended).
std::string mtp_gguf_path(const std::string& out);

}  // namespace ternspec
