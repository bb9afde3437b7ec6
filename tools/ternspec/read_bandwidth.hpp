#pragma once
// Read bandwidth measured beside a benchmark: decode on a CPU is bound by bytes read, and this shared
// machine's bandwidth drifts, so every benchmark records its own.
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/parallel_reduce.h>

#include <cstdint>
#include <functional>
#include <vector>

#include "tools/ternspec/model_args.hpp"

namespace ternspec::cli {

// Read bandwidth: all threads summing a buffer far larger than the caches, one pass per call, so the
// passes can interleave with what is measured against them.
class ReadBandwidthProbe {
  public:
    explicit ReadBandwidthProbe(std::size_t bytes = 1ull << 29) : buf_(bytes / 8) {
        tbb::parallel_for(tbb::blocked_range<std::size_t>(0, buf_.size()), [&](const auto& r) {
            for (auto i = r.begin(); i < r.end(); ++i) buf_[i] = i;
        });
    }
    double pass_gbs() {
        const double t0 = seconds();
        sink_ = sink_ + tbb::parallel_reduce(
                            tbb::blocked_range<std::size_t>(0, buf_.size(), 1 << 16), std::uint64_t{0},
                            [&](const auto& r, std::uint64_t acc) {
                                for (auto i = r.begin(); i < r.end(); ++i) acc += buf_[i];
                                return acc;
                            },
                            std::plus<>());
        return static_cast<double>(buf_.size() * 8) / (seconds() - t0) / 1e9;
    }

  private:
    std::vector<std::uint64_t> buf_;
    volatile std::uint64_t sink_ = 0;
};

}  // namespace ternspec::cli
