#pragma once
// `oneclass run`: the one-class experiment end to end. Loads the data set, trains a detector on
// normal images only, calibrates the threshold on held-out normal images, scores the test set and
// writes everything to the run folder:
//   config.json   resolved configuration (enough for `oneclass score` together with detector.pt)
//   detector.pt   the trained detector (LibTorch archive)
//   metrics.json  AUROC, AUPRC, threshold and the operating point, counts, timings
//   scores.csv    index,label,is_anomaly,score,flagged for every test image
//   history.csv   per-epoch mean training loss
//   result.png, loss.png, roc.png, scores.png   figures (when gnuplot is available)
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace oneclass {

struct RunConfig {
  std::string dataset = "mnist";
  std::string data_dir;             // --data-dir (empty: $ONECLASS_DATA_DIR, cache, system folders)
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

/// Runs the experiment and returns metrics.json's content. Throws Error on bad input.
nlohmann::json run_experiment(const RunConfig& config);

}  // namespace oneclass
