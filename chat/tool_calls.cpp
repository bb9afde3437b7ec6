#include "ternspec/tool_calls.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace ternspec {
namespace {

constexpr std::string_view kOpen = "<tool_call>", kClose = "</tool_call>";

// The longest tail of `s` that is a proper prefix of `marker`: it may yet become the marker.
std::size_t partial_tail(std::string_view s, std::string_view marker) {
    for (std::size_t n = std::min(s.size(), marker.size() - 1); n > 0; --n)
        if (s.substr(s.size() - n) == marker.substr(0, n)) return n;
    return 0;
}

bool parse_call(std::string_view body, ToolCall& out) {
    const auto j = nlohmann::json::parse(body, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return false;
    const auto name = j.find("name");
    if (name == j.end() || !name->is_string()) return false;
    const auto args = j.find("arguments");
    std::string arguments = "{}";
    if (args != j.end()) {
        if (args->is_object())
            arguments = args->dump();
        else if (args->is_string() &&
                 nlohmann::json::parse(args->get<std::string>(), nullptr, false).is_object())
            arguments = args->get<std::string>();
        else
            return false;
    }
    out = {name->get<std::string>(), std::move(arguments)};
    return true;
}

}  // namespace

std::string ToolCallParser::feed(std::string_view text) {
    buf_ += text;
    std::string out;
    for (;;) {
        if (!inside_) {
            const auto at = buf_.find(kOpen);
            if (at == std::string::npos) {
                const std::size_t keep = partial_tail(buf_, kOpen);
                out += buf_.substr(0, buf_.size() - keep);
                buf_.erase(0, buf_.size() - keep);
                return out;
            }
            out += buf_.substr(0, at);
            buf_.erase(0, at + kOpen.size());
            inside_ = true;
        }
        const auto end = buf_.find(kClose);
        if (end == std::string::npos) return out;
        ToolCall call;
        if (parse_call(std::string_view(buf_).substr(0, end), call)) {
            done_.push_back(std::move(call));
            ++seen_;
        } else {
            out += std::string(kOpen) + buf_.substr(0, end + kClose.size());
        }
        buf_.erase(0, end + kClose.size());
        inside_ = false;
    }
}

std::string ToolCallParser::finish() {
    std::string out = inside_ ? std::string(kOpen) + buf_ : buf_;
    buf_.clear();
    inside_ = false;
    return out;
}

std::vector<ToolCall> ToolCallParser::take_calls() {
    return std::exchange(done_, {});
}

}  // namespace ternspec
