#include "target/formats/gguf.hpp"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>

#include "ternspec/error.hpp"

namespace ternspec {
namespace {

constexpr std::uint32_t kMagic = 0x46554747;  // "GGUF"
constexpr std::uint64_t kMaxTensors = 1u << 20;
constexpr std::uint64_t kMaxKeys = 1u << 20;
constexpr int kMaxArrayDepth = 4;
constexpr std::uint32_t kMaxDims = 4;

// Bounds-checked little-endian reads over the mapped bytes.
class Cursor {
  public:
    Cursor(const std::uint8_t* p, std::uint64_t n, const std::string& file) : p_(p), n_(n), file_(file) {}

    template <typename T>
    T read(const char* what) {
        need(sizeof(T), what);
        T v;
        std::memcpy(&v, p_ + pos_, sizeof(T));
        pos_ += sizeof(T);
        return v;
    }
    std::string read_string(const char* what) {
        const auto len = read<std::uint64_t>(what);
        need(len, what);
        std::string s(reinterpret_cast<const char*>(p_ + pos_), len);
        pos_ += len;
        return s;
    }
    void need(std::uint64_t k, const char* what) const {
        if (k > n_ - pos_)
            throw FormatError(file_ + ": truncated while reading " + what + " at byte " +
                              std::to_string(pos_) + " (needs " + std::to_string(k) + " bytes, file has " +
                              std::to_string(n_) + ")");
    }
    void skip(std::uint64_t k, const char* what) {
        need(k, what);
        pos_ += k;
    }
    const std::uint8_t* base() const { return p_; }
    std::uint64_t pos() const { return pos_; }
    std::uint64_t remaining() const { return n_ - pos_; }
    const std::string& file() const { return file_; }

