#pragma once
// Output files named by options: checked before the work (a folder, a missing folder or an unwritable
// path fails at once, not after an hour of benchmarking) and every write and close checked after it.
#include <string>
#include <string_view>
#include <vector>

#include "tools/ternspec/args.hpp"

namespace ternspec::cli {

// InputError naming the option and the path when `path` cannot be created or written.
void check_writable(const std::string& path, const std::string& option);
// Writes `content` to `path` (replacing it); any failed write, flush or close is an error naming both.
void write_output_file(const std::string& path, const std::string& content, const std::string& option);
// The whole of an input file; InputError naming the path when it cannot be opened or read.
std::string read_input_file(const std::string& path);
// Flushes standard output; false when anything written to it was lost (a full disk, a closed pipe).
bool flush_stdout();

// The -o/--output option of every command with --json, and where that JSON goes: to -o's file when given
// (checked as the other output files are), else standard output. -o without --json is an error.
Option json_output_option();
// --json, and -o's path (checked writable before the work) or empty for standard output.
struct JsonOutput {
    bool json = false;
    std::string path;
};
JsonOutput json_output_from(const Args& args);
void emit_json(const JsonOutput& out, const std::string& text);

// A Markdown table's header and alignment rows on stdout; `align` has one letter per column, l (text) or
// r (numbers, right-aligned).
void print_table_header(const std::vector<std::string>& columns, std::string_view align);

}  // namespace ternspec::cli
