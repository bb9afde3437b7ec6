// Recursive descent over the tokens, with Jinja's operator precedence (lowest first): conditional
// expression, or, and, not, comparisons and `in`, + -, ~, * / // %, **, unary minus, then postfix
// (attribute, index, slice, call), filters and tests.
#include "chat/jinja_lexer.hpp"
#include "chat/jinja_syntax.hpp"
#include "ternspec/error.hpp"

namespace ternspec::jinja {

namespace {

using T = Token::Type;

class Parser {
  public:
    explicit Parser(std::vector<Token> tokens) : t_(std::move(tokens)) {}

    Body parse() {
        Body body = parse_body({});
        if (peek().type != T::End) fail("unexpected tag '" + block_word() + "'");
        return body;
    }

  private:
    const Token& peek(std::size_t ahead = 0) const { return t_[std::min(pos_ + ahead, t_.size() - 1)]; }
    const Token& next() {
        const Token& t = t_[pos_];
        if (pos_ + 1 < t_.size()) ++pos_;
        return t;
    }
    [[noreturn]] void fail(const std::string& what) const {
        throw InputError("chat template line " + std::to_string(peek().line) + ": " + what);
    }
    bool is_op(const char* op, std::size_t ahead = 0) const {
        return peek(ahead).type == T::Op && peek(ahead).text == op;
    }
    bool is_word(const char* w, std::size_t ahead = 0) const {
        return peek(ahead).type == T::Name && peek(ahead).text == w;
    }
    void expect_op(const char* op) {
        if (!is_op(op)) fail(std::string("expected '") + op + "', found '" + peek().text + "'");
        next();
    }
    void expect_word(const char* w) {
        if (!is_word(w)) fail(std::string("expected '") + w + "', found '" + peek().text + "'");
        next();
    }
    std::string expect_name() {
        if (peek().type != T::Name) fail("expected a name, found '" + peek().text + "'");
        return next().text;
    }
    void expect_block_end() {
        if (peek().type != T::BlockEnd) fail("expected the end of the tag, found '" + peek().text + "'");
        next();
    }
    // The keyword of the block tag at the cursor ("" when the cursor is not at one).
    std::string block_word() const {
        return peek().type == T::BlockBegin && peek(1).type == T::Name ? peek(1).text : "";
    }

    Body parse_body(std::initializer_list<const char*> stops) {
        Body body;
        for (;;) {
            const Token& t = peek();
            if (t.type == T::End) {
                if (stops.size() > 0)
                    fail(std::string("the template ends before {% ") + *(stops.end() - 1) + " %}");
                return body;
            }
            if (t.type == T::Text) {
                auto n = node(Node::Kind::Text);
                n->text = next().text;
                body.push_back(std::move(n));
            } else if (t.type == T::VarBegin) {
                next();
                auto n = node(Node::Kind::Output);
                n->expr = parse_expression();
                if (peek().type != T::VarEnd) fail("expected '}}', found '" + peek().text + "'");
                next();
                body.push_back(std::move(n));
            } else if (t.type == T::BlockBegin) {
                const std::string word = block_word();
                for (const char* s : stops)
                    if (word == s) return body;
                next();
                body.push_back(parse_statement());
            } else {
                fail("unexpected '" + t.text + "'");
            }
        }
    }

    std::unique_ptr<Node> node(Node::Kind kind) const {
        auto n = std::make_unique<Node>();
        n->kind = kind;
        n->line = peek().line;
        return n;
    }

    std::unique_ptr<Node> parse_statement() {
        Deeper guard(*this);
        const std::string word = expect_name();
        if (word == "if") return parse_if();
        if (word == "for") return parse_for();
        if (word == "set") return parse_set();
        if (word == "macro") return parse_macro();
        if (word == "break" || word == "continue") {
            auto n = node(word == "break" ? Node::Kind::Break : Node::Kind::Continue);
            expect_block_end();
            return n;
        }
        fail("the tag '" + word + "' is not supported");
    }

    // `, b, c` after the first name of a for or set target.
    void more_names(std::vector<std::string>& names) {
        while (is_op(",")) {
            next();
            names.push_back(expect_name());
        }
    }

    // `{% word %}`: the end of a block, or its `else`.
    void close_block(const char* word) {
        next();  // {%
        expect_word(word);
        expect_block_end();
    }

