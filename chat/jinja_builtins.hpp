#pragma once
// Jinja's filters and tests, Python's str/dict/list methods, and the globals chat templates call
// (namespace, range, raise_exception, strftime_now). Unknown names are errors naming them.
#include <string>

#include "chat/jinja_value.hpp"

namespace ternspec::jinja {

Value apply_filter(const std::string& name, const Value& operand, CallArgs& args);
bool apply_test(const std::string& name, const Value& operand, const CallArgs& args);
// `object.name`: a dict's entry, or a method bound to the object (a string's split, a dict's items...).
Value member(const Value& object, const std::string& name);
// `object[key]` with Python's negative indexes; undefined when absent.
Value subscript(const Value& object, const Value& key);
Value slice(const Value& object, const Value& start, const Value& stop, const Value& step);
// The items a for loop or a filter walks: a list's items, a dict's keys, a string's characters; nothing
// for undefined.
Array iterate(const Value& v, const char* what);
// The globals every template sees; undefined for other names.
Value global(const std::string& name);

// Python's comparison order for sort, min and max; fails on values of kinds that do not compare.
int compare(const Value& a, const Value& b);

}  // namespace ternspec::jinja
