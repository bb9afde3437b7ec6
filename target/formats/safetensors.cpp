#include "target/formats/safetensors.hpp"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "target/io/file_errors.hpp"
#include "ternspec/error.hpp"

namespace ternspec {
namespace {

constexpr std::uint64_t kMaxHeader = 100u << 20;

// safetensors' dtypes are the element types' names, spelt as in the type table; BOOL reads as I8.
TensorType dtype_of(const std::string& s, const std::string& what) {
    if (s == "BOOL") return TensorType::I8;
    if (const auto t = type_from_name(s); t && type_info(*t).block_elems == 1 && type_info(*t).name == s)
        return *t;
    throw FormatError(what + ": unsupported dtype " + s +
                      " (ternspec reads F32, F16, BF16, I64, I32, I8 and BOOL)");
}

const char* dtype_name(TensorType t) {
    if (type_info(t).block_elems != 1)
        throw Error("safetensors holds plain element types, not block-quantised ones");
    return type_info(t).name.data();  // the table's names are string literals
}

// One tensor entry as the header states it, before it is checked against the file.
struct HeaderEntry {
    std::string name, dtype;
    std::vector<std::uint64_t> shape, offsets;
    bool has_dtype = false, has_shape = false, has_offsets = false;
};

// Reads the header with nlohmann's SAX interface, handing each tensor entry to `on_entry` as it closes
// (which checks it and files it in the table), and stopping at the first value that is not where the
// format allows it: {name: {"dtype": str, "shape": [int...], "data_offsets": [int, int]}, "__metadata__":
// {str: str}}. No DOM and no list of entries is built, so memory follows the table alone (a 99 MB header
// of `[]` entries cost 2.8 GB as a DOM).
class HeaderReader : public nlohmann::json_sax<nlohmann::json> {
  public:
    explicit HeaderReader(std::function<std::string(HeaderEntry&)> on_entry)
        : on_entry_(std::move(on_entry)) {}
    std::string error;
    std::map<std::string, std::string> metadata;

    bool null() override { return fail("null"); }
    bool boolean(bool) override { return fail("a bool"); }
    bool number_integer(number_integer_t v) override {
        if (!in_array_) return fail("a number");
        if (v < 0) return fail_number("a negative number " + std::to_string(v));
        return number(static_cast<std::uint64_t>(v));
    }
    bool number_unsigned(number_unsigned_t v) override { return number(v); }
    bool number_float(number_float_t, const string_t& text) override {
        // Outside an array there is no entry yet to name (a header that is one number): found by
        // fuzz_safetensors.
        if (!in_array_) return fail("a number");
        return fail_number("a fraction " + text + ", not an integer");
    }
    bool string(string_t& v) override {
        if (depth_ == 2 && in_metadata_) {
            metadata[key_] = v;
            return true;
        }
        if (depth_ == 2 && key_ == "dtype" && !in_array_) {
            entry_.dtype = v;
            entry_.has_dtype = true;
            return true;
        }
        return fail("a string");
    }
    bool binary(binary_t&) override { return fail("binary data"); }
    bool start_object(std::size_t) override {
        if (depth_ > 1 || in_array_) return fail("an object");
        if (depth_ == 1) {
            in_metadata_ = key_ == "__metadata__";
            if (!in_metadata_) {
                entry_.name = key_;
                entry_.dtype.clear();
                entry_.shape.clear();
                entry_.offsets.clear();
                entry_.has_dtype = entry_.has_shape = entry_.has_offsets = false;
            }
        }
        ++depth_;
        return true;
    }
    bool key(string_t& k) override {
        key_ = k;
        if (depth_ == 2 && !in_metadata_ && k != "dtype" && k != "shape" && k != "data_offsets")
            return fail("field \"" + k + "\"");
        return true;
    }
    bool end_object() override {
        if (--depth_ == 1 && !in_metadata_) {
            error = on_entry_(entry_);
            if (!error.empty()) return false;
        }
        return true;
    }
    bool start_array(std::size_t) override {
        if (in_array_ || depth_ != 2 || in_metadata_ || (key_ != "shape" && key_ != "data_offsets"))
            return fail("an array");
        in_array_ = true;
        (key_ == "shape" ? entry_.has_shape : entry_.has_offsets) = true;
        return true;
    }
    bool end_array() override {
        in_array_ = false;
        return true;
    }
    bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
        error = std::string("invalid JSON header: ") + json_error_words(e);
        return false;
    }

  private:
    bool number(std::uint64_t v) {
        if (!in_array_) return fail("a number");
        if (v > static_cast<std::uint64_t>(INT64_MAX))
            return fail_number(std::to_string(v) + ", out of range");
        (key_ == "shape" ? entry_.shape : entry_.offsets).push_back(v);
        return true;
    }
    bool fail_number(const std::string& what) {
        error = "tensor " + entry_.name + ": " + key_ + " is " + what;
        return false;
    }
    bool fail(const std::string& what) {
        if (depth_ == 0) {
            error = "header is not a JSON object";
            return false;
        }
        error = "header has " + what + " where the format has none" +
                (!key_.empty() ? " (at \"" + key_ + "\")" : "");
        return false;
    }
    int depth_ = 0;
    bool in_metadata_ = false, in_array_ = false;
    std::string key_;
    HeaderEntry entry_;  // the one being read; its buffers are reused
    std::function<std::string(HeaderEntry&)> on_entry_;
};

}  // namespace

