#pragma once
// Read-only memory map of a whole file: model files are large and only partly touched at load.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace ternspec {

class MappedFile {
  public:
    explicit MappedFile(const std::string& path);
    ~MappedFile();
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;

    std::span<const std::uint8_t> bytes() const { return {data_, size_}; }
    const std::string& path() const { return path_; }

  private:
    std::string path_;
    const std::uint8_t* data_ = nullptr;
    std::size_t size_ = 0;
};

std::string read_text_file(const std::string& path);

}  // namespace ternspec
