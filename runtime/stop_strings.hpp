#pragma once
// Stop strings (llama.cpp's --reverse-prompt and --stop, OpenAI's `stop`): the output text ends before the
// first occurrence of any of them. While streaming, the end of the text that could still grow into a stop
// string is held back, so a client never sees part of one.
#include <string>
#include <string_view>
#include <vector>

namespace ternspec {

class StopStrings {
  public:
    explicit StopStrings(std::vector<std::string> stops = {});  // empty strings are dropped
    // Appends a piece of output; false once a stop string has appeared (text() is then cut before it).
    bool feed(std::string_view piece);
    const std::string& text() const { return text_; }
    // How much of text() can be shown now: all of it once stopped or ended (or with no stop strings),
    // else all but the longest tail that is a proper prefix of a stop string.
    std::size_t ready() const;
    bool stopped() const { return stopped_; }
    // No more text will come: what was held back can be shown.
    void end() { ended_ = true; }

  private:
    std::vector<std::string> stops_;
    std::size_t longest_ = 0;
    std::string text_;
    bool stopped_ = false, ended_ = false;
};

}  // namespace ternspec
