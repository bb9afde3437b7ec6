#pragma once
// The parsers read files (memory maps), so each input goes through a per-process temporary file.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

inline std::string fuzz_write(const std::uint8_t* data, std::size_t size, const char* suffix) {
    static const std::string path = "/tmp/ternspec-fuzz-" + std::to_string(::getpid()) + suffix;
    FILE* f = std::fopen(path.c_str(), "wb");
    if (f) {
        std::fwrite(data, 1, size, f);
        std::fclose(f);
    }
    return path;
}
