#pragma once
// Where multi-token-prediction (MTP) modules come from (docs/mtp.md): a sidecar folder (config.json with
// architectures ["Qwen3MTPSidecar"] and safetensors named as DeepSeek-V3 names its MTP layers,
// model.layers.<L + d>.{enorm, hnorm, eh_proj, shared_head.*, <Qwen3 block>}), or a GGUF that carries them
// after its main layers as llama.cpp does (qwen3.nextn_predict_layers = D, blk.<L + d>.nextn.*). A qwen35
// GGUF's nextn layers are Qwen3.5's own MTP: gated full-attention blocks, applied recursively (recursive()).
// Tensors are presented under GGUF names whatever the source.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "target/model/model_config.hpp"
#include "target/model/model_files.hpp"

namespace ternspec {

// The modules' draft vocabulary (optional): target ids, most frequent first; the shared head then scores
// only these rows (the EAGLE-3 d2t idea), which at Qwen3's 151,936 tokens is most of a module's bytes.
inline constexpr const char* kMtpDraftVocabTensor = "mtp.draft_vocab";  // GGUF name
inline constexpr const char* kMtpDraftVocabSidecar = "draft_vocab";     // sidecar safetensors name

class MtpFiles {
  public:
    static MtpFiles open(const std::string& path);

    const std::string& path() const { return path_; }
    int depth() const { return depth_; }                   // D modules
    int first_layer() const { return first_layer_; }       // module d (0-based) is layer first_layer + d
    const ModelConfig& config() const { return config_; }  // shape of the modules' blocks; vocab, hidden
    // Qwen3.5's MTP (a qwen35 file's nextn layers): module 0 is applied once per drafted token, fed the
    // target's final hidden state after its output norm, then its own output after shared_head_norm, as
    // llama.cpp and vLLM run it. Otherwise DeepSeek-V3's layout: module d drafts depth d + 1 (docs/mtp.md).
    bool recursive() const { return recursive_; }
    const std::map<std::string, TensorRef>& tensors() const { return tensors_; }
    const TensorRef* find(const std::string& name) const;
    const TensorRef& get(const std::string& name) const;
    // The draft vocabulary's target ids (empty: the full vocabulary), checked against vocab_size.
    const std::vector<std::int32_t>& draft_vocab() const { return draft_vocab_; }

  private:
    std::string path_;
    int depth_ = 0, first_layer_ = 0;
    bool recursive_ = false;
    ModelConfig config_;
    std::map<std::string, TensorRef> tensors_;
    std::vector<std::int32_t> draft_vocab_;
    std::shared_ptr<const void> keep_;  // the mapped files the TensorRefs point into
};

}  // namespace ternspec
