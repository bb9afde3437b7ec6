#pragma once
// What a public ternspec::Model holds: shared by the public API's translation units (api.cpp, distill).
#include <tbb/task_arena.h>

#include <memory>
#include <mutex>
#include <string>

#include "target/model/qwen3_model.hpp"
#include "ternspec/ternspec.hpp"
#include "verify/json_constraint.hpp"

namespace ternspec {

struct Model::Impl {
    std::string path, format;
    std::shared_ptr<const Qwen3Model> model;
    // LoadOptions::threads > 0: this model's decodes run in an arena of that many threads, leaving the
    // process's other work (and other models) at TBB's default.
    std::unique_ptr<tbb::task_arena> arena;

    template <typename F>
    auto in_arena(F&& f) const {
        return arena ? arena->execute(std::forward<F>(f)) : f();
    }

    // The structured-output token table (a pass over the whole vocabulary), built at the first request that
    // asks for structured output and shared by every later one.
    std::shared_ptr<const JsonTokenMask> json_mask() const {
        std::call_once(json_mask_once_, [&] {
            json_mask_ = std::make_shared<JsonTokenMask>(model->tokenizer(), model->config().vocab_size);
        });
        return json_mask_;
    }

  private:
    mutable std::once_flag json_mask_once_;
    mutable std::shared_ptr<const JsonTokenMask> json_mask_;
};

}  // namespace ternspec
