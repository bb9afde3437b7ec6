#pragma once
// Token rows are independent in quantisation, the norms and the gated activation. A verification batch on
// a large model shares them across the cores that the matrix products use; a decode step's single row,
// or a small model's few short rows, stays on the calling thread, where TBB's fork and join would cost more
// than the loop. Generic translation units only: it instantiates oneTBB templates.
#include <tbb/parallel_for.h>

namespace ternspec {

inline constexpr long long kParallelRowWork = 8192;  // rows x width from which the loop goes parallel

template <class Fn>
void for_each_row(int rows, int width, Fn&& fn) {
    if (rows > 1 && static_cast<long long>(rows) * width >= kParallelRowWork)
        tbb::parallel_for(0, rows, fn);
    else
        for (int i = 0; i < rows; ++i) fn(i);
}

}  // namespace ternspec
