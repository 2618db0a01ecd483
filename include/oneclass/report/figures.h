#pragma once
// Figures of a run, drawn by gnuplot (an external program found at build time or on PATH).
// All figures of a run are drawn by one gnuplot process (start-up costs ~100 ms each time).
// Each PNG is written atomically (temporary name, then rename), so a crash leaves no half image.
#include <functional>
#include <cstdint>
#include <string>
#include <vector>

#include "oneclass/eval/metrics.h"

namespace oneclass::report {

/// True when a gnuplot executable with the pngcairo terminal is available.
bool figures_available();
/// One line saying which gnuplot is used, or why figures are off and how to turn them on.
std::string figures_status();

/// One column of the result grid: the input image, its reconstruction when the detector has one,
/// and the per-pixel anomaly map (e.g. |input - reconstruction|). Pixel rows are contiguous;
/// a colour image is three planes (red, green, blue) one after the other. Values of input /
/// reconstruction in [0, 1]; the map is non-negative, any scale. Images larger than a grid cell
/// (~132 px) are averaged down in blocks for display.
struct ResultPanel {
  int height = 0, width = 0;
  int channels = 1;                   // of input and reconstruction: 1 (grey) or 3 (RGB)
  std::vector<float> input;
  std::vector<float> reconstruction;  // empty when the detector does not reconstruct
  std::vector<float> anomaly_map;     // empty when the detector has no pixel map
  std::vector<uint8_t> mask;          // ground-truth defect mask (1 = defect), outlined on the input; empty: none
  bool overlay = false;               // also draw the map as a heat map over the input (camera images)
  double score = 0;
  bool is_anomaly = false;  // ground truth
  bool flagged = false;     // score > threshold
  std::string title;        // e.g. "typical normal", "worst anomaly"
};

/// One series of bars in a BarPanel (e.g. one model): a value and an error bar per group.
struct BarSeries {
  std::string label;          // legend entry; a label keeps its colour in every panel of a figure
  std::vector<double> value;  // aligned with BarPanel::groups; NaN: no bar
  std::vector<double> error;  // half-length of each error bar, aligned likewise; NaN or empty: none
};

/// One panel of grouped bars: along x the groups (e.g. the normal classes), in each group one bar
/// per series. Values are percentages (e.g. AUROC %): the y axis ends at 100.
struct BarPanel {
  std::string title;                // e.g. "MNIST"
  std::string x_label, y_label;     // e.g. "normal class", "AUROC (%)"
  std::vector<std::string> groups;  // x tick labels, e.g. "0" ... "9", "mean"
  std::vector<BarSeries> series;
};

/// Collects the figures of one run, then draws them all with one gnuplot call.
class FigureSet {
 public:
  void add_loss_curve(const std::string& png_path, const std::vector<double>& epoch_loss);
  void add_roc(const std::string& png_path, const eval::RocCurve& roc, double auroc,
               double operating_fpr, double operating_tpr);
  void add_score_histogram(const std::string& png_path, const std::vector<double>& normal_scores,
                           const std::vector<double>& anomaly_scores, double threshold);
  void add_result_grid(const std::string& png_path, const std::vector<ResultPanel>& panels,
                       double threshold, const std::string& heading);
  /// Grouped bars with error bars, the panels stacked in one image under `heading` (the benchmark's
  /// per_class.png: one panel per dataset, one bar colour per model). Throws Error when there is no
  /// panel, a panel has no group or no series, or a series' values do not match the groups.
  void add_bench_bars(const std::string& png_path, const std::string& heading, const std::vector<BarPanel>& panels);
  /// Draws every added figure. Throws Error (naming the gnuplot command and its output) on failure;
  /// no-op when nothing was added.
  void render() const;

 private:
  // Registers a data file for the script and returns the gnuplot expression naming its path.
  // The path is only known at render() time (a fresh private temp folder), hence a variable.
  std::string add_data(std::string text);
  /// add_data as a callable, for the script builders.
  std::function<std::string(std::string)> sink();
  // Registers the script fragment drawing one PNG of width x height pixels. The fragment draws
  // into a temporary name next to png_path; render() renames it once gnuplot succeeded.
  void add_figure(const std::string& png_path, int width, int height, const std::string& body);

  std::vector<std::string> scripts_;     // one gnuplot script fragment per figure
  std::vector<std::string> data_texts_;  // data_texts_[i] becomes d<i>.dat in the temp folder
  std::vector<std::pair<std::string, std::string>> renames_;  // temp png -> final png
};

}  // namespace oneclass::report
