#pragma once
// A Hugging Face Qwen3.5 folder (Qwen3_5ForCausalLM, or the text part of Qwen3_5ForConditionalGeneration)
// read as the forward reads a qwen35 GGUF: the config into a ModelConfig, and each tensor under its GGUF name
// in llama.cpp's conventions (docs/formats.md), transformed where its converter transforms it: value heads
// from grouped to tiled order, norms stored as w - 1 back to w, A_log to -exp(A_log), the conv kernel to
// [channels, kernel]. Transformed tensors are owned here; the rest point into the mapped safetensors.
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "target/formats/safetensors.hpp"
#include "target/model/model_config.hpp"
#include "target/model/model_files.hpp"

namespace ternspec {

bool is_qwen35_config(const nlohmann::json& j);
ModelConfig qwen35_config_from_hf(const nlohmann::json& j, const std::string& cfg_path);
// Every tensor the model uses, or a FormatError naming the file and tensor.
void qwen35_tensors_from_hf(const SafetensorsSet& st, const ModelConfig& c, const std::string& folder,
                            std::map<std::string, TensorRef>& out,
                            std::vector<std::shared_ptr<std::vector<std::uint8_t>>>& owned);

}  // namespace ternspec
