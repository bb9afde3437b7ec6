#pragma once
// `bench spec --plot`: small multiples, one row per drafter: acceptance by draft position (a line per
// configuration) beside the speed-ups over none (bars with the range of the repetitions), labels written
// horizontally so that two dozen configurations stay readable.
#include <string>
#include <vector>

namespace ternspec::cli {

struct PlotSeries {
    std::string drafter;             // the row it goes in
    std::string label;               // "k=4 tree=8"
    std::vector<double> acceptance;  // by draft position, of drafts reaching it
    std::vector<double> speedups;    // one per repetition
};

std::string spec_plot_svg(const std::string& title, const std::vector<PlotSeries>& series);

}  // namespace ternspec::cli
