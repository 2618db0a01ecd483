#pragma once
// One experiment: what `oneclass run` runs once and `oneclass bench` runs per job. A data set split
// for one-class training, a detector built under the seed, and the labelled anomalies it asks for.
// Both commands prepare theirs here, so that a new data source or option is added in one place.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "oneclass/data/folder_dataset.h"
#include "oneclass/data/split.h"
#include "oneclass/detectors/detector.h"

namespace oneclass {

struct ExperimentSpec {
  std::vector<int> normal{1};
  std::vector<int> anomaly;       // empty: every other class
  double val_fraction = 0.1;      // normal training images held out (threshold), never trained on
  uint64_t seed = 0;              // the split, the initialisation and the batch order
  std::string model = "mlp-ae";
  nlohmann::json model_options = nlohmann::json::object();
};

struct PreparedExperiment {
  data::OneClassSplit split;
  std::unique_ptr<Detector> detector;  // not fitted yet
  std::vector<data::SkippedFile> skipped;     // folder data: files left out, and why
};

/// The detector `model` with `options`, built after seeding the global generator with `seed` (as
/// every experiment builds it, so a job's initial state depends on its seed alone).
std::unique_ptr<Detector> make_seeded_detector(const std::string& model, const nlohmann::json& options, uint64_t seed);

/// Builds the detector and splits `dataset` with the seed, drawing the labelled anomalies the
/// detector asks for. Throws Error for unknown models, bad options or an impossible split.
PreparedExperiment prepare_experiment(const ExperimentSpec& spec, const data::Dataset& dataset);

/// The same for a folder data set's category: images read with `folder` (its val_fraction and seed
/// are the spec's). Throws Error for a semi-supervised detector (folder data have no labelled
/// anomalies to train on) and as load_folder_split does.
PreparedExperiment prepare_folder_experiment(const ExperimentSpec& spec, const data::FolderCategory& category,
                                             data::FolderOptions folder);

/// Throws Error when `detector` learns from labelled anomalies: a folder data set has none to train
/// on (its defect images are all test images). `where` starts the message (an option, a data set).
void require_one_class_for_folder_data(const Detector& detector, const std::string& where);

/// `options` with `score` set (`--score`): an Error unless `model` declares that score.
nlohmann::json with_score(const std::string& model, nlohmann::json options, const std::string& score);
/// `options` with `count` labelled anomalies (`--labeled-anomalies`): an Error unless `model` is
/// semi-supervised. A count of 0 leaves the options as they are.
nlohmann::json with_labeled_anomalies(const std::string& model, nlohmann::json options, int64_t count);

}  // namespace oneclass
