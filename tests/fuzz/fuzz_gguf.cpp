// GGUF: any byte string is either a model file or a FormatError; the model loader goes on from there.
#include "target/formats/gguf.hpp"
#include "target/model/model_files.hpp"
#include "target/model/qwen3_model.hpp"
#include "ternspec/error.hpp"
#include "tests/fuzz/fuzz_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto path = fuzz_write(data, size, ".gguf");
    try {
        ternspec::GgufFile f(path);
        for (const auto& [k, v] : f.metadata()) (void)v.summary();
        auto files = ternspec::ModelFiles::open(path);
        if (files.config().hidden_size <= 1024 && files.config().n_layers <= 4)
            ternspec::Qwen3Model::load(files);
    } catch (const ternspec::Error&) {
    }
    return 0;
}