  private:
    const std::uint8_t* p_;
    std::uint64_t n_;
    std::uint64_t pos_ = 0;
    const std::string& file_;
};

std::uint64_t min_value_bytes(GgufType t) {
    switch (t) {
        case GgufType::U8:
        case GgufType::I8:
        case GgufType::BOOL:
            return 1;
        case GgufType::U16:
        case GgufType::I16:
            return 2;
        case GgufType::U32:
        case GgufType::I32:
        case GgufType::F32:
            return 4;
        case GgufType::U64:
        case GgufType::I64:
        case GgufType::F64:
        case GgufType::STRING:
            return 8;
        case GgufType::ARRAY:
            return 12;
    }
    return 1;
}

struct ArrayHeader {
    GgufType elem;
    std::uint64_t count;
};

ArrayHeader read_array_header(Cursor& c, const std::string& key, int depth) {
    if (depth >= kMaxArrayDepth) throw FormatError(c.file() + ": key " + key + ": arrays nested too deep");
    const auto et = c.read<std::uint32_t>("an array type");
    if (et > static_cast<std::uint32_t>(GgufType::F64))
        throw FormatError(c.file() + ": key " + key + ": unknown array element type " + std::to_string(et));
    const auto elem = static_cast<GgufType>(et);
    const auto count = c.read<std::uint64_t>("an array length");
    if (count > c.remaining() / min_value_bytes(elem))
        throw FormatError(c.file() + ": key " + key + ": array of " + std::to_string(count) +
                          " elements does not fit in the file");
    return {elem, count};
}

void skip_value(Cursor& c, GgufType type, const std::string& key, int depth);

// Fixed-size elements are skipped in one step; strings, bools (checked) and nested arrays one by one.
void skip_elements(Cursor& c, GgufType elem, std::uint64_t count, const std::string& key, int depth) {
    if (elem != GgufType::STRING && elem != GgufType::BOOL && elem != GgufType::ARRAY) {
        c.skip(count * min_value_bytes(elem), "array elements");
        return;
    }
    for (std::uint64_t i = 0; i < count; ++i) skip_value(c, elem, key, depth + 1);
}

// Walks one value without keeping it: the checks read_value makes, no allocation.
void skip_value(Cursor& c, GgufType type, const std::string& key, int depth) {
    switch (type) {
        case GgufType::STRING:
            c.skip(c.read<std::uint64_t>("a string length"), "a string value");
            return;
        case GgufType::BOOL: {
            const auto b = c.read<std::uint8_t>("a bool value");
            if (b > 1) throw FormatError(c.file() + ": key " + key + ": bool value " + std::to_string(b));
            return;
        }
        case GgufType::ARRAY: {
            const auto [elem, count] = read_array_header(c, key, depth);
            skip_elements(c, elem, count, key, depth);
            return;
        }
        default:
            c.skip(min_value_bytes(type), "a value");
    }
}

GgufValue read_value(Cursor& c, GgufType type, const std::string& key, int depth,
                     const std::shared_ptr<const void>& keep) {
    GgufValue v;
    v.type = type;
    switch (type) {
        case GgufType::U8:
            v.value = std::uint64_t{c.read<std::uint8_t>("a u8 value")};
            break;
        case GgufType::I8:
            v.value = std::int64_t{c.read<std::int8_t>("an i8 value")};
            break;
        case GgufType::U16:
            v.value = std::uint64_t{c.read<std::uint16_t>("a u16 value")};
            break;
        case GgufType::I16:
            v.value = std::int64_t{c.read<std::int16_t>("an i16 value")};
            break;
        case GgufType::U32:
            v.value = std::uint64_t{c.read<std::uint32_t>("a u32 value")};
            break;
        case GgufType::I32:
            v.value = std::int64_t{c.read<std::int32_t>("an i32 value")};
            break;
        case GgufType::U64:
            v.value = std::uint64_t{c.read<std::uint64_t>("a u64 value")};
            break;
        case GgufType::I64:
            v.value = std::int64_t{c.read<std::int64_t>("an i64 value")};
            break;
        case GgufType::F32:
            v.value = double{c.read<float>("an f32 value")};
            break;
        case GgufType::F64:
            v.value = c.read<double>("an f64 value");
            break;
        case GgufType::BOOL: {
            const auto b = c.read<std::uint8_t>("a bool value");
            if (b > 1) throw FormatError(c.file() + ": key " + key + ": bool value " + std::to_string(b));
            v.value = b == 1;
            break;
        }
        case GgufType::STRING:
            v.value = c.read_string("a string value");
            break;
        case GgufType::ARRAY: {
            const auto [elem, count] = read_array_header(c, key, depth);
            v.elem_type = elem;
            const auto start = c.pos();
            skip_elements(c, elem, count, key, depth);
            v.value = GgufRawArray{keep, c.base() + start, count, c.pos() - start, c.file()};
            break;
        }
        default:
            throw FormatError(c.file() + ": key " + key + ": unknown value type " +
                              std::to_string(static_cast<std::uint32_t>(type)));
    }
    return v;
}

void write_value(std::ostream& out, const GgufValue& v, bool with_type);

template <typename T>
void put(std::ostream& out, T v) {
    out.write(reinterpret_cast<const char*>(&v), sizeof(T));
}

void put_string(std::ostream& out, const std::string& s) {
    put<std::uint64_t>(out, s.size());
    out.write(s.data(), static_cast<std::streamsize>(s.size()));
}

void write_value(std::ostream& out, const GgufValue& v, bool with_type) {
    if (with_type) put<std::uint32_t>(out, static_cast<std::uint32_t>(v.type));
    const std::string key = "(writer)";
    switch (v.type) {
        case GgufType::U8:
            put<std::uint8_t>(out, static_cast<std::uint8_t>(v.as_int(key)));
            break;
        case GgufType::I8:
            put<std::int8_t>(out, static_cast<std::int8_t>(v.as_int(key)));
            break;
        case GgufType::U16:
            put<std::uint16_t>(out, static_cast<std::uint16_t>(v.as_int(key)));
            break;
        case GgufType::I16:
            put<std::int16_t>(out, static_cast<std::int16_t>(v.as_int(key)));
            break;
        case GgufType::U32:
            put<std::uint32_t>(out, static_cast<std::uint32_t>(v.as_int(key)));
            break;
        case GgufType::I32:
            put<std::int32_t>(out, static_cast<std::int32_t>(v.as_int(key)));
            break;
        case GgufType::U64:
            put<std::uint64_t>(out, std::get<std::uint64_t>(v.value));
            break;
        case GgufType::I64:
            put<std::int64_t>(out, v.as_int(key));
            break;
        case GgufType::F32:
            put<float>(out, static_cast<float>(v.as_float(key)));
            break;
        case GgufType::F64:
            put<double>(out, v.as_float(key));
            break;
        case GgufType::BOOL:
            put<std::uint8_t>(out, v.as_bool(key) ? 1 : 0);
            break;
        case GgufType::STRING:
            put_string(out, v.as_string(key));
            break;
        case GgufType::ARRAY: {
            put<std::uint32_t>(out, static_cast<std::uint32_t>(v.elem_type));
            if (auto* raw = std::get_if<GgufRawArray>(&v.value)) {  // the bytes are already the encoding
                put<std::uint64_t>(out, raw->count);
                out.write(reinterpret_cast<const char*>(raw->data),
                          static_cast<std::streamsize>(raw->n_bytes));
                break;
            }
            const auto& items = std::get<std::vector<GgufValue>>(v.value);
            put<std::uint64_t>(out, items.size());
            for (const auto& it : items) write_value(out, it, false);
            break;
        }
    }
}

}  // namespace

std::int64_t GgufValue::as_int(const std::string& key) const {
    if (auto* u = std::get_if<std::uint64_t>(&value)) {
        if (*u > static_cast<std::uint64_t>(INT64_MAX))
            throw FormatError("metadata " + key + ": value too large");
        return static_cast<std::int64_t>(*u);
    }
    if (auto* i = std::get_if<std::int64_t>(&value)) return *i;
    throw FormatError("metadata " + key + ": expected an integer");
}

double GgufValue::as_float(const std::string& key) const {
    if (auto* d = std::get_if<double>(&value)) return *d;
    if (std::holds_alternative<std::uint64_t>(value) || std::holds_alternative<std::int64_t>(value))
        return static_cast<double>(as_int(key));
    throw FormatError("metadata " + key + ": expected a number");
}

bool GgufValue::as_bool(const std::string& key) const {
    if (auto* b = std::get_if<bool>(&value)) return *b;
    throw FormatError("metadata " + key + ": expected a bool");
}

const std::string& GgufValue::as_string(const std::string& key) const {
    if (auto* s = std::get_if<std::string>(&value)) return *s;
    throw FormatError("metadata " + key + ": expected a string");
}

std::vector<GgufValue> GgufValue::as_array(const std::string& key) const {
    if (auto* a = std::get_if<std::vector<GgufValue>>(&value)) return *a;
    std::vector<GgufValue> items;
    items.reserve(array_size(key));  // the type check: "expected an array" otherwise
    for_each(key, [&](const GgufValue& v) { items.push_back(v); });
    return items;
}

void GgufValue::for_each(const std::string& key, const std::function<void(const GgufValue&)>& fn) const {
    if (auto* a = std::get_if<std::vector<GgufValue>>(&value)) {
        for (const auto& v : *a) fn(v);
        return;
    }
    if (auto* raw = std::get_if<GgufRawArray>(&value)) {
        Cursor c(raw->data, raw->n_bytes, raw->file);
        for (std::uint64_t i = 0; i < raw->count; ++i) fn(read_value(c, elem_type, key, 1, raw->keep));
        return;
    }
    throw FormatError("metadata " + key + ": expected an array");
}

std::uint64_t GgufValue::array_size(const std::string& key) const {
    if (auto* a = std::get_if<std::vector<GgufValue>>(&value)) return a->size();
    if (auto* raw = std::get_if<GgufRawArray>(&value)) return raw->count;
    throw FormatError("metadata " + key + ": expected an array");
}

std::string GgufValue::summary() const {
    std::ostringstream ss;
    if (auto* u = std::get_if<std::uint64_t>(&value))
        ss << *u;
    else if (auto* i = std::get_if<std::int64_t>(&value))
        ss << *i;
    else if (auto* d = std::get_if<double>(&value))
        ss << *d;
    else if (auto* b = std::get_if<bool>(&value))
        ss << (*b ? "true" : "false");
    else if (auto* s = std::get_if<std::string>(&value)) {
        ss << '"' << (s->size() > 60 ? s->substr(0, 57) + "..." : *s) << '"';
    } else {
        ss << "[" << array_size("") << " items]";
    }
    return ss.str();
}

std::uint64_t GgufTensorInfo::n_elems() const {
    std::uint64_t n = 1;
    for (auto d : shape) n *= d;
    return n;
}

namespace {

constexpr std::uint32_t kGgmlQ2_0 = 42;  // GGUF's id for Q2_0, which has two layouts (see tensor_type.hpp)

std::uint64_t read_alignment(const std::map<std::string, GgufValue>& kv, const std::string& path) {
    auto it = kv.find("general.alignment");
    if (it == kv.end()) return 32;
    std::int64_t al = 0;
    try {
        al = it->second.as_int("general.alignment");
    } catch (const FormatError& e) {
        throw FormatError(path + ": " + e.what());  // the value's own message does not know the file
    }
    if (al <= 0 || al > (1 << 20) || (al & (al - 1)) != 0)
        throw FormatError(path + ": general.alignment " + std::to_string(al) + " is not a power of two");
    return static_cast<std::uint64_t>(al);
}

// One tensor info as the file states it; its type is resolved once every info is read.
GgufTensorInfo read_tensor_info(Cursor& c, const std::string& path, std::uint32_t& type_id) {
    GgufTensorInfo t;
    t.name = c.read_string("a tensor name");
    const auto n_dims = c.read<std::uint32_t>("tensor dimensions");
    if (n_dims == 0 || n_dims > kMaxDims)
        throw FormatError(path + ": tensor " + t.name + " has " + std::to_string(n_dims) + " dimensions");
    std::vector<std::uint64_t> ne(n_dims);
    std::uint64_t n = 1;
    for (auto& d : ne) {
        d = c.read<std::uint64_t>("a tensor dimension");
        if (d == 0 || d > (1ull << 40) || n > UINT64_MAX / d)
            throw FormatError(path + ": tensor " + t.name + " has an invalid or overflowing dimension");
        n *= d;
    }
    t.shape.assign(ne.rbegin(), ne.rend());
    type_id = c.read<std::uint32_t>("a tensor type");
    t.offset = c.read<std::uint64_t>("a tensor offset");
    return t;
}

// Sorted offsets give each tensor an upper bound on its size: the gap to the next tensor or the end.
class TensorRoom {
  public:
    TensorRoom(const std::vector<GgufTensorInfo>& tensors, std::uint64_t data_size, std::uint64_t alignment)
        : data_size_(data_size), alignment_(alignment) {
        for (const auto& t : tensors) offsets_.push_back(t.offset);
        std::sort(offsets_.begin(), offsets_.end());
    }
    std::uint64_t of(const GgufTensorInfo& t) const {
        auto next = std::upper_bound(offsets_.begin(), offsets_.end(), t.offset);
        return (next == offsets_.end() ? data_size_ : *next) - std::min(t.offset, data_size_);
    }
    // Whether `cand`'s size for t fills its room up to the alignment padding.
    bool fits(TensorType cand, const GgufTensorInfo& t) const {
        const auto& info = type_info(cand);
        const std::uint64_t n = t.n_elems(), room = of(t);
        if (n % info.block_elems) return false;
        const std::uint64_t need = n / info.block_elems * info.block_bytes;
        return need <= room && room - need < alignment_;
    }

