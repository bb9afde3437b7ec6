#pragma once
// Template source to tokens: text between tags, and the words, literals and operators inside `{{ }}` and
// `{% %}`. Whitespace control (`-`, trim_blocks, lstrip_blocks) is settled here, so the parser sees text
// exactly as it will be printed.
#include <string>
#include <vector>

namespace ternspec::jinja {

struct Token {
    enum class Type { Text, VarBegin, VarEnd, BlockBegin, BlockEnd, Name, String, Int, Float, Op, End };
    Type type = Type::End;
    std::string text;
    int line = 1;
};

std::vector<Token> tokenize(const std::string& source);

}  // namespace ternspec::jinja
