#pragma once
// Numbers out of JSON files (config.json, tokenizer.json, safetensors headers), checked in one place.
// nlohmann's get<int>() converts 256.5 to 256 and 2^32 + 5 to 5, and a float past int's range is
// undefined behaviour: here a fraction, a string or an out-of-range value is a FormatError naming the
// file and the field.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace ternspec {

// `v` as an integer in [lo, hi]; `where` names it ("FILE: field").
std::int64_t json_integer(const nlohmann::json& v, std::int64_t lo, std::int64_t hi,
                          const std::string& where);

// Field `key` of object `j` read from `file`: an integer in [lo, hi], or `fallback` when absent or null
// (an error when there is no fallback).
std::int64_t json_int_field(const nlohmann::json& j, const char* key, const std::string& file,
                            std::int64_t lo, std::int64_t hi,
                            std::optional<std::int64_t> fallback = std::nullopt);

// Field `key`: a finite number in (lo, hi] that stays finite as a float, or `fallback` when absent.
float json_float_field(const nlohmann::json& j, const char* key, const std::string& file, float fallback,
                       double lo_exclusive, double hi);

// Field `key`: a bool, or `fallback` when absent.
bool json_bool_field(const nlohmann::json& j, const char* key, const std::string& file, bool fallback);

}  // namespace ternspec