    std::unique_ptr<Node> parse_if() {
        auto n = node(Node::Kind::If);
        ExprPtr cond = parse_expression();
        expect_block_end();
        for (;;) {
            Body body = parse_body({"elif", "else", "endif"});
            n->branches.emplace_back(std::move(cond), std::move(body));
            const std::string w = block_word();
            if (w == "elif") {
                next();  // {%
                next();  // elif
                cond = parse_expression();
                expect_block_end();
                continue;
            }
            close_block(w.c_str());
            if (w == "else") {
                n->otherwise = parse_body({"endif"});
                close_block("endif");
            }
            return n;
        }
    }

    std::unique_ptr<Node> parse_for() {
        auto n = node(Node::Kind::For);
        n->names.push_back(expect_name());
        more_names(n->names);
        expect_word("in");
        n->expr = parse_or();  // not a conditional: a trailing `if` filters the items
        if (is_word("if")) {
            next();
            n->condition = parse_or();
        }
        if (is_word("recursive")) fail("recursive loops are not supported");
        expect_block_end();
        n->body = parse_body({"else", "endfor"});
        if (block_word() == "else") {
            close_block("else");
            n->otherwise = parse_body({"endfor"});
        }
        close_block("endfor");
        return n;
    }

    std::unique_ptr<Node> parse_set() {
        auto n = node(Node::Kind::Set);
        n->names.push_back(expect_name());
        if (is_op(".")) {
            next();
            n->names.push_back(expect_name());
            n->attribute_target = true;
        }
        if (!n->attribute_target) more_names(n->names);
        if (peek().type == T::BlockEnd && !n->attribute_target && n->names.size() == 1) {
            next();
            n->kind = Node::Kind::SetBlock;
            n->body = parse_body({"endset"});
            close_block("endset");
            return n;
        }
        expect_op("=");
        n->expr = parse_tuple_or_expression();
        expect_block_end();
        return n;
    }

    std::unique_ptr<Node> parse_macro() {
        auto n = node(Node::Kind::Macro);
        n->names.push_back(expect_name());
        expect_op("(");
        while (!is_op(")")) {
            std::string p = expect_name();
            ExprPtr def;
            if (is_op("=")) {
                next();
                def = parse_expression();
            }
            n->params.emplace_back(std::move(p), std::move(def));
            if (!is_op(",")) break;
            next();
        }
        expect_op(")");
        expect_block_end();
        n->body = parse_body({"endmacro"});
        close_block("endmacro");
        return n;
    }

    ExprPtr make(Expr::Kind kind, std::string name = {}) const {
        auto e = std::make_unique<Expr>();
        e->kind = kind;
        e->line = peek().line;
        e->name = std::move(name);
        return e;
    }
    ExprPtr binary(std::string op, ExprPtr a, ExprPtr b) const {
        auto e = make(Expr::Kind::Binary, std::move(op));
        e->kids.push_back(std::move(a));
        e->kids.push_back(std::move(b));
        return e;
    }

    // `a, b` without brackets (the right side of a set) is a tuple.
    ExprPtr parse_tuple_or_expression() {
        ExprPtr first = parse_expression();
        if (!is_op(",")) return first;
        auto t = make(Expr::Kind::Tuple);
        t->kids.push_back(std::move(first));
        while (is_op(",")) {
            next();
            t->kids.push_back(parse_expression());
        }
        return t;
    }

    ExprPtr parse_expression() {
        Deeper guard(*this);
        ExprPtr e = parse_or();
        if (!is_word("if")) return e;
        next();
        auto c = make(Expr::Kind::Cond);
        c->kids.push_back(parse_or());
        c->kids.push_back(std::move(e));
        if (is_word("else")) {
            next();
            c->kids.push_back(parse_expression());
        } else {
            c->kids.push_back(nullptr);
        }
        return c;
    }

