#pragma once
// UTF-8 helpers for the streaming decoder and for input validation.
#include <cstddef>
#include <string>
#include <string_view>

namespace ternspec {

// Length of the longest prefix of s that does not end inside an incomplete (but so far valid) sequence.
std::size_t utf8_complete_prefix(std::string_view s);

// s with every invalid byte sequence replaced by U+FFFD.
std::string utf8_sanitize(std::string_view s);

bool utf8_valid(std::string_view s);

// UTF-8 encoding of one code point.
std::string utf8_encode(char32_t cp);

}  // namespace ternspec
