#include "target/io/json_fields.hpp"

#include <cmath>
#include <limits>

#include "ternspec/error.hpp"

namespace ternspec {

std::int64_t json_integer(const nlohmann::json& v, std::int64_t lo, std::int64_t hi,
                          const std::string& where) {
    const auto range = " (an integer from " + std::to_string(lo) + " to " + std::to_string(hi) + ")";
    if (v.is_number_unsigned()) {
        const auto u = v.get<std::uint64_t>();
        if (u > static_cast<std::uint64_t>(hi) || static_cast<std::int64_t>(u) < lo)
            throw FormatError(where + " is " + std::to_string(u) + ", out of range" + range);
        return static_cast<std::int64_t>(u);
    }
    if (v.is_number_integer()) {
        const auto i = v.get<std::int64_t>();
        if (i < lo || i > hi)
            throw FormatError(where + " is " + std::to_string(i) + ", out of range" + range);
        return i;
    }
    throw FormatError(where + " is " +
                      (v.is_number() ? "a fraction " + v.dump() : std::string(v.type_name())) +
                      ", not an integer" + range);
}

std::int64_t json_int_field(const nlohmann::json& j, const char* key, const std::string& file,
                            std::int64_t lo, std::int64_t hi, std::optional<std::int64_t> fallback) {
    if (!j.is_object()) throw FormatError(file + ": not a JSON object");
    if (!j.contains(key) || j[key].is_null()) {
        if (fallback) return *fallback;
        throw FormatError(file + ": lacks " + key);
    }
    return json_integer(j[key], lo, hi, file + ": " + key);
}

float json_float_field(const nlohmann::json& j, const char* key, const std::string& file, float fallback,
                       double lo_exclusive, double hi) {
    if (!j.contains(key) || j[key].is_null()) return fallback;
    const auto& v = j[key];
    if (!v.is_number()) throw FormatError(file + ": " + key + " is " + v.type_name() + ", not a number");
    const double d = v.get<double>();
    if (!std::isfinite(d) || d <= lo_exclusive || d > hi || !std::isfinite(static_cast<float>(d)))
        throw FormatError(file + ": " + key + " is " + v.dump() + ", outside (" +
                          std::to_string(lo_exclusive) + ", " + std::to_string(hi) + "]");
    return static_cast<float>(d);
}

bool json_bool_field(const nlohmann::json& j, const char* key, const std::string& file, bool fallback) {
    if (!j.contains(key) || j[key].is_null()) return fallback;
    if (!j[key].is_boolean())
        throw FormatError(file + ": " + key + " is " + j[key].type_name() + ", not a bool");
    return j[key].get<bool>();
}

}  // namespace ternspec
