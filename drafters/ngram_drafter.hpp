#pragma once
// Prompt lookup: the last n tokens (n from max_n down to min_n) found earlier in the context; the tokens
// that followed the most recent earlier occurrence are the draft. The baseline every drafter must beat.
#include "drafters/drafter.hpp"

namespace ternspec {

class NgramDrafter : public Drafter {
  public:
    explicit NgramDrafter(const DrafterOptions& o)
        : max_n_(static_cast<int>(o.get("ngram_max", 4))), min_n_(static_cast<int>(o.get("ngram_min", 1))) {}
    std::string name() const override { return "ngram"; }
    void begin(std::span<const std::int32_t>, const HiddenRows*) override {}
    void observe(std::span<const std::int32_t>, const HiddenRows*) override {}
    DraftTree propose(std::span<const std::int32_t> context, const DraftBudget& budget) override;

  private:
    int max_n_, min_n_;
};

}  // namespace ternspec
