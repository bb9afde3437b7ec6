#include "text/utf8.hpp"

namespace ternspec {
namespace {

// Length of a valid sequence starting at s[i], 0 if invalid, -needed if valid but cut short.
int sequence_length(std::string_view s, std::size_t i) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    int len;
    char32_t min;
    if (b0 < 0x80) return 1;
    if ((b0 & 0xe0) == 0xc0)
        len = 2, min = 0x80;
    else if ((b0 & 0xf0) == 0xe0)
        len = 3, min = 0x800;
    else if ((b0 & 0xf8) == 0xf0)
        len = 4, min = 0x10000;
    else
        return 0;
    char32_t cp = b0 & (0x7f >> len);
    for (int k = 1; k < len; ++k) {
        if (i + k >= s.size()) return -len;
        const auto b = static_cast<unsigned char>(s[i + k]);
        if ((b & 0xc0) != 0x80) return 0;
        cp = (cp << 6) | (b & 0x3f);
        // Reject overlong and surrogate prefixes as soon as the second byte shows them.
        if (k == 1) {
            if (len == 3 && b0 == 0xe0 && b < 0xa0) return 0;
            if (len == 3 && b0 == 0xed && b >= 0xa0) return 0;
            if (len == 4 && b0 == 0xf0 && b < 0x90) return 0;
            if (len == 4 && b0 > 0xf4) return 0;
            if (len == 4 && b0 == 0xf4 && b >= 0x90) return 0;
        }
    }
    if (cp < min) return 0;
    return len;
}

}  // namespace

std::size_t utf8_complete_prefix(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size()) {
        const int n = sequence_length(s, i);
        if (n < 0) return i;
        i += n == 0 ? 1 : static_cast<std::size_t>(n);
    }
    return i;
}

std::string utf8_sanitize(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    std::size_t i = 0;
    while (i < s.size()) {
        const int n = sequence_length(s, i);
        if (n > 0) {
            out.append(s.substr(i, static_cast<std::size_t>(n)));
            i += static_cast<std::size_t>(n);
        } else {
            out += "\xEF\xBF\xBD";
            ++i;
        }
    }
    return out;
}

bool utf8_valid(std::string_view s) {
    for (std::size_t i = 0; i < s.size();) {
        const int n = sequence_length(s, i);
        if (n <= 0) return false;
        i += static_cast<std::size_t>(n);
    }
    return true;
}

std::string utf8_encode(char32_t cp) {
    std::string out;
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xc0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xe0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
        out += static_cast<char>(0x80 | (cp & 0x3f));
    } else {
        out += static_cast<char>(0xf0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
        out += static_cast<char>(0x80 | (cp & 0x3f));
    }
    return out;
}

}  // namespace ternspec
