// The gnuplot script of the benchmark's grouped bars (per_class.png).
#include "report/figure_scripts.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <functional>
#include <map>
#include <sstream>

#include <fmt/format.h>

#include "oneclass/error.h"
#include "report/gnuplot.h"

namespace oneclass::report {
namespace {

// ---------------------------------------------------------------------------------------------
// Grouped bars: one panel per BarPanel, stacked in a multiplot. Bars are placed by hand at
// x = group + offset of the series, so a missing value leaves a gap instead of moving the others.
// Error bars are vectors with flat heads: gnuplot's yerrorbars leave a white gap at the value.

// Ten distinguishable colours (matplotlib's "tab10"); an eleventh series reuses the first.
const char* const kBarColors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                  "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

void check_bar_panels(const std::string& png_path, const std::vector<BarPanel>& panels) {
  if (panels.empty()) throw Error("bar chart " + png_path + ": no panels to draw; pass at least one");
  for (size_t i = 0; i < panels.size(); ++i) {
    const auto& p = panels[i];
    std::string where = "bar chart " + png_path + ", panel " + std::to_string(i) + " (" + p.title + "): ";
    if (p.groups.empty() || p.series.empty()) throw Error(where + "needs at least one group and one series");
    for (const auto& s : p.series) {
      if (s.value.size() == p.groups.size() && (s.error.empty() || s.error.size() == p.groups.size())) continue;
      throw Error(where + "series " + s.label + " has " + std::to_string(s.value.size()) + " values and " +
                  std::to_string(s.error.size()) + " errors for " + std::to_string(p.groups.size()) +
                  " groups; pass one value per group, and one error per group or none");
    }
  }
}

double bar_error(const BarSeries& s, size_t g) { return s.error.empty() ? NAN : s.error[g]; }

// Lowest y shown: a multiple of 10 below every bar and error bar, so that the differences between
// bars near 100 % stay visible; the axis labels say where it starts.
double bars_floor(const BarPanel& p) {
  double lo = INFINITY;
  for (const auto& s : p.series)
    for (size_t g = 0; g < s.value.size(); ++g) {
      double e = bar_error(s, g);
      if (std::isfinite(s.value[g])) lo = std::min(lo, s.value[g] - (std::isfinite(e) ? e : 0));
    }
  return std::isfinite(lo) ? std::clamp(10 * std::floor((lo - 2) / 10), 0.0, 90.0) : 0;
}

// One colour per label across all panels, in order of first appearance.
std::map<std::string, std::string> bar_colors(const std::vector<BarPanel>& panels) {
  std::map<std::string, std::string> colors;
  for (const auto& p : panels)
    for (const auto& s : p.series)
      if (!colors.count(s.label)) colors[s.label] = kBarColors[colors.size() % std::size(kBarColors)];
  return colors;
}

// Pixels: the canvas fits the widest panel's bars plus the legend column at the right.
struct BarsLayout {
  int width = 0, height = 0;
  double key_px = 0;  // width of the legend column
};

BarsLayout bars_layout(const std::vector<BarPanel>& panels) {
  size_t groups = 0, series = 0, label = 0;
  for (const auto& p : panels) {
    groups = std::max(groups, p.groups.size());
    series = std::max(series, p.series.size());
    for (const auto& s : p.series) label = std::max(label, text_length(s.label));
  }
  BarsLayout l;
  l.key_px = 7.5 * static_cast<double>(label) + 80;  // ~7.5 px a character at 11 pt, plus the sample
  double plot_px = static_cast<double>(groups * (series * 22 + 26));
  l.width = static_cast<int>(std::ceil(std::max(900.0, 90 + plot_px + l.key_px)));
  l.height = 70 + 400 * static_cast<int>(panels.size());
  return l;
}

std::string bars_panel(const BarPanel& p, const std::map<std::string, std::string>& colors,
                       const BarsLayout& l, const DataSink& data) {
  const size_t n = p.series.size();
  const double slot = 0.8 / static_cast<double>(n);
  std::string text, tics;
  for (size_t g = 0; g < p.groups.size(); ++g) {
    text += std::to_string(g);
    for (const auto& s : p.series) text += " " + gnuplot_number(s.value[g]) + " " + gnuplot_number(bar_error(s, g));
    text += "\n";
    tics += (g ? ", " : "(") + quote(p.groups[g]) + " " + std::to_string(g);
  }
  std::ostringstream s;
  s << "set title " << quote(p.title) << " font " << font(13, true) << "\n"
    << "set xlabel " << quote(p.x_label) << "\nset ylabel " << quote(p.y_label) << "\n"
    << "set xrange [-0.5:" << p.groups.size() - 0.5 << "]\nset yrange [" << gnuplot_number(bars_floor(p)) << ":100]\n"
    << "set xtics " << tics << ") scale 0\nset grid ytics\n"
    // The same right margin in every panel keeps their x axes aligned whatever their legends hold.
    << "set rmargin at screen " << gnuplot_number(1 - l.key_px / l.width) << "\nset lmargin 10\n"
    << "set key outside right top vertical Left reverse\n"
    << "set style fill solid 0.85 border rgb 'gray30'\nset boxwidth " << gnuplot_number(slot * 0.9) << " absolute\n";
  std::string file = data(text), plot;
  for (size_t i = 0; i < n; ++i) {
    double offset = (static_cast<double>(i) - (n - 1) / 2.0) * slot;
    std::string x = "($1" + std::string(offset < 0 ? "" : "+") + gnuplot_number(offset) + ")";
    std::string v = std::to_string(2 + 2 * i), e = std::to_string(3 + 2 * i);
    plot += (i ? ", " : "") + file + " using " + x + ":" + v + " with boxes lc rgb '" + colors.at(p.series[i].label) +
            "' title " + quote(p.series[i].label) + ", " + file + " using " + x + ":($" + v + "-$" + e + "):(0):(2*$" +
            e + ") with vectors heads size screen 0.005,90 lc rgb 'black' notitle";
  }
  s << "plot " << plot << "\n";
  return s.str();
}

std::string bars_body(const std::vector<BarPanel>& panels, const std::string& heading, const BarsLayout& l,
                      const DataSink& data) {
  auto colors = bar_colors(panels);
  std::string s = "set multiplot layout " + std::to_string(panels.size()) + ",1 title " + quote(heading) +
                  " font " + font(14, true) + "\n";
  for (const auto& p : panels) s += bars_panel(p, colors, l, data);
  return s + "unset multiplot\n";
}

}  // namespace

std::string bench_bars_script(const std::string& png_path, const std::string& heading,
                              const std::vector<BarPanel>& panels, int& width, int& height, const DataSink& data) {
  check_bar_panels(png_path, panels);
  const BarsLayout layout = bars_layout(panels);
  width = layout.width;
  height = layout.height;
  return bars_body(panels, heading, layout, data);
}

}  // namespace oneclass::report