    ExprPtr parse_or() { return parse_level(&Parser::parse_and, {"or"}, true); }
    ExprPtr parse_and() { return parse_level(&Parser::parse_not, {"and"}, true); }
    ExprPtr parse_not() {
        if (!is_word("not")) return parse_compare();
        Deeper guard(*this);
        next();
        auto e = make(Expr::Kind::Unary, "not");
        e->kids.push_back(parse_not());
        return e;
    }
    ExprPtr parse_compare() {
        ExprPtr e = parse_add();
        for (;;) {
            const Token& t = peek();
            if (t.type == T::Op && (t.text == "==" || t.text == "!=" || t.text == "<" || t.text == ">" ||
                                    t.text == "<=" || t.text == ">=")) {
                std::string op = next().text;
                e = binary(op, std::move(e), parse_add());
            } else if (is_word("in")) {
                next();
                e = binary("in", std::move(e), parse_add());
            } else if (is_word("not") && is_word("in", 1)) {
                next();
                next();
                e = binary("not in", std::move(e), parse_add());
            } else {
                return e;
            }
        }
    }
    // One left-associative level: operands from `operand`, joined by any of `ops` (operator tokens, or
    // words such as `and` when `words`).
    ExprPtr parse_level(ExprPtr (Parser::*operand)(), std::initializer_list<const char*> ops,
                        bool words = false) {
        ExprPtr e = (this->*operand)();
        for (;;) {
            const char* found = nullptr;
            for (const char* op : ops)
                if (words ? is_word(op) : is_op(op)) found = op;
            if (!found) return e;
            next();
            e = binary(found, std::move(e), (this->*operand)());
        }
    }
    ExprPtr parse_add() { return parse_level(&Parser::parse_concat, {"+", "-"}); }
    ExprPtr parse_concat() { return parse_level(&Parser::parse_mul, {"~"}); }
    ExprPtr parse_mul() { return parse_level(&Parser::parse_pow, {"*", "/", "//", "%"}); }
    ExprPtr parse_pow() { return parse_level(&Parser::parse_unary, {"**"}); }
    ExprPtr parse_unary() {
        Deeper guard(*this);
        if (is_op("-") || is_op("+")) {
            auto e = make(Expr::Kind::Unary, next().text);
            e->kids.push_back(parse_unary());
            return e;
        }
        return parse_filters(parse_postfix(parse_primary()));
    }

    ExprPtr parse_primary() {
        const Token& t = peek();
        if (t.type == T::String) {
            std::string s = next().text;
            while (peek().type == T::String) s += next().text;  // "a" "b" is "ab"
            auto e = make(Expr::Kind::Literal);
            e->value = Value::string(std::move(s));
            return e;
        }
        if (t.type == T::Int || t.type == T::Float) {
            auto e = make(Expr::Kind::Literal);
            const std::string text = next().text;
            try {
                e->value =
                    t.type == T::Int ? Value::integer(std::stoll(text)) : Value::number(std::stod(text));
            } catch (const std::exception&) {
                fail("the number " + text + " is out of range");
            }
            return e;
        }
        if (t.type == T::Name) {
            const std::string w = next().text;
            auto e = make(Expr::Kind::Literal);
            if (w == "true" || w == "True")
                e->value = Value::boolean(true);
            else if (w == "false" || w == "False")
                e->value = Value::boolean(false);
            else if (w == "none" || w == "None")
                e->value = Value::none();
            else
                e = make(Expr::Kind::Name, w);
            return e;
        }
        if (is_op("(")) return parse_parenthesized();
        if (is_op("[")) return parse_list();
        if (is_op("{")) return parse_dict();
        fail("unexpected '" + t.text + "' in an expression");
    }

    // "(x)" is x; "()", "(x,)" and "(x, y)" are tuples.
    ExprPtr parse_parenthesized() {
        expect_op("(");
        if (is_op(")")) {
            next();
            return make(Expr::Kind::Tuple);
        }
        ExprPtr first = parse_expression();
        if (is_op(")")) {
            next();
            return first;
        }
        auto tuple = make(Expr::Kind::Tuple);
        tuple->kids.push_back(std::move(first));
        while (is_op(",")) {
            next();
            if (is_op(")")) break;
            tuple->kids.push_back(parse_expression());
        }
        expect_op(")");
        return tuple;
    }

    // "[a, b]" or "{k: v, ...}": `item` reads one entry; a trailing comma is allowed.
    template <typename F>
    ExprPtr parse_collection(Expr::Kind kind, const char* open, const char* close, F&& item) {
        expect_op(open);
        auto e = make(kind);
        while (!is_op(close)) {
            item(*e);
            if (!is_op(",")) break;
            next();
        }
        expect_op(close);
        return e;
    }

