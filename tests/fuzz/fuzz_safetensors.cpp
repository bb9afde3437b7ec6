// safetensors: any byte string is either parsed or a FormatError.
#include "target/formats/dequantize.hpp"
#include "target/formats/safetensors.hpp"
#include "ternspec/error.hpp"
#include "tests/fuzz/fuzz_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto path = fuzz_write(data, size, ".safetensors");
    try {
        ternspec::SafetensorsFile f(path);
        for (const auto& [name, t] : f.tensors()) {
            std::uint64_t n = 1;
            for (auto d : t.shape()) n *= d;
            if (n <= (1u << 16)) {
                std::vector<float> out(n);
                ternspec::dequantize(t.type, t.data, out.data(), n);
            }
        }
    } catch (const ternspec::Error&) {
    }
    return 0;
}
