#pragma once
// Turns logits into the target distribution p (temperature, top-k, top-p, min-p) and draws from it.
// Speculative verification uses the same p, so the sampler defines what "lossless" preserves.
#include <cstdint>
#include <random>
#include <span>
#include <vector>

namespace ternspec {

struct SamplingParams {
    float temperature = 0.0f;  // 0: greedy
    int top_k = 0;             // 0: off
    float top_p = 1.0f;
    float min_p = 0.0f;
    std::uint64_t seed = 0;
    // llama.cpp's repeat penalty over the last repeat_last_n tokens (-1: the whole context); 1 is off. It
    // changes the target distribution itself, so verification applies it too, along each draft path.
    float repeat_penalty = 1.0f;
    int repeat_last_n = 64;
    // OpenAI's presence and frequency penalties (-2 to 2; 0 is off) over the same window, as llama.cpp
    // applies them: a token seen c times there loses presence_penalty + c * frequency_penalty of its logit.
    float presence_penalty = 0.0f;
    float frequency_penalty = 0.0f;
    bool greedy() const { return temperature <= 0.0f; }
    bool penalized() const {
        return (repeat_penalty != 1.0f || presence_penalty != 0.0f || frequency_penalty != 0.0f) &&
               repeat_last_n != 0;
    }
};

// InputError naming the parameter when one is out of range (temperature >= 0, top_k >= 0,
// 0 < top_p <= 1, 0 <= min_p <= 1, all finite): the one check the CLI and the library share.
void validate(const SamplingParams& p);

std::int32_t argmax(const float* logits, int n);  // ties go to the lowest id

// Each distinct token of the last repeat_last_n of `context`: a positive logit divided by the repeat
// penalty, any other multiplied by it (llama.cpp's rule), then presence_penalty + count * frequency_penalty
// subtracted. Nothing when !p.penalized().
void apply_repeat_penalty(float* logits, int n, const SamplingParams& p,
                          std::span<const std::int32_t> context);

// The filtered, normalised distribution (zeros outside the kept set).
std::vector<float> target_distribution(const float* logits, int n, const SamplingParams& p);

class Rng {
  public:
    explicit Rng(std::uint64_t seed) : gen_(seed) {}
    double uniform() { return static_cast<double>(gen_() >> 11) * 0x1.0p-53; }
    std::int32_t draw(const std::vector<float>& probs);  // probs need not be normalised

  private:
    std::mt19937_64 gen_;
};

}  // namespace ternspec
