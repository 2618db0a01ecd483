#pragma once
// `oneclass run`: the one-class experiment end to end. Loads the data set, trains a detector on
// normal images only, calibrates the threshold on held-out normal images, scores the test set and
// writes everything to the run folder:
//   config.json   resolved configuration (enough for `oneclass score` together with detector.pt)
//   detector.pt   the trained detector (LibTorch archive)
//   metrics.json  AUROC, AUPRC, threshold and the operating point with its confidence interval,
//                 pixel AUROC and AUPRO where the data have masks, counts, timings, skipped files
//   scores.csv    index,label,is_anomaly,score,flagged for every test image
//   history.csv   per-epoch mean training loss
//   result.png, loss.png, roc.png, scores.png   figures (when gnuplot is available)
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "oneclass/engine/experiment.h"
#include "oneclass/eval/metrics.h"

namespace oneclass {

class Detector;
namespace data {
struct OneClassSplit;
}
namespace train {
struct History;
}

struct RunConfig {
  std::string dataset = "mnist";    // mnist, fashion-mnist, or folder (your own images, --data)
  std::string data_dir;             // --data-dir (empty: $ONECLASS_DATA_DIR, cache, system folders)
  std::string data_path;            // --data: a folder data set (MVTec AD or normal/abnormal layout)
  std::string category;             // --category: one category of a folder that holds several
  int channels = 0;                 // folder data: 1 or 3; 0 = 3 when the training images are colour
  int image_size = 256;             // folder data: the square side images are resized and cropped to
  std::string check_anomalies;      // a folder of known defect images: scored and counted, never used
  bool allow_download = true;
  std::string normal = "1";         // labels, e.g. "1" or "1,7"
  std::string anomaly;              // empty = every other label
  double val_fraction = 0.1;        // normal training images held out for the threshold
  double target_fpr = 0.01;         // false-positive rate the threshold aims at on held-out normals
  std::optional<double> threshold;  // fixed threshold instead of calibration
  std::string model = "mlp-ae";
  nlohmann::json model_options = nlohmann::json::object();
  uint64_t seed = 0;
  std::string device = "auto";
  int threads = 0;                  // 0 = all cores
  std::string out_dir = "runs/latest";
  bool overwrite = false;           // replace an earlier run in out_dir (else that is an error)
  bool progress = true;
  bool figures = true;
  int grid_columns = 8;             // images in result.png
};

nlohmann::json to_json(const RunConfig& config);
struct ExperimentSpec;
/// The experiment a RunConfig describes (labels parsed).
ExperimentSpec experiment_of(const RunConfig& config);

/// Runs the experiment and returns metrics.json's content. Throws Error on bad input.
nlohmann::json run_experiment(const RunConfig& config);

// The steps of run_experiment after training, shared with the benchmark (`oneclass bench`), so a
// benchmark job measures exactly what `oneclass run` measures.

/// A fitted detector measured on a split.
struct RunEvaluation {
  std::vector<double> scores;  // test scores
  std::vector<int> is_anomaly;
  double threshold = 0;        // calibrated on the held-out normals, or RunConfig::threshold
  eval::RocCurve roc;
  nlohmann::json metrics;      // metrics.json's content
};

/// Scores the test images and the held-out normals, sets the threshold, computes the metrics, and
/// describes the run (data set, classes, model, options, seed, training history) in them.
RunEvaluation evaluate_run(const RunConfig& config, Detector& detector, const data::OneClassSplit& split,
                           const train::History& history);

/// The split and the seeded, unfitted detector of a run: a named data set, or one category of a
/// folder data set (`config.category` is filled in when the folder holds only one).
PreparedExperiment prepare_run_data(RunConfig& config);

/// metrics.json's skipped_files: [{path, reason}] of the files a folder data set left out.
nlohmann::json skipped_files_json(const std::vector<data::SkippedFile>& skipped);

/// Checks RunConfig::out_dir: an earlier run there is an error unless `overwrite`, and then its
/// files go first. Creates the folder.
void prepare_run_folder(const RunConfig& config);

/// Writes the run folder: detector.pt, config.json, scores.csv, history.csv, metrics.json, then
/// the figures (a figure failure is a warning). Adds the figure list and timings to the metrics.
void write_run_folder(const RunConfig& config, Detector& detector, const data::OneClassSplit& split,
                      const train::History& history, RunEvaluation& evaluation);

}  // namespace oneclass
