#pragma once
// What a public ternspec::Model holds: shared by the public API's translation units (api.cpp, distill).
#include <tbb/task_arena.h>

#include <memory>
#include <string>

#include "target/model/qwen3_model.hpp"
#include "ternspec/ternspec.hpp"

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
};

}  // namespace ternspec
