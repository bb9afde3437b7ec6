// tokenizer.json: a tokenizer or a FormatError; a tokenizer then encodes and decodes arbitrary text.
#include <string>

#include "target/tokenizer/tokenizer.hpp"
#include "ternspec/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    try {
        auto tok = ternspec::Tokenizer::from_json_text(text, "fuzz");
        const auto ids = tok.encode(text.substr(0, 256));
        (void)tok.decode(ids);
    } catch (const ternspec::Error&) {
    }
    return 0;
}
