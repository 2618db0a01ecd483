#pragma once
// The gnuplot script of each kind of figure, for FigureSet (figures.cpp): the commands after the
// terminal and output are set. Data goes through a DataSink, which stores one data file and
// returns the gnuplot expression naming it. Internal to the report layer.
#include <functional>
#include <string>
#include <vector>

#include "oneclass/report/figures.h"

namespace oneclass::report {

using DataSink = std::function<std::string(std::string)>;

// figure_plots.cpp
std::string loss_script(const std::vector<double>& epoch_loss, const DataSink& data);
std::string roc_script(const eval::RocCurve& roc, double auroc, double operating_fpr, double operating_tpr,
                       const DataSink& data);
std::string histogram_script(const std::vector<double>& normal_scores, const std::vector<double>& anomaly_scores,
                             double threshold, const DataSink& data);

// figure_grid.cpp, figure_bars.cpp: both check their panels (an Error naming png_path) and size
// the canvas.
std::string result_grid_script(const std::string& png_path, const std::vector<ResultPanel>& panels, double threshold,
                               const std::string& heading, int& width, int& height, const DataSink& data);
std::string bench_bars_script(const std::string& png_path, const std::string& heading,
                              const std::vector<BarPanel>& panels, int& width, int& height, const DataSink& data);

}  // namespace oneclass::report
