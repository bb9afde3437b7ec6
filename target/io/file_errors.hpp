#pragma once
// Every load error names the file: a FormatError raised deep inside (a GGUF value of the wrong type, a
// config.json field) gets the path in front when it lacks it, and nlohmann's "[json.exception...]" texts
// become words with the path.
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "ternspec/error.hpp"

namespace ternspec {

// "[json.exception.type_error.302] type must be number, but is string" -> "type must be number, but is
// string"
inline std::string json_error_words(const nlohmann::json::exception& e) {
    std::string_view w = e.what();
    if (const auto close = w.find("] "); !w.empty() && w[0] == '[' && close != std::string_view::npos)
        w.remove_prefix(close + 2);
    return std::string(w);
}

template <typename Fn>
auto naming_file(const std::string& path, Fn&& fn) -> decltype(fn()) {
    try {
        return fn();
    } catch (const FormatError& e) {
        if (std::string_view(e.what()).find(path) != std::string_view::npos) throw;
        throw FormatError(path + ": " + e.what());
    } catch (const nlohmann::json::exception& e) {
        throw FormatError(path + ": " + json_error_words(e));
    }
}

}  // namespace ternspec
