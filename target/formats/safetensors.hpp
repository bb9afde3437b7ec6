#pragma once
// Safetensors reading over a memory map (single file or sharded through model.safetensors.index.json),
// and writing, so tests can build Hugging Face fixtures themselves.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "target/formats/tensor_type.hpp"
#include "target/io/mapped_file.hpp"

namespace ternspec {

// One tensor of the table. Lean on purpose: a header may list hundreds of thousands of tensors, and the
// table is what it costs in memory. The name is the table's key; the dimensions live in one array per file
// and the file's path once, both owned by the SafetensorsFile (which therefore does not move).
struct SafetensorsTensor {
    TensorType type;
    std::uint32_t rank = 0;
    std::size_t dims_at = 0;  // index of the first dimension in *dims
    const std::vector<std::uint64_t>* dims = nullptr;
    const std::uint8_t* data = nullptr;
    std::uint64_t n_bytes = 0;
    const std::string* path = nullptr;

    std::vector<std::uint64_t> shape() const {
        return {dims->begin() + static_cast<std::ptrdiff_t>(dims_at),
                dims->begin() + static_cast<std::ptrdiff_t>(dims_at + rank)};
    }
    const std::string& file() const { return *path; }
};

class SafetensorsFile {
  public:
    explicit SafetensorsFile(const std::string& path);
    SafetensorsFile(const SafetensorsFile&) = delete;  // the table points into it
    SafetensorsFile& operator=(const SafetensorsFile&) = delete;
    const std::map<std::string, SafetensorsTensor>& tensors() const { return tensors_; }
    const std::map<std::string, std::string>& metadata() const { return metadata_; }

  private:
    std::string path_;
    std::vector<std::uint64_t> dims_;
    std::shared_ptr<MappedFile> file_;
    std::map<std::string, SafetensorsTensor> tensors_;
    std::map<std::string, std::string> metadata_;
};

// All tensors of a folder: model.safetensors, or the shards named by model.safetensors.index.json.
class SafetensorsSet {
  public:
    explicit SafetensorsSet(const std::string& folder);
    const SafetensorsTensor* find(const std::string& name) const;
    const std::map<std::string, SafetensorsTensor>& tensors() const { return all_; }

  private:
    std::vector<std::unique_ptr<SafetensorsFile>> files_;
    std::map<std::string, SafetensorsTensor> all_;
};

struct SafetensorsWriterTensor {
    std::string name;
    TensorType type;  // F32, F16 or BF16
    std::vector<std::uint64_t> shape;
    std::vector<std::uint8_t> data;
};

void write_safetensors(const std::string& path, const std::vector<SafetensorsWriterTensor>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace ternspec
