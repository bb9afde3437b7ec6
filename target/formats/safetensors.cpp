#include "target/formats/safetensors.hpp"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "target/io/file_errors.hpp"
#include "target/io/json_fields.hpp"
#include "ternspec/error.hpp"

namespace ternspec {
namespace {

constexpr std::uint64_t kMaxHeader = 100u << 20;

TensorType dtype_of(const std::string& s, const std::string& what) {
    if (s == "F32") return TensorType::F32;
    if (s == "F16") return TensorType::F16;
    if (s == "BF16") return TensorType::BF16;
    if (s == "I64") return TensorType::I64;
    if (s == "I32") return TensorType::I32;
    if (s == "I8" || s == "BOOL") return TensorType::I8;
    throw FormatError(what + ": unsupported dtype " + s +
                      " (ternspec reads F32, F16, BF16, I64, I32, I8 and BOOL)");
}

const char* dtype_name(TensorType t) {
    switch (t) {
        case TensorType::F32:
            return "F32";
        case TensorType::F16:
            return "F16";
        case TensorType::BF16:
            return "BF16";
        case TensorType::I64:
            return "I64";
        case TensorType::I32:
            return "I32";
        case TensorType::I8:
            return "I8";
        default:
            throw Error("safetensors holds plain element types, not block-quantised ones");
    }
}

// Walks the header with nlohmann's SAX interface, keeping nothing, and stops at the first value that is
// not where the format allows it: {name: {"dtype": str, "shape": [int...], "data_offsets": [int, int]},
// "__metadata__": {str: str}}. A header of 99 MB of `[]` entries cost 2.8 GB as a DOM; refused here first.
class HeaderShape : public nlohmann::json_sax<nlohmann::json> {
  public:
    std::string error;

    bool null() override { return scalar("null"); }
    bool boolean(bool) override { return scalar("a bool"); }
    bool number_integer(number_integer_t) override { return number(); }
    bool number_unsigned(number_unsigned_t) override { return number(); }
    bool number_float(number_float_t, const string_t&) override { return number(); }
    bool string(string_t&) override {
        if (depth_ == 2 && (in_metadata_ || key_ == "dtype")) return true;
        return fail("a string");
    }
    bool binary(binary_t&) override { return fail("binary data"); }
    bool start_object(std::size_t) override {
        if (depth_ > 1) return fail("an object");
        if (depth_ == 1) in_metadata_ = key_ == "__metadata__";
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
        --depth_;
        return true;
    }
    bool start_array(std::size_t) override {
        if (in_array_ || depth_ != 2 || in_metadata_ || (key_ != "shape" && key_ != "data_offsets"))
            return fail("an array");
        in_array_ = true;
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
    bool number() { return in_array_ ? true : fail("a number"); }
    bool scalar(const char* what) { return fail(what); }
    bool fail(const std::string& what) {
        if (depth_ == 0) {
            error = "header is not a JSON object";
            return false;
        }
        error = "header has " + what + " where the format has none" +
                (depth_ >= 1 && !key_.empty() ? " (at \"" + key_ + "\")" : "");
        return false;
    }
    int depth_ = 0;
    bool in_metadata_ = false, in_array_ = false;
    std::string key_;
};

}  // namespace

SafetensorsFile::SafetensorsFile(const std::string& path) : file_(std::make_shared<MappedFile>(path)) {
    const auto bytes = file_->bytes();
    if (bytes.size() < 8) throw FormatError(path + ": too short for a safetensors header");
    std::uint64_t hlen;
    std::memcpy(&hlen, bytes.data(), 8);
    if (hlen > kMaxHeader || hlen > bytes.size() - 8)
        throw FormatError(path + ": header length " + std::to_string(hlen) +
                          " runs past the end of the file");
    {
        HeaderShape shape;
        nlohmann::json::sax_parse(bytes.begin() + 8, bytes.begin() + 8 + static_cast<std::ptrdiff_t>(hlen),
                                  &shape);
        if (!shape.error.empty()) throw FormatError(path + ": " + shape.error);
    }
    nlohmann::json header;
    try {
        header =
            nlohmann::json::parse(bytes.begin() + 8, bytes.begin() + 8 + static_cast<std::ptrdiff_t>(hlen));
    } catch (const nlohmann::json::exception& e) {
        throw FormatError(path + ": invalid JSON header: " + json_error_words(e));
    }
    if (!header.is_object()) throw FormatError(path + ": header is not a JSON object");
    const std::uint8_t* data = bytes.data() + 8 + hlen;
    const std::uint64_t data_size = bytes.size() - 8 - hlen;
    for (auto& [name, entry] : header.items()) {
        const std::string what = path + ": tensor " + name;
        if (name == "__metadata__") {
            if (!entry.is_object()) throw FormatError(path + ": __metadata__ is not an object");
            for (auto& [k, v] : entry.items())
                if (v.is_string()) metadata_[k] = v.get<std::string>();
            continue;
        }
        try {
            SafetensorsTensor t;
            t.name = name;
            t.file = path;
            t.type = dtype_of(entry.at("dtype").get<std::string>(), what);
            std::uint64_t n = 1;
            if (!entry.at("shape").is_array()) throw FormatError(what + ": shape is not an array");
            for (const auto& d : entry.at("shape")) {
                const auto v = static_cast<std::uint64_t>(json_integer(d, 0, INT64_MAX, what + ": shape"));
                if (v != 0 && n > UINT64_MAX / v) throw FormatError(what + ": shape overflows");
                n *= v;
                t.shape.push_back(v);
            }
            const auto& off = entry.at("data_offsets");
            if (!off.is_array() || off.size() != 2)
                throw FormatError(what + ": data_offsets must be [begin, end]");
            const auto b = static_cast<std::uint64_t>(
                           json_integer(off[0], 0, INT64_MAX, what + ": data_offsets")),
                       e = static_cast<std::uint64_t>(
                           json_integer(off[1], 0, INT64_MAX, what + ": data_offsets"));
            if (b > e || e > data_size)
                throw FormatError(what + ": data_offsets run past the end of the file");
            t.n_bytes = e - b;
            if (t.n_bytes != tensor_bytes(t.type, n, what))
                throw FormatError(what + ": " + std::to_string(t.n_bytes) +
                                  " bytes do not match its shape and dtype");
            t.data = data + b;
            tensors_.emplace(name, std::move(t));
        } catch (const nlohmann::json::exception& e) {
            throw FormatError(what + ": malformed entry: " + json_error_words(e));
        }
    }
    // Two tensors sharing bytes would alias each other's weights: refused, naming both.
    std::vector<const SafetensorsTensor*> by_offset;
    for (const auto& [name, t] : tensors_) by_offset.push_back(&t);
    std::sort(by_offset.begin(), by_offset.end(), [](auto* a, auto* b) { return a->data < b->data; });
    for (std::size_t i = 1; i < by_offset.size(); ++i)
        if (by_offset[i - 1]->data + by_offset[i - 1]->n_bytes > by_offset[i]->data)
            throw FormatError(path + ": tensors " + by_offset[i - 1]->name + " and " + by_offset[i]->name +
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
