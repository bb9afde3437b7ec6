#pragma once
// GGUF (v2/v3) reading over a memory map, and writing. The reader treats the file as untrusted: every
// count, length, offset and dimension is checked against the file before it is used.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "target/formats/tensor_type.hpp"
#include "target/io/mapped_file.hpp"

namespace ternspec {

// GGUF's value types, numbered 0 to 12 in this order.
enum class GgufType : std::uint32_t { U8, I8, U16, I16, U32, I32, F32, BOOL, STRING, ARRAY, U64, I64, F64 };

// An array as it sits in a file: checked when the file is read, turned into values only when asked for.
// Reading a file then costs memory for its keys, not for its array elements (a 32 MiB u8 array under a
// key nobody reads cost 1.6 GB when every element became a value).
struct GgufRawArray {
    std::shared_ptr<const void> keep;  // the mapping `data` points into
    const std::uint8_t* data = nullptr;
    std::uint64_t count = 0, n_bytes = 0;
    std::string file;
};

struct GgufValue {
    GgufType type = GgufType::U32;
    GgufType elem_type = GgufType::U32;  // arrays only
    std::variant<std::uint64_t, std::int64_t, double, bool, std::string, std::vector<GgufValue>, GgufRawArray>
        value;

    static GgufValue u32(std::uint32_t v) { return {GgufType::U32, GgufType::U32, std::uint64_t{v}}; }
    static GgufValue i32(std::int32_t v) { return {GgufType::I32, GgufType::U32, std::int64_t{v}}; }
    static GgufValue f32(float v) { return {GgufType::F32, GgufType::U32, double{v}}; }
    static GgufValue str(std::string v) { return {GgufType::STRING, GgufType::U32, std::move(v)}; }
    static GgufValue boolean(bool v) { return {GgufType::BOOL, GgufType::U32, v}; }
    static GgufValue array(GgufType elem, std::vector<GgufValue> items) {
        return {GgufType::ARRAY, elem, std::move(items)};
    }

    // Checked conversions; `key` names the entry in the error message.
    std::int64_t as_int(const std::string& key) const;
    double as_float(const std::string& key) const;
    bool as_bool(const std::string& key) const;
    const std::string& as_string(const std::string& key) const;
    std::vector<GgufValue> as_array(const std::string& key) const;  // elements made on each call
    std::uint64_t array_size(const std::string& key) const;
    // Each element in turn, made one at a time: a large array never exists as values all at once.
    void for_each(const std::string& key, const std::function<void(const GgufValue&)>& fn) const;
    std::string summary() const;  // short printable form for `inspect`
};

struct GgufTensorInfo {
    std::string name;
    TensorType type;
    std::vector<std::uint64_t> shape;  // outermost first (numpy order); GGUF stores it reversed
    std::uint64_t offset = 0;          // from the start of the data section
    std::uint64_t n_bytes = 0;
    std::uint64_t n_elems() const;
};

class GgufFile {
  public:
    explicit GgufFile(const std::string& path);

    const std::string& path() const { return file_->path(); }
    std::uint32_t version() const { return version_; }
    std::uint64_t alignment() const { return alignment_; }
    const std::map<std::string, GgufValue>& metadata() const { return kv_; }
    const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }

    const GgufValue* find(const std::string& key) const;
    const GgufValue& get(const std::string& key) const;  // throws FormatError naming the key and file
    const GgufTensorInfo* find_tensor(const std::string& name) const;
    const std::uint8_t* tensor_data(const GgufTensorInfo& t) const { return data_ + t.offset; }

  private:
    void resolve_tensor_types(const std::vector<std::uint32_t>& type_ids, std::uint64_t data_size);

    std::shared_ptr<MappedFile> file_;
    std::uint32_t version_ = 0;
    std::uint64_t alignment_ = 32;
    std::map<std::string, GgufValue> kv_;
    std::vector<GgufTensorInfo> tensors_;
    std::map<std::string, std::size_t> tensor_index_;
    const std::uint8_t* data_ = nullptr;
};

class GgufWriter {
  public:
    void set(const std::string& key, GgufValue v) { kv_[key] = std::move(v); }
    void remove(const std::string& key) { kv_.erase(key); }
    // data must hold tensor_bytes(type, product(shape)) bytes.
    void add_tensor(const std::string& name, TensorType type, std::vector<std::uint64_t> shape,
                    std::vector<std::uint8_t> data);
    void write(const std::string& path) const;

  private:
    struct Pending {
        std::string name;
        TensorType type;
        std::vector<std::uint64_t> shape;
        std::vector<std::uint8_t> data;
    };
    std::map<std::string, GgufValue> kv_;
    std::vector<Pending> tensors_;
};

}  // namespace ternspec