SafetensorsFile::SafetensorsFile(const std::string& path)
    : path_(path), file_(std::make_shared<MappedFile>(path)) {
    const auto bytes = file_->bytes();
    if (bytes.size() < 8) throw FormatError(path + ": too short for a safetensors header");
    std::uint64_t hlen;
    std::memcpy(&hlen, bytes.data(), 8);
    if (hlen > kMaxHeader || hlen > bytes.size() - 8)
        throw FormatError(path + ": header length " + std::to_string(hlen) +
                          " runs past the end of the file");
    const std::uint8_t* data = bytes.data() + 8 + hlen;
    const std::uint64_t data_size = bytes.size() - 8 - hlen;
    // Each entry is checked and filed as soon as it closes; the message names the tensor.
    auto file_entry = [&](HeaderEntry& entry) -> std::string {
        const std::string what = "tensor " + entry.name;
        if (!entry.has_dtype || !entry.has_shape || !entry.has_offsets)
            return what + ": malformed entry: it needs dtype, shape and data_offsets";
        SafetensorsTensor t;
        t.path = &path_;
        try {
            t.type = dtype_of(entry.dtype, what);
        } catch (const FormatError& err) {
            return err.what();
        }
        std::uint64_t n = 1;
        for (const auto v : entry.shape) {
            if (v != 0 && n > UINT64_MAX / v) return what + ": shape overflows";
            n *= v;
        }
        if (entry.offsets.size() != 2) return what + ": data_offsets must be [begin, end]";
        const auto b = entry.offsets[0], e = entry.offsets[1];
        if (b > e || e > data_size) return what + ": data_offsets run past the end of the file";
        t.n_bytes = e - b;
        try {
            if (t.n_bytes != tensor_bytes(t.type, n, what))
                return what + ": " + std::to_string(t.n_bytes) + " bytes do not match its shape and dtype";
        } catch (const Error& err) {
            return err.what();
        }
        t.data = data + b;
        t.dims = &dims_;
        t.dims_at = dims_.size();
        t.rank = static_cast<std::uint32_t>(entry.shape.size());
        dims_.insert(dims_.end(), entry.shape.begin(), entry.shape.end());
        if (!tensors_.emplace(entry.name, std::move(t)).second) return what + ": appears twice";
        return {};
    };
    HeaderReader header(file_entry);
    nlohmann::json::sax_parse(bytes.begin() + 8, bytes.begin() + 8 + static_cast<std::ptrdiff_t>(hlen),
                              &header);
    if (!header.error.empty()) throw FormatError(path + ": " + header.error);
    metadata_ = std::move(header.metadata);
    // Two tensors sharing bytes would alias each other's weights: refused, naming both.
    dims_.shrink_to_fit();
    std::vector<const std::pair<const std::string, SafetensorsTensor>*> by_offset;
    by_offset.reserve(tensors_.size());
    for (const auto& entry : tensors_) by_offset.push_back(&entry);
    std::sort(by_offset.begin(), by_offset.end(),
              [](const auto* a, const auto* b) { return a->second.data < b->second.data; });
    for (std::size_t i = 1; i < by_offset.size(); ++i)
        if (by_offset[i - 1]->second.data + by_offset[i - 1]->second.n_bytes > by_offset[i]->second.data)
            throw FormatError(path + ": tensors " + by_offset[i - 1]->first + " and " + by_offset[i]->first +
                              " overlap");
}

SafetensorsSet::SafetensorsSet(const std::string& folder) {
    namespace fs = std::filesystem;
    const fs::path dir(folder);
    std::vector<std::string> shards;
    const auto index = dir / "model.safetensors.index.json";
    if (fs::exists(index)) {
        nlohmann::json j;
        try {
            j = nlohmann::json::parse(read_text_file(index.string()));
            std::set<std::string> names;
            for (auto& [k, v] : j.at("weight_map").items()) names.insert(v.get<std::string>());
            for (const auto& n : names) {
                if (n.find('/') != std::string::npos || n.find("..") != std::string::npos)
                    throw FormatError(index.string() + ": shard name " + n + " leaves the folder");
                shards.push_back((dir / n).string());
            }
        } catch (const nlohmann::json::exception& e) {
            throw FormatError(index.string() + ": " + json_error_words(e));
        }
    } else if (fs::exists(dir / "model.safetensors")) {
        shards.push_back((dir / "model.safetensors").string());
    } else {
        throw FormatError(folder + ": no model.safetensors or model.safetensors.index.json");
    }
    for (const auto& s : shards) {
        files_.push_back(std::make_unique<SafetensorsFile>(s));
        for (const auto& [name, t] : files_.back()->tensors())
            if (!all_.emplace(name, t).second)
                throw FormatError(s + ": tensor " + name + " appears in two shards");
    }
}

const SafetensorsTensor* SafetensorsSet::find(const std::string& name) const {
    auto it = all_.find(name);
    return it == all_.end() ? nullptr : &it->second;
}

void write_safetensors(const std::string& path, const std::vector<SafetensorsWriterTensor>& tensors,
                       const std::map<std::string, std::string>& metadata) {
    nlohmann::json header = nlohmann::json::object();
    std::uint64_t off = 0;
    for (const auto& t : tensors) {
        header[t.name] = {
            {"dtype", dtype_name(t.type)}, {"shape", t.shape}, {"data_offsets", {off, off + t.data.size()}}};
        off += t.data.size();
    }
    if (!metadata.empty()) header["__metadata__"] = metadata;
    std::string h = header.dump();
    h.append((8 - h.size() % 8) % 8, ' ');
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    if (!out) throw Error(path + ": cannot create");
    const std::uint64_t n = h.size();
    out.write(reinterpret_cast<const char*>(&n), 8);
    out.write(h.data(), static_cast<std::streamsize>(h.size()));
    for (const auto& t : tensors)
        out.write(reinterpret_cast<const char*>(t.data.data()), static_cast<std::streamsize>(t.data.size()));
    if (!out) throw Error(path + ": write failed");
}

}  // namespace ternspec
