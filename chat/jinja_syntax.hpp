#pragma once
// The parsed form of a chat template: expressions and statements of the Jinja subset that published chat
// templates use. Parsing fails on anything outside it, naming the line, rather than rendering it wrongly.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "chat/jinja_value.hpp"

namespace ternspec::jinja {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
    enum class Kind {
        Literal,  // value
        Name,     // name
        List,     // kids: items
        Tuple,    // kids: items
        Dict,     // kids: key, value, key, value, ...
        Attr,     // kids[0].name
        Index,    // kids[0][kids[1]]
        Slice,    // kids[0][kids[1]:kids[2]:kids[3]], absent parts null
        Call,     // kids[0](kids[1..], keywords)
        Filter,   // kids[0] | name(kids[1..], keywords)
        Test,     // kids[0] is [not] name(kids[1..])
        Unary,    // name ("-", "+", "not") kids[0]
        Binary,   // kids[0] name kids[1]
        Cond,     // kids[1] if kids[0] else kids[2] (null: undefined)
    };
    Kind kind = Kind::Literal;
    int line = 0;
    std::string name;
    Value value;
    bool negated = false;
    std::vector<ExprPtr> kids;
    std::vector<std::pair<std::string, ExprPtr>> keywords;
};

struct Node;
using Body = std::vector<std::unique_ptr<Node>>;

struct Node {
    enum class Kind { Text, Output, If, For, Set, SetBlock, Macro, Break, Continue };
    Kind kind = Kind::Text;
    int line = 0;
    std::string text;                // Text
    ExprPtr expr;                    // Output, For (iterable), Set (value)
    std::vector<std::string> names;  // For / Set targets; Set on an attribute: {object, attribute}
    bool attribute_target = false;   // Set: names = {namespace, attribute}
    ExprPtr condition;               // For: the `if` filter
    std::vector<std::pair<ExprPtr, Body>> branches;       // If: condition and body, in order
    Body body;                                            // For, SetBlock, Macro
    Body otherwise;                                       // If: else; For: else
    std::vector<std::pair<std::string, ExprPtr>> params;  // Macro: name and default (null: none)
};

// Parses template source with the reference renderer's whitespace rules (trim_blocks, lstrip_blocks, one
// trailing newline dropped, `{% generation %}` markers removed). Throws InputError naming the line.
Body parse_template(const std::string& source);

}  // namespace ternspec::jinja
