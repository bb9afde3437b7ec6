#include "tools/ternspec/output_file.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "ternspec/error.hpp"

namespace ternspec::cli {

void check_writable(const std::string& path, const std::string& option) {
    namespace fs = std::filesystem;
    const auto fail = [&](const std::string& why) { throw InputError(option + " " + path + ": " + why); };
    if (path.empty()) fail("empty path");
    std::error_code ec;
    const auto st = fs::status(path, ec);
    if (fs::is_directory(st)) fail("is a folder");
    if (fs::exists(st)) {
        if (::access(path.c_str(), W_OK) != 0) fail(std::string("cannot write: ") + std::strerror(errno));
        return;
    }
    auto parent = fs::path(path).parent_path();
    if (parent.empty()) parent = ".";
    if (!fs::is_directory(parent, ec)) fail("folder " + parent.string() + " does not exist");
    if (::access(parent.c_str(), W_OK) != 0)
        fail("cannot create a file in " + parent.string() + ": " + std::strerror(errno));
}

void write_output_file(const std::string& path, const std::string& content, const std::string& option) {
    const auto fail = [&](const char* what) {
        throw InputError(option + " " + path + ": " + what + " failed: " + std::strerror(errno));
    };
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (!f) fail("open");
    const bool wrote = std::fwrite(content.data(), 1, content.size(), f) == content.size();
    const bool flushed = std::fflush(f) == 0;
    const int saved = errno;
    const bool closed = std::fclose(f) == 0;
    if (!wrote || !flushed) {
        errno = saved;
        fail("write");
    }
    if (!closed) fail("close");
}

std::string read_input_file(const std::string& path) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) throw InputError(path + ": is a folder, not a file");
    std::ifstream in(path, std::ios::binary);
    if (!in) throw InputError(path + ": cannot open");
    std::ostringstream ss;
    ss << in.rdbuf();
    if (in.bad()) throw InputError(path + ": reading failed");
    return ss.str();
}

bool flush_stdout() {
    std::cout.flush();
    return std::cout.good() && std::fflush(stdout) == 0 && !std::ferror(stdout);
}

Option json_output_option() {
    return {"output", 'o', "FILE", "with --json: write the JSON to FILE instead of standard output", ""};
}

JsonOutput json_output_from(const Args& args) {
    if (args.has("output")) {
        if (!args.flag("json")) throw InputError("-o/--output writes --json's output: give --json too");
        check_writable(args.str("output"), "-o");
    }
    return {args.flag("json"), args.has("output") ? args.str("output") : ""};
}

void emit_json(const JsonOutput& out, const std::string& text) {
    if (!out.path.empty()) return write_output_file(out.path, text + "\n", "-o");
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fputc('\n', stdout);
}

void print_table_header(const std::vector<std::string>& columns, std::string_view align) {
    std::string head = "|", rule = "|";
    for (std::size_t i = 0; i < columns.size(); ++i) {
        head += " " + columns[i] + " |";
        rule += i < align.size() && align[i] == 'r' ? "---:|" : "---|";
    }
    std::printf("%s\n%s\n", head.c_str(), rule.c_str());
}

}  // namespace ternspec::cli