    ExprPtr parse_list() {
        return parse_collection(Expr::Kind::List, "[", "]",
                                [&](Expr& list) { list.kids.push_back(parse_expression()); });
    }

    ExprPtr parse_dict() {
        return parse_collection(Expr::Kind::Dict, "{", "}", [&](Expr& dict) {
            dict.kids.push_back(parse_expression());
            expect_op(":");
            dict.kids.push_back(parse_expression());
        });
    }

    void parse_call_args(Expr& call) {
        expect_op("(");
        while (!is_op(")")) {
            if (peek().type == T::Name && is_op("=", 1)) {
                std::string key = next().text;
                next();
                call.keywords.emplace_back(std::move(key), parse_expression());
            } else {
                if (!call.keywords.empty()) fail("a positional argument after a keyword argument");
                call.kids.push_back(parse_expression());
            }
            if (!is_op(",")) break;
            next();
        }
        expect_op(")");
    }

    ExprPtr parse_postfix(ExprPtr e) {
        for (;;) {
            if (is_op(".")) {
                next();
                if (peek().type == T::Int) {  // messages.0
                    auto idx = make(Expr::Kind::Index);
                    auto lit = make(Expr::Kind::Literal);
                    lit->value = Value::integer(std::stoll(next().text));
                    idx->kids.push_back(std::move(e));
                    idx->kids.push_back(std::move(lit));
                    e = std::move(idx);
                    continue;
                }
                auto a = make(Expr::Kind::Attr, expect_name());
                a->kids.push_back(std::move(e));
                e = std::move(a);
            } else if (is_op("[")) {
                next();
                ExprPtr parts[3];
                int part = 0;
                bool slice = false;
                for (;;) {
                    if (is_op(":")) {
                        next();
                        slice = true;
                        if (++part > 2) fail("a slice with more than three parts");
                        continue;
                    }
                    if (is_op("]")) break;
                    if (parts[part]) fail("expected ']' or ':'");
                    parts[part] = parse_expression();
                }
                expect_op("]");
                auto s = make(slice ? Expr::Kind::Slice : Expr::Kind::Index);
                s->kids.push_back(std::move(e));
                if (!slice && !parts[0]) fail("an empty subscript");
                for (int k = 0; k < (slice ? 3 : 1); ++k) s->kids.push_back(std::move(parts[k]));
                e = std::move(s);
            } else if (is_op("(")) {
                auto c = make(Expr::Kind::Call);
                c->kids.push_back(std::move(e));
                parse_call_args(*c);
                e = std::move(c);
            } else {
                return e;
            }
        }
    }

    ExprPtr parse_filters(ExprPtr e) {
        for (;;) {
            if (is_op("|")) {
                next();
                auto f = make(Expr::Kind::Filter, expect_name());
                f->kids.push_back(std::move(e));
                if (is_op("(")) parse_call_args(*f);
                e = std::move(f);
            } else if (is_word("is")) {
                next();
                auto t = make(Expr::Kind::Test);
                if (is_word("not")) {
                    next();
                    t->negated = true;
                }
                // `none`, `true` and `false` are words here, not literals.
                t->name = expect_name();
                t->kids.push_back(std::move(e));
                if (is_op("(")) {
                    parse_call_args(*t);
                } else if (peek().type == T::String || peek().type == T::Int || peek().type == T::Float ||
                           (peek().type == T::Name && !is_word("and") && !is_word("or") && !is_word("else") &&
                            !is_word("if") && !is_word("in") && !is_word("is") && !is_word("not"))) {
                    t->kids.push_back(parse_postfix(parse_primary()));  // `is divisibleby 3`
                }
                e = std::move(t);
            } else {
                return e;
            }
        }
    }

    // Nesting bound: a template from a model file must not be able to overflow the stack.
    struct Deeper {
        Parser& p;
        explicit Deeper(Parser& parser) : p(parser) {
            if (++p.depth_ > 200) p.fail("nesting deeper than 200 levels");
        }
        ~Deeper() { --p.depth_; }
    };

    std::vector<Token> t_;
    std::size_t pos_ = 0;
    int depth_ = 0;
};

}  // namespace

Body parse_template(const std::string& source) {
    return Parser(tokenize(source)).parse();
}

}  // namespace ternspec::jinja
