#pragma once
// UTF-8 helpers for applications that pass model text on: token pieces and files are bytes, and a byte
// sequence that is not UTF-8 (a piece that splits a character, a file in another encoding) must be shown or
// sent without breaking JSON, terminals or the next program. The same functions the runtime uses.
#include <string>
#include <string_view>

namespace ternspec {

// `s` with every invalid byte sequence replaced by U+FFFD.
std::string utf8_sanitize(std::string_view s);

bool utf8_valid(std::string_view s);

}  // namespace ternspec
