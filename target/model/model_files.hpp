#pragma once
// Whatever a user points -m at: a GGUF file or a Hugging Face folder. Tensors are presented under GGUF
// names (token_embd.weight, blk.N.attn_q.weight, ...) whatever the source, so the loader has one path.
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "target/formats/tensor_type.hpp"
#include "target/model/model_config.hpp"
#include "target/tokenizer/tokenizer.hpp"

namespace ternspec {

class HadamardRotation;

class GgufFile;
class SafetensorsSet;

struct TensorRef {
    std::string name;         // GGUF name
    std::string source_name;  // name in the file it came from
    TensorType type;
    std::vector<std::uint64_t> shape;  // outermost first: [rows, cols] for a matrix
    const std::uint8_t* data = nullptr;
    std::uint64_t n_bytes = 0;
    std::string file;
    std::uint64_t n_elems() const;
};

// A folder's config.json architectures[0] ("Qwen3ForCausalLM", "LlamaForCausalLMEagle3", ...), or "" when
// `path` is not a folder or its config.json is missing, unreadable or names none: callers telling model
// kinds apart leave such folders to ModelFiles::open, which says what is wrong.
std::string folder_architecture(const std::string& path);

// A tensor by name; get_tensor throws FormatError(missing + name) when it is absent.
const TensorRef* find_tensor(const std::map<std::string, TensorRef>& tensors, const std::string& name);
const TensorRef& get_tensor(const std::map<std::string, TensorRef>& tensors, const std::string& name,
                            const std::string& missing);

class ModelFiles {
  public:
    static ModelFiles open(const std::string& path);

    const ModelConfig& config() const { return config_; }
    const std::string& path() const { return path_; }
    const std::string& format() const { return format_; }  // "GGUF v3", "Hugging Face folder"
    const std::map<std::string, TensorRef>& tensors() const { return tensors_; }
    const TensorRef* find(const std::string& name) const;
    const TensorRef& get(const std::string& name) const;  // FormatError naming tensor and file if missing
    const Tokenizer& tokenizer() const { return *tokenizer_; }
    std::shared_ptr<const Tokenizer> tokenizer_ptr() const { return tokenizer_; }
    std::string chat_template() const { return chat_template_; }
    const GgufFile* gguf() const { return gguf_.get(); }
    // Layers stored after the main stack (MTP / nextn modules): qwen3.nextn_predict_layers in a GGUF,
    // num_nextn_predict_layers in config.json; 0 when absent.
    int extra_layers() const { return extra_layers_; }
    // PrismML's rotated basis (prism.hadamard.*), or null.
    std::shared_ptr<const HadamardRotation> rotation() const { return rotation_; }

  private:
    static ModelFiles open_folder(const std::string& path);  // a Hugging Face folder
    static ModelFiles open_gguf(const std::string& path);

    std::string path_, format_, chat_template_;
    ModelConfig config_;
    int extra_layers_ = 0;
    std::map<std::string, TensorRef> tensors_;
    std::shared_ptr<GgufFile> gguf_;
    std::shared_ptr<const HadamardRotation> rotation_;
    std::vector<std::shared_ptr<std::vector<std::uint8_t>>> owned_;  // tensors transformed while reading
    std::shared_ptr<SafetensorsSet> st_;
    std::shared_ptr<Tokenizer> tokenizer_;
};

// A JSON config file (config.json and kin); FormatError naming the file when it does not parse.
nlohmann::json read_json_file(const std::string& path);

// The layer of a GGUF tensor name "blk.<N>.<...>" (N capped at 2^30), or -1 for any other name (a hostile
// "blk.x" included, which std::stoi answered with std::invalid_argument).
int block_index(const std::string& gguf_name);

// HF parameter name -> GGUF name, or "" for names ternspec does not use.
std::string hf_to_gguf_name(const std::string& hf);

}  // namespace ternspec
