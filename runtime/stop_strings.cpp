#include "runtime/stop_strings.hpp"

#include <algorithm>

namespace ternspec {

StopStrings::StopStrings(std::vector<std::string> stops) : stops_(std::move(stops)) {
    std::erase_if(stops_, [](const std::string& s) { return s.empty(); });
    for (const auto& s : stops_) longest_ = std::max(longest_, s.size());
}

bool StopStrings::feed(std::string_view piece) {
    if (stopped_) return false;
    // Only the new text and the tail before it that a stop string could straddle need a search.
    const std::size_t from = text_.size() >= longest_ ? text_.size() - longest_ + 1 : 0;
    text_ += piece;
    std::size_t cut = std::string::npos;
    for (const auto& s : stops_) cut = std::min(cut, text_.find(s, from));
    if (cut == std::string::npos) return true;
    text_.resize(cut);
    stopped_ = true;
    return false;
}

std::size_t StopStrings::ready() const {
    if (stopped_ || ended_) return text_.size();
    std::size_t hold = 0;
    for (const auto& s : stops_)
        for (std::size_t n = std::min(s.size() - 1, text_.size()); n > hold; --n)
            if (text_.compare(text_.size() - n, n, s, 0, n) == 0) {
                hold = n;
                break;
            }
    return text_.size() - hold;
}

}  // namespace ternspec
