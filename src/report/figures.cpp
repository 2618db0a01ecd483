// Figures drawn by gnuplot: each add_* call turns its data into data files plus a script fragment;
// render() runs ONE gnuplot process for all figures (report/gnuplot.cpp) and moves the finished
// PNGs into place.
#include "oneclass/report/figures.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <sstream>

#include "oneclass/error.h"
#include "report/figure_scripts.h"
#include "report/gnuplot.h"

namespace oneclass::report {
namespace {

// ---------------------------------------------------------------------------------------------
// Temporary PNGs

// Deletes the temporary PNGs still there when render() ends: all of them when gnuplot failed
// (a half-drawn set of figures is worse than none), none after the renames succeeded.
struct TempPngGuard {
  const std::vector<std::pair<std::string, std::string>>& renames;
  ~TempPngGuard() {
    for (const auto& r : renames) std::remove(r.first.c_str());
  }
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// Public API

bool figures_available() { return gnuplot_status().ok; }

std::string figures_status() {
  const GnuplotStatus g = gnuplot_status();
  if (!g.ok) return "figures: off (" + g.why_not + ")";
  return "figures: gnuplot " + g.version + " (" + g.path + ")";
}

std::function<std::string(std::string)> FigureSet::sink() {
  return [this](std::string text) { return add_data(std::move(text)); };
}

std::string FigureSet::add_data(std::string text) {
  data_texts_.push_back(std::move(text));
  return "datadir.'/d" + std::to_string(data_texts_.size() - 1) + ".dat'";
}

void FigureSet::add_figure(const std::string& png_path, int width, int height, const std::string& body) {
  for (const auto& r : renames_)
    if (r.second == png_path)
      throw Error("figure " + png_path + " was added twice to one FigureSet; give each figure its own file");
  // Same folder as the final PNG, so the rename is atomic (no copy across file systems).
  std::string temp = png_path + ".tmp." + std::to_string(getpid());
  std::ostringstream s;
  s << "set terminal pngcairo size " << width << "," << height << " noenhanced font " << font(11)
    << " linewidth 1.2\nset output " << quote(temp) << "\n"
    << body << "unset output\nreset\n";
  scripts_.push_back(s.str());
  renames_.emplace_back(temp, png_path);
}

void FigureSet::add_loss_curve(const std::string& png_path, const std::vector<double>& epoch_loss) {
  if (epoch_loss.empty())
    throw Error("loss curve " + png_path + ": no epochs to draw; train at least one epoch first");
  add_figure(png_path, 900, 600, loss_script(epoch_loss, sink()));
}

void FigureSet::add_roc(const std::string& png_path, const eval::RocCurve& roc, double auroc,
                        double operating_fpr, double operating_tpr) {
  if (roc.fpr.empty() || roc.fpr.size() != roc.tpr.size())
    throw Error("ROC " + png_path + ": the curve has " + std::to_string(roc.fpr.size()) + " FPR and " +
                std::to_string(roc.tpr.size()) + " TPR values; pass the output of eval::roc_curve");
  add_figure(png_path, 800, 760,
             roc_script(roc, auroc, operating_fpr, operating_tpr, sink()));
}

void FigureSet::add_score_histogram(const std::string& png_path, const std::vector<double>& normal_scores,
                                    const std::vector<double>& anomaly_scores, double threshold) {
  if (normal_scores.empty() && anomaly_scores.empty())
    throw Error("score histogram " + png_path + ": no scores to draw; score some test images first");
  add_figure(png_path, 900, 600,
             histogram_script(normal_scores, anomaly_scores, threshold, sink()));
}

void FigureSet::add_result_grid(const std::string& png_path, const std::vector<ResultPanel>& panels,
                                double threshold, const std::string& heading) {
  int width = 0, height = 0;
  const std::string body = result_grid_script(png_path, panels, threshold, heading, width, height, sink());
  add_figure(png_path, width, height, body);
}

void FigureSet::add_bench_bars(const std::string& png_path, const std::string& heading,
                               const std::vector<BarPanel>& panels) {
  int width = 0, height = 0;
  const std::string body = bench_bars_script(png_path, heading, panels, width, height, sink());
  add_figure(png_path, width, height, body);
}

void FigureSet::render() const {
  if (scripts_.empty()) return;
  TempPngGuard guard{renames_};
  std::string script;
  for (const auto& s : scripts_) script += s;
  run_gnuplot(script, data_texts_, renames_.front().second + (renames_.size() > 1 ? " and others" : ""));
  for (const auto& [temp, final_path] : renames_) {
    if (std::rename(temp.c_str(), final_path.c_str()) != 0)
      throw Error("cannot move the figure " + temp + " to " + final_path + ": " + std::strerror(errno) +
                  " (gnuplot ran but the image is missing or the target is not writable)");
  }
}

}  // namespace oneclass::report
