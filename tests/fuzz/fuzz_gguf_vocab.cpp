// A GGUF vocabulary and a prompt, both from the input: a tokenizer or a FormatError, then encoding the
// prompt must end (an empty control token once made it loop forever) and decode without fault.
// Input: added tokens as lines "T<content>" (T's low bits pick the GGUF token type), a NUL, the prompt.
#include <unistd.h>

#include <string>

#include "target/formats/gguf.hpp"
#include "target/model/gguf_export.hpp"
#include "target/tokenizer/tokenizer.hpp"
#include "ternspec/error.hpp"

namespace {

// The tiny synthetic model's tokenizer metadata: 256 byte tokens, a few merges.
const std::map<std::string, ternspec::GgufValue>& base_metadata() {
    static const auto kv = [] {
        const std::string path = "/tmp/ternspec-fuzz-vocab-base-" + std::to_string(::getpid()) + ".gguf";
        ternspec::synth_model(path, ternspec::synth_shape("tiny"), ternspec::TensorType::F16, 1);
        std::map<std::string, ternspec::GgufValue> out;
        {
            const ternspec::GgufFile g(path);
            for (const auto& [k, v] : g.metadata())
                if (k.rfind("tokenizer.", 0) == 0) out[k] = v;
        }
        ::unlink(path.c_str());
        return out;
    }();
    return kv;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string input(reinterpret_cast<const char*>(data), size);
    const auto nul = input.find('\0');
    const std::string vocab = input.substr(0, nul),
                      prompt = nul == std::string::npos ? "" : input.substr(nul + 1);
    auto kv = base_metadata();
    auto tokens = kv.at("tokenizer.ggml.tokens").as_array("tokens");
    auto types = kv.at("tokenizer.ggml.token_type").as_array("types");
    std::size_t start = 0;
    while (start < vocab.size() && tokens.size() < 4096) {
        auto end = vocab.find('\n', start);
        if (end == std::string::npos) end = vocab.size();
        const std::string line = vocab.substr(start, end - start);
        start = end + 1;
        if (line.empty()) continue;
        tokens.push_back(ternspec::GgufValue::str(line.substr(1)));
        types.push_back(ternspec::GgufValue::i32(static_cast<unsigned char>(line[0]) % 6));
    }
    ternspec::GgufWriter w;
    for (auto& [k, v] : kv) w.set(k, v);
    w.set("tokenizer.ggml.tokens", ternspec::GgufValue::array(ternspec::GgufType::STRING, std::move(tokens)));
    w.set("tokenizer.ggml.token_type", ternspec::GgufValue::array(ternspec::GgufType::I32, std::move(types)));
    static const std::string path = "/tmp/ternspec-fuzz-vocab-" + std::to_string(::getpid()) + ".gguf";
    try {
        w.write(path);
        const ternspec::GgufFile g(path);
        const auto tok = ternspec::Tokenizer::from_gguf(g);
        const auto ids = tok.encode(prompt);
        (void)tok.decode(ids);
    } catch (const ternspec::Error&) {
    }
    return 0;
}