  private:
    std::vector<std::uint64_t> offsets_;
    std::uint64_t data_size_, alignment_;
};

// GGUF id 42 has two layouts (group 64, 18-byte blocks; legacy group 128, 34-byte blocks): a file uses one,
// decided by any tensor whose room admits only one of them. Tensors too small to tell (the sizes differ by
// n/64 bytes, under the alignment padding) follow that decision, or mainline's group 64 if nothing decides.
TensorType q2_layout(const std::vector<GgufTensorInfo>& tensors, const std::vector<std::uint32_t>& type_ids,
                     const TensorRoom& room, const std::string& path) {
    std::optional<TensorType> layout;
    for (std::size_t i = 0; i < tensors.size(); ++i) {
        if (type_ids[i] != kGgmlQ2_0) continue;
        const bool g64 = room.fits(TensorType::Q2_0, tensors[i]);
        const bool g128 = room.fits(TensorType::Q2_0_G128, tensors[i]);
        if (g64 == g128) continue;
        const TensorType found = g64 ? TensorType::Q2_0 : TensorType::Q2_0_G128;
        if (layout && *layout != found)
            throw FormatError(path + ": tensors of type 42 use both Q2_0 layouts (group 64 and group 128)");
        layout = found;
    }
    return layout.value_or(TensorType::Q2_0);
}

// Two tensors sharing bytes would alias each other's weights: refused, naming both.
void check_no_overlap(const std::vector<GgufTensorInfo>& tensors, const std::string& path) {
    std::vector<const GgufTensorInfo*> by_offset;
    for (const auto& t : tensors) by_offset.push_back(&t);
    std::sort(by_offset.begin(), by_offset.end(), [](auto* a, auto* b) { return a->offset < b->offset; });
    for (std::size_t i = 1; i < by_offset.size(); ++i)
        if (by_offset[i - 1]->offset + by_offset[i - 1]->n_bytes > by_offset[i]->offset)
            throw FormatError(path + ": tensors " + by_offset[i - 1]->name + " and " + by_offset[i]->name +
                              " overlap");
}

std::map<std::string, GgufValue> read_metadata(Cursor& c, std::uint64_t n_kv,
                                               const std::shared_ptr<MappedFile>& file) {
    std::map<std::string, GgufValue> kv;
    for (std::uint64_t i = 0; i < n_kv; ++i) {
        std::string key = c.read_string("a metadata key");
        const auto t = c.read<std::uint32_t>("a metadata type");
        if (t > static_cast<std::uint32_t>(GgufType::F64))
            throw FormatError(c.file() + ": key " + key + ": unknown value type " + std::to_string(t));
        auto v = read_value(c, static_cast<GgufType>(t), key, 0, file);
        if (!kv.emplace(key, std::move(v)).second)
            throw FormatError(c.file() + ": duplicate metadata key " + key);
    }
    return kv;
}

// The infos in file order, and each one's GGUF type id.
std::vector<std::uint32_t> read_tensor_infos(Cursor& c, std::uint64_t n_tensors,
                                             std::vector<GgufTensorInfo>& tensors) {
    // Every tensor info takes at least 32 bytes of the file: a count the rest of the file cannot hold is
    // refused before anything is reserved for it.
    if (n_tensors > c.remaining() / 32)
        throw FormatError(c.file() + ": " + std::to_string(n_tensors) + " tensors do not fit in the file");
    tensors.reserve(n_tensors);
    std::vector<std::uint32_t> type_ids(n_tensors);
    for (auto& id : type_ids) tensors.push_back(read_tensor_info(c, c.file(), id));
    return type_ids;
}

}  // namespace

GgufFile::GgufFile(const std::string& path) : file_(std::make_shared<MappedFile>(path)) {
    const auto bytes = file_->bytes();
    Cursor c(bytes.data(), bytes.size(), file_->path());
    if (bytes.size() < 4 || c.read<std::uint32_t>("the magic") != kMagic)
        throw FormatError(path + ": not a GGUF file (wrong magic)");
    version_ = c.read<std::uint32_t>("the version");
    if (version_ != 2 && version_ != 3)
        throw FormatError(path + ": unsupported GGUF version " + std::to_string(version_));
    const auto n_tensors = c.read<std::uint64_t>("the tensor count");
    const auto n_kv = c.read<std::uint64_t>("the metadata count");
    if (n_tensors > kMaxTensors)
        throw FormatError(path + ": absurd tensor count " + std::to_string(n_tensors));
    if (n_kv > kMaxKeys) throw FormatError(path + ": absurd metadata count " + std::to_string(n_kv));
    kv_ = read_metadata(c, n_kv, file_);
    alignment_ = read_alignment(kv_, path);
    const auto type_ids = read_tensor_infos(c, n_tensors, tensors_);

    std::uint64_t data_start = (c.pos() + alignment_ - 1) / alignment_ * alignment_;
    if (data_start > bytes.size()) {
        if (n_tensors > 0) throw FormatError(path + ": truncated before the tensor data");
        data_start = bytes.size();
    }
    data_ = bytes.data() + data_start;
    resolve_tensor_types(type_ids, bytes.size() - data_start);
    check_no_overlap(tensors_, path);
}

// The byte size is needed to tell the two Q2_0 layouts apart, and it is known only once every tensor's
// offset is: types are resolved after all infos are read.
void GgufFile::resolve_tensor_types(const std::vector<std::uint32_t>& type_ids, std::uint64_t data_size) {
    const TensorRoom room(tensors_, data_size, alignment_);
    const TensorType q2 = q2_layout(tensors_, type_ids, room, path());
    for (std::size_t i = 0; i < tensors_.size(); ++i) {
        auto& t = tensors_[i];
        if (t.offset % alignment_ != 0)
            throw FormatError(path() + ": tensor " + t.name + " offset " + std::to_string(t.offset) +
                              " is not aligned to " + std::to_string(alignment_));
        const std::uint64_t n = t.n_elems();
        const auto type = type_ids[i] == kGgmlQ2_0 ? std::optional<TensorType>(q2)
                                                   : type_from_ggml(type_ids[i], n, room.of(t));
        if (!type)
            throw FormatError(path() + ": tensor " + t.name + " has unknown or unsupported type id " +
                              std::to_string(type_ids[i]));
        t.type = *type;
        t.n_bytes = tensor_bytes(t.type, n, path() + ": tensor " + t.name);
        if (t.offset > data_size || t.n_bytes > data_size - t.offset)
            throw FormatError(path() + ": tensor " + t.name + " data (offset " + std::to_string(t.offset) +
                              ", " + std::to_string(t.n_bytes) + " bytes) runs past the end of the file");
        if (!tensor_index_.emplace(t.name, i).second)
            throw FormatError(path() + ": duplicate tensor " + t.name);
    }
}

const GgufValue* GgufFile::find(const std::string& key) const {
    auto it = kv_.find(key);
    return it == kv_.end() ? nullptr : &it->second;
}

const GgufValue& GgufFile::get(const std::string& key) const {
    if (auto* v = find(key)) return *v;
    throw FormatError(path() + ": missing metadata key " + key);
}

const GgufTensorInfo* GgufFile::find_tensor(const std::string& name) const {
    auto it = tensor_index_.find(name);
    return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

void GgufWriter::add_tensor(const std::string& name, TensorType type, std::vector<std::uint64_t> shape,
                            std::vector<std::uint8_t> data) {
    std::uint64_t n = 1;
    for (auto d : shape) n *= d;
    if (tensor_bytes(type, n, name) != data.size())
        throw Error("GgufWriter: tensor " + name + " has " + std::to_string(data.size()) +
                    " bytes, expected " + std::to_string(tensor_bytes(type, n, name)));
    tensors_.push_back({name, type, std::move(shape), std::move(data)});
}

void GgufWriter::write(const std::string& path) const {
    std::uint64_t alignment = 32;
    if (auto it = kv_.find("general.alignment"); it != kv_.end())
        alignment = it->second.as_int("general.alignment");
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    if (!out) throw Error(path + ": cannot create");
    put<std::uint32_t>(out, kMagic);
    put<std::uint32_t>(out, 3);
    put<std::uint64_t>(out, tensors_.size());
    put<std::uint64_t>(out, kv_.size());
    for (const auto& [k, v] : kv_) {
        put_string(out, k);
        write_value(out, v, true);
    }
    std::uint64_t offset = 0;
    for (const auto& t : tensors_) {
        put_string(out, t.name);
        put<std::uint32_t>(out, static_cast<std::uint32_t>(t.shape.size()));
        for (auto it = t.shape.rbegin(); it != t.shape.rend(); ++it) put<std::uint64_t>(out, *it);
        put<std::uint32_t>(out, type_info(t.type).ggml_id);
        put<std::uint64_t>(out, offset);
        offset += (t.data.size() + alignment - 1) / alignment * alignment;
    }
    auto pad = [&] {
        const auto pos = static_cast<std::uint64_t>(out.tellp());
        for (std::uint64_t i = pos; i % alignment != 0; ++i) out.put(0);
    };
    pad();
    for (const auto& t : tensors_) {
        out.write(reinterpret_cast<const char*>(t.data.data()), static_cast<std::streamsize>(t.data.size()));
        pad();
    }
    if (!out) throw Error(path + ": write failed");
}

}  // namespace ternspec
