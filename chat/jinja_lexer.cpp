#include "chat/jinja_lexer.hpp"

#include <regex>

#include "ternspec/error.hpp"
#include "text/utf8.hpp"

namespace ternspec::jinja {

namespace {

[[noreturn]] void fail(int line, const std::string& what) {
    throw InputError("chat template line " + std::to_string(line) + ": " + what);
}

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}
bool is_digit(char c) {
    return c >= '0' && c <= '9';
}
bool is_name_start(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

// The whitespace rules Hugging Face renders chat templates with (and @huggingface/jinja applies the same
// way): lstrip_blocks and trim_blocks, the template's final newline dropped, generation markers removed.
std::string preprocess(std::string src) {
    if (!src.empty() && src.back() == '\n') src.pop_back();
    src = std::regex_replace(src, std::regex(R"((^|\n)[ \t]*(\{[#%-]))"), "$1$2");
    src = std::regex_replace(src, std::regex(R"(([#%-]\})\n)"), "$1");
    // {% generation %} / {% endgeneration %} mark the assistant's tokens for training masks: no output.
    static const std::regex generation(
        R"(([ \t\n\r\v\f]*)\{%(-?)[ \t\n\r\v\f]*(end)?generation[ \t\n\r\v\f]*(-?)%\}([ \t\n\r\v\f]*))");
    std::string out;
    auto begin = std::sregex_iterator(src.begin(), src.end(), generation);
    std::size_t last = 0;
    for (auto it = begin; it != std::sregex_iterator(); ++it) {
        const auto& m = *it;
        out.append(src, last, static_cast<std::size_t>(m.position(0)) - last);
        if (m[2].length() == 0) out += m[1].str();
        if (m[4].length() == 0) out += m[5].str();
        last = static_cast<std::size_t>(m.position(0) + m.length(0));
    }
    out.append(src, last, std::string::npos);
    return out;
}

class Lexer {
  public:
    explicit Lexer(std::string src) : src_(std::move(src)) {}

    std::vector<Token> run() {
        while (pos_ < src_.size()) {
            std::size_t tag = src_.find('{', pos_);
            while (tag != std::string::npos && tag + 1 < src_.size() && src_[tag + 1] != '{' &&
                   src_[tag + 1] != '%' && src_[tag + 1] != '#')
                tag = src_.find('{', tag + 1);
            if (tag == std::string::npos || tag + 1 >= src_.size()) tag = src_.size();
            if (tag > pos_) push(Token::Type::Text, src_.substr(pos_, tag - pos_));
            advance_to(tag);
            if (pos_ >= src_.size()) break;
            const char kind = src_[pos_ + 1];
            const int open_line = line_;
            advance_to(pos_ + 2);
            const bool strip_before = pos_ < src_.size() && src_[pos_] == '-';
            if (pos_ < src_.size() && (src_[pos_] == '-' || src_[pos_] == '+')) advance_to(pos_ + 1);
            if (strip_before) strip_trailing_space();
            if (kind == '#') {
                const std::size_t close = src_.find("#}", pos_);
                if (close == std::string::npos) fail(open_line, "a comment without its closing #}");
                const bool strip_after = close > pos_ && src_[close - 1] == '-';
                advance_to(close + 2);
                if (strip_after) skip_space();
                continue;
            }
            push(kind == '{' ? Token::Type::VarBegin : Token::Type::BlockBegin, kind == '{' ? "{{" : "{%");
            lex_tag(kind == '{' ? "}}" : "%}", open_line);
        }
        tokens_.push_back({Token::Type::End, "", line_});
        return std::move(tokens_);
    }

  private:
    void push(Token::Type type, std::string text) { tokens_.push_back({type, std::move(text), line_}); }

    void advance_to(std::size_t p) {
        for (; pos_ < p && pos_ < src_.size(); ++pos_)
            if (src_[pos_] == '\n') ++line_;
        pos_ = p;
    }

    void strip_trailing_space() {
        if (tokens_.empty() || tokens_.back().type != Token::Type::Text) return;
        auto& t = tokens_.back().text;
        while (!t.empty() && is_space(t.back())) t.pop_back();
        if (t.empty()) tokens_.pop_back();
    }

    void skip_space() {
        std::size_t p = pos_;
        while (p < src_.size() && is_space(src_[p])) ++p;
        advance_to(p);
    }

    void lex_tag(const std::string& close, int open_line) {
        int braces = 0;
        for (;;) {
            skip_space();
            if (pos_ >= src_.size()) fail(open_line, "a tag without its closing " + close);
            const std::string_view rest(src_.data() + pos_, src_.size() - pos_);
            const bool may_close = close == "%}" || braces == 0;
            if (may_close && (rest.starts_with("-" + close) || rest.starts_with(close))) {
                const bool strip_after = rest[0] == '-';
                advance_to(pos_ + close.size() + (strip_after ? 1 : 0));
                push(close == "}}" ? Token::Type::VarEnd : Token::Type::BlockEnd, close);
                if (strip_after) skip_space();
                return;
            }
            const char c = src_[pos_];
            if (c == '\'' || c == '"') {
                lex_string(c);
            } else if (is_digit(c)) {
                std::size_t p = pos_;
                while (p < src_.size() && is_digit(src_[p])) ++p;
                const bool dotted = !tokens_.empty() && tokens_.back().type == Token::Type::Op &&
                                    tokens_.back().text == ".";  // messages.0 is an index, not 0.x
                if (!dotted && p + 1 < src_.size() && src_[p] == '.' && is_digit(src_[p + 1])) {
                    ++p;
                    while (p < src_.size() && is_digit(src_[p])) ++p;
                    push(Token::Type::Float, src_.substr(pos_, p - pos_));
                } else {
                    push(Token::Type::Int, src_.substr(pos_, p - pos_));
                }
                advance_to(p);
            } else if (is_name_start(c)) {
                std::size_t p = pos_;
                while (p < src_.size() && (is_name_start(src_[p]) || is_digit(src_[p]))) ++p;
                push(Token::Type::Name, src_.substr(pos_, p - pos_));
                advance_to(p);
            } else {
                static const char* const two[] = {"//", "**", "==", "!=", "<=", ">="};
                std::string op(1, c);
                for (const char* t : two)
                    if (rest.starts_with(t)) op = t;
                if (op.size() == 1 &&
                    std::string_view("+-*/%~<>=()[]{},.:|").find(c) == std::string_view::npos)
                    fail(line_, std::string("unexpected character '") + c + "'");
                if (op == "{") ++braces;
                if (op == "}") --braces;
                push(Token::Type::Op, op);
                advance_to(pos_ + op.size());
            }
        }
    }

    void lex_string(char quote) {
        const int start_line = line_;
        std::string value;
        std::size_t p = pos_ + 1;
        for (;;) {
            if (p >= src_.size()) fail(start_line, "a string literal without its closing quote");
            const char c = src_[p];
            if (c == quote) break;
            if (c != '\\') {
                value += c;
                ++p;
                continue;
            }
            if (p + 1 >= src_.size()) fail(start_line, "a string literal without its closing quote");
            const char e = src_[p + 1];
            p += 2;
            switch (e) {
                case 'n':
                    value += '\n';
                    break;
                case 't':
                    value += '\t';
                    break;
                case 'r':
                    value += '\r';
                    break;
                case 'b':
                    value += '\b';
                    break;
                case 'f':
                    value += '\f';
                    break;
                case 'v':
                    value += '\v';
                    break;
                case '\'':
                case '"':
                case '\\':
                    value += e;
                    break;
                case 'x':
                case 'u': {
                    const std::size_t n = e == 'x' ? 2 : 4;
                    const std::string hex = src_.substr(p, n);
                    if (hex.size() != n ||
                        hex.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos)
                        fail(start_line, std::string("a bad \\") + e + " escape in a string literal");
                    value += utf8_encode(static_cast<char32_t>(std::stoul(hex, nullptr, 16)));
                    p += n;
                    break;
                }
                default:
                    fail(start_line, std::string("an unknown escape \\") + e + " in a string literal");
            }
        }
        push(Token::Type::String, std::move(value));
        tokens_.back().line = start_line;
        advance_to(p + 1);
    }

    std::string src_;
    std::size_t pos_ = 0;
    int line_ = 1;
    std::vector<Token> tokens_;
};

}  // namespace

std::vector<Token> tokenize(const std::string& source) {
    return Lexer(preprocess(source)).run();
}

}  // namespace ternspec::jinja
