#pragma once
// Fixtures the tests build themselves: small random ternary models in real formats, temp paths, and the
// shipped model's path when it is in the checkout.
#include <cstdint>
#include <string>

#include "target/formats/tensor_type.hpp"
#include "target/model/model_config.hpp"

namespace ternspec::fixtures {

std::string temp_dir();                          // per-test-binary scratch folder
std::string temp_path(const std::string& name);  // a path inside it

// A tiny random model (shape "tiny" unless a config is given) written as GGUF of the given type.
std::string tiny_gguf(const std::string& name, TensorType type = TensorType::Q2_0_G128,
                      std::uint64_t seed = 1);

// The same weights as an HF folder (config.json, model.safetensors F16, tokenizer.json).
std::string hf_folder_from_gguf(const std::string& gguf, const std::string& name);

// models/<name> if the repository ships a trained model, else "".
std::string shipped_model();

}  // namespace ternspec::fixtures

namespace ternspec::fixtures {

// A random EAGLE-3 head for the model in `target_gguf`, written in the published checkpoint format
// (config.json + model.safetensors with fc, midlayer.*, norm, lm_head, d2t, t2d) with a reduced draft
// vocabulary of `draft_vocab` ids.
std::string random_eagle_head(const std::string& target_gguf, const std::string& name, int draft_vocab = 128,
                              std::uint64_t seed = 1);

// Random MTP modules (exactly ternary, fp16) for the model in `target_gguf`, as a sidecar folder in the
// format of docs/mtp.md: config.json + model.safetensors with model.layers.<L + d>.* tensors.
std::string random_mtp_sidecar(const std::string& target_gguf, const std::string& name, int depth = 3,
                               std::uint64_t seed = 1);

}  // namespace ternspec::fixtures

#include <functional>
#include <initializer_list>
#include <memory>
#include <span>
#include <vector>

#include "drafters/drafter.hpp"
#include "runtime/speculative_decoder.hpp"
#include "target/model/qwen3_model.hpp"

namespace ternspec::fixtures {

// `sibling` (a Drafter::sibling of `prototype`) decodes exactly as `fresh` (a newly created drafter of the
// same kind) on a repetitive prompt, and all of them draft; the prototype keeps working after lending out.
void expect_sibling_drafts_like_fresh(const std::shared_ptr<const Qwen3Model>& m, Drafter& prototype,
                                      Drafter& sibling, Drafter& fresh, DraftBudget budget);

// Greedy decoding of `prompt` with the drafter `name` at every k and tree size equals plain decoding and
// drafts; `check`, when given, sees each result as well.
void expect_lossless_drafter(const std::shared_ptr<const Qwen3Model>& m, const std::string& name,
                             const DrafterOptions& o, std::span<const std::int32_t> prompt,
                             int max_new_tokens, std::initializer_list<int> ks,
                             std::initializer_list<int> trees,
                             const std::function<void(const DecodeResult&, int k)>& check = {});

// A row of logits against a naive float reference: the whole-row cosine is at least 0.999, each logit is
// within `max_error` of the row's largest |logit| (the packed path quantises activations to int8 per row),
// and the argmax agrees unless the reference's top two are closer than twice that bound.
void expect_close_logits(const std::vector<double>& want, const float* got, const std::string& where,
                         double max_error);

// The target's hidden states at `layers` for `toks`, appended to `cache` (what a model drafter is fed).
HiddenRows target_hidden(const Qwen3Model& m, KvCache& cache, std::span<const std::int32_t> toks,
                         const std::vector<int>& layers);

// `fresh`, begun on ctx less its last token (hidden states from a fresh cache), proposes for ctx what
// `incremental` (built by observing step by step) proposed: incremental state equals starting afresh.
void expect_restart_proposes(const DraftTree& incremental, Drafter& fresh, const Qwen3Model& m,
                             std::span<const std::int32_t> ctx, const std::vector<int>& layers,
                             DraftBudget budget);

}  // namespace ternspec::fixtures
