#include "oneclass/engine/experiment.h"

#include <torch/torch.h>

#include "oneclass/detectors/registry.h"
#include "oneclass/error.h"

namespace oneclass {

std::unique_ptr<Detector> make_seeded_detector(const std::string& model, const nlohmann::json& options, uint64_t seed) {
  torch::manual_seed(seed);
  return make_detector(model, options);
}

PreparedExperiment prepare_experiment(const ExperimentSpec& spec, const data::Dataset& dataset) {
  PreparedExperiment experiment;
  experiment.detector = make_seeded_detector(spec.model, spec.model_options, spec.seed);
  data::SplitOptions split;
  split.normal = spec.normal;
  split.anomaly = spec.anomaly;
  split.val_fraction = spec.val_fraction;
  split.seed = spec.seed;
  split.labeled_anomalies = experiment.detector->labeled_anomalies_wanted();
  experiment.split = data::make_one_class_split(dataset, split);
  return experiment;
}

PreparedExperiment prepare_folder_experiment(const ExperimentSpec& spec, const data::FolderCategory& category,
                                             data::FolderOptions folder) {
  PreparedExperiment experiment;
  experiment.detector = make_seeded_detector(spec.model, spec.model_options, spec.seed);
  require_one_class_for_folder_data(*experiment.detector, "--dataset folder");
  folder.val_fraction = spec.val_fraction;
  folder.seed = spec.seed;
  data::FolderSplit loaded = data::load_folder_split(category, folder);
  experiment.split = std::move(loaded.split);
  experiment.skipped = std::move(loaded.skipped);
  return experiment;
}

void require_one_class_for_folder_data(const Detector& detector, const std::string& where) {
  if (detector.labeled_anomalies_wanted() == 0) return;
  throw Error(where + ": " + detector.name() + " with labeled_anomalies=" + std::to_string(detector.labeled_anomalies_wanted()) +
              " needs labelled anomalies, and folder data sets have no labelled anomalies to train on (their defect "
              "images are all test images); leave --labeled-anomalies out");
}

nlohmann::json with_score(const std::string& model, nlohmann::json options, const std::string& score) {
  const auto& scores = detector_entry(model).scores;
  if (scores.empty()) throw Error("--score " + score + ": " + model + " has one score only; leave --score out");
  std::string known;
  for (const auto& name : scores) {
    if (name == score) {
      options["score"] = score;
      return options;
    }
    known += (known.empty() ? "" : ", ") + name;
  }
  throw Error("--score " + score + ": " + model + " scores by " + known + " (the first is its default)");
}

nlohmann::json with_labeled_anomalies(const std::string& model, nlohmann::json options, int64_t count) {
  if (count == 0) return options;
  if (!detector_entry(model).semi_supervised) {
    throw Error("--labeled-anomalies: " + model + " does not learn from labelled anomalies; use a semi-supervised "
                "detector such as deep-sad, or leave the flag out");
  }
  options["labeled_anomalies"] = count;
  return options;
}

}  // namespace oneclass
