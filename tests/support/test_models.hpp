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
std::string tiny_gguf(const std::string& name, TensorType type = TensorType::Q2_0_G128, std::uint64_t seed = 1);

// The same weights as an HF folder (config.json, model.safetensors F16, tokenizer.json).
std::string hf_folder_from_gguf(const std::string& gguf, const std::string& name);

// models/<name> if the repository ships a trained model, else "".
std::string shipped_model();

}  // namespace ternspec::fixtures
