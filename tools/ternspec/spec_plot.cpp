#include "tools/ternspec/spec_plot.hpp"

#include <algorithm>
#include <cstdio>
#include <sstream>

#include "tools/ternspec/model_args.hpp"

namespace ternspec::cli {
namespace {

std::string esc(const std::string& s) {
    std::string out;
    for (const char c : s) {
        if (c == '<')
            out += "&lt;";
        else if (c == '>')
            out += "&gt;";
        else if (c == '&')
            out += "&amp;";
        else if (c == '\'')
            out += "&apos;";
        else
            out += c;
    }
    return out;
}

std::string fmt(const char* f, double v) {
    char b[32];
    std::snprintf(b, sizeof b, f, v);
    return b;
}

// Where things go: the acceptance panel at ax (width aw), the speed-up panel at bx (width bw), the shared
// scales of every row (positions up to max_pos, speed-ups up to max_speed).
struct Layout {
    int ax = 80, aw = 380, bx = 700, bw = 330, bar_h = 20;
    std::size_t max_pos = 1;
    double max_speed = 1.2;
    double sx(double v) const { return bx + bw * v / max_speed; }
};

// A drafter's row: titles, the acceptance panel's frame, grid and axis labels, the speed-up panel's axis
// with the 1x line.
void draw_axes(std::ostream& o, const Layout& L, const std::string& drafter, int y0, int ph) {
    const int ax = L.ax, aw = L.aw, bx = L.bx, bw = L.bw;
    const std::size_t max_pos = L.max_pos;
    const double max_speed = L.max_speed;
    const auto sx = [&](double v) { return L.sx(v); };
    o << "<text x='" << ax << "' y='" << y0 - 8 << "' font-size='14' font-weight='bold'>" << esc(drafter)
      << ": acceptance by draft position</text>\n";
    o << "<text x='" << bx << "' y='" << y0 - 8 << "' font-size='14' font-weight='bold'>" << esc(drafter)
      << ": speed-up over none (same run)</text>\n";
    // Left: acceptance (of drafts reaching each position), one line per configuration.
    o << "<rect x='" << ax << "' y='" << y0 << "' width='" << aw << "' height='" << ph
      << "' fill='none' stroke='#444'/>\n";
    for (int t = 0; t <= 4; ++t) {
        const double y = y0 + ph - ph * t / 4.0;
        o << "<line x1='" << ax << "' y1='" << y << "' x2='" << ax + aw << "' y2='" << y
          << "' stroke='#eee'/>\n<text x='" << ax - 6 << "' y='" << y + 4 << "' text-anchor='end'>" << t * 25
          << "%</text>\n";
    }
    for (std::size_t p = 0; p < max_pos; ++p)
        o << "<text x='" << ax + aw * (p + 0.5) / max_pos << "' y='" << y0 + ph + 15
          << "' text-anchor='middle'>" << p + 1 << "</text>\n";
    o << "<text x='" << ax + aw / 2 << "' y='" << y0 + ph + 32
      << "' text-anchor='middle'>draft position</text>\n";
    o << "<text transform='translate(" << ax - 48 << "," << y0 + ph / 2
      << ") rotate(-90)' text-anchor='middle'>accepted, of drafts reaching it</text>\n";
    // Right: horizontal bars, the median speed-up, a whisker from the lowest to the highest repetition.
    o << "<line x1='" << bx << "' y1='" << y0 << "' x2='" << bx << "' y2='" << y0 + ph
      << "' stroke='#444'/>\n";
    o << "<line x1='" << sx(1.0) << "' y1='" << y0 << "' x2='" << sx(1.0) << "' y2='" << y0 + ph
      << "' stroke='#999' stroke-dasharray='4'/>\n";
    for (double t = 0; t <= max_speed; t += 0.5)
        o << "<text x='" << sx(t) << "' y='" << y0 + ph + 15 << "' text-anchor='middle'>" << fmt("%.1f", t)
          << "</text>\n";
    o << "<text x='" << bx + bw / 2 << "' y='" << y0 + ph + 32
      << "' text-anchor='middle'>speed-up (x; median of repetitions, whisker: range)</text>\n";
}

// One configuration: its acceptance line, its bar (median speed-up) with the repetitions' range.
void draw_series(std::ostream& o, const Layout& L, const PlotSeries& s, const char* c, std::size_t i, int y0,
                 int ph) {
    const int ax = L.ax, aw = L.aw, bx = L.bx, bar_h = L.bar_h;
    const std::size_t max_pos = L.max_pos;
    const auto sx = [&](double v) { return L.sx(v); };
    if (!s.acceptance.empty()) {
        o << "<polyline fill='none' stroke='" << c << "' stroke-width='2' points='";
        for (std::size_t p = 0; p < s.acceptance.size(); ++p)
            o << ax + aw * (p + 0.5) / max_pos << "," << y0 + ph - ph * s.acceptance[p] << " ";
        o << "'/>\n";
        for (std::size_t p = 0; p < s.acceptance.size(); ++p)
            o << "<circle cx='" << ax + aw * (p + 0.5) / max_pos << "' cy='" << y0 + ph - ph * s.acceptance[p]
              << "' r='3' fill='" << c << "'/>\n";
    }
    std::vector<double> v = s.speedups;  // sorted: the whisker runs from front to back
    std::sort(v.begin(), v.end());
    const double med = median(v);  // what bench spec's table reports
    const double y = y0 + 10 + static_cast<double>(i) * (bar_h + 8);
    o << "<text x='" << bx - 8 << "' y='" << y + bar_h * 0.7 << "' text-anchor='end'>" << esc(s.label)
      << "</text>\n";
    o << "<rect x='" << bx << "' y='" << y << "' width='" << sx(med) - bx << "' height='" << bar_h
      << "' fill='" << c << "'/>\n";
    if (!v.empty())
        o << "<line x1='" << sx(v.front()) << "' y1='" << y + bar_h / 2 << "' x2='" << sx(v.back())
          << "' y2='" << y + bar_h / 2 << "' stroke='#222' stroke-width='1.5'/>\n";
    o << "<text x='" << sx(v.empty() ? med : v.back()) + 6 << "' y='" << y + bar_h * 0.7 << "'>"
      << fmt("%.2fx", med) << "</text>\n";
}

}  // namespace

std::string spec_plot_svg(const std::string& title, const std::vector<PlotSeries>& series) {
    static const char* colors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
                                   "#e377c2", "#17becf", "#bcbd22", "#7f7f7f", "#393b79", "#637939"};
    // One row of panels per drafter (small multiples), in the order the drafters first appear.
    std::vector<std::string> drafters;
    for (const auto& s : series)
        if (std::find(drafters.begin(), drafters.end(), s.drafter) == drafters.end())
            drafters.push_back(s.drafter);
    Layout L;
    for (const auto& s : series) {
        L.max_pos = std::max(L.max_pos, s.acceptance.size());
        for (double v : s.speedups) L.max_speed = std::max(L.max_speed, v * 1.08);
    }
    const int W = 1100, top = 56, gap = 64;
    std::vector<int> heights;
    int H = top;
    for (const auto& d : drafters) {
        int n = 0;
        for (const auto& s : series) n += s.drafter == d;
        heights.push_back(std::max(170, n * (L.bar_h + 8) + 20));
        H += heights.back() + gap;
    }
    std::ostringstream o;
    o << "<svg xmlns='http://www.w3.org/2000/svg' width='" << W << "' height='" << H
      << "' font-family='sans-serif' font-size='12'>\n<rect width='100%' height='100%' fill='white'/>\n";
    o << "<text x='" << W / 2 << "' y='24' font-size='15' text-anchor='middle'>" << esc(title) << "</text>\n";
    int y0 = top;
    for (std::size_t g = 0; g < drafters.size(); ++g) {
        draw_axes(o, L, drafters[g], y0, heights[g]);
        std::size_t i = 0;
        for (const auto& s : series) {
            if (s.drafter != drafters[g]) continue;
            draw_series(o, L, s, colors[i % std::size(colors)], i, y0, heights[g]);
            ++i;
        }
        y0 += heights[g] + gap;
    }
    o << "</svg>\n";
    return o.str();
}

}  // namespace ternspec::cli
