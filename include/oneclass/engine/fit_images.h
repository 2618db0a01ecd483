#pragma once
// Training on images a program already holds (Python's oneclass.Detector(...).fit(X)): the same
// detector, training loop and threshold as `oneclass run`, without a data set or image files. A
// seeded share of the images is held out, never trained on, and sets the threshold.
#include <cstdint>
#include <memory>
#include <string>

#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

namespace oneclass {

class Detector;

struct ImageFitOptions {
  std::string model = "knn";
  nlohmann::json model_options = nlohmann::json::object();
  uint64_t seed = 0;
  double val_fraction = 0.1;  // as `oneclass run`; 0 trains on all and leaves no threshold
  double target_fpr = 0.01;   // false-alarm rate the threshold aims at on the held-out images
  std::string device = "auto";
  bool progress = false;
};

struct FittedImages {
  // Defined where Detector is complete, so that users of this header need not include it.
  FittedImages();
  ~FittedImages();
  FittedImages(FittedImages&&) noexcept;
  FittedImages& operator=(FittedImages&&) noexcept;

  std::unique_ptr<Detector> detector;
  double threshold = 0;   // NaN with val_fraction 0
  nlohmann::json config;  // config.json of a run folder: what oneclass score and ScoringModel read
  nlohmann::json metrics; // counts, the held-out false alarms, the loss history, timings
};

/// Fits on `images` (float [N, C, H, W] in [0, 1], normal images only). Throws Error for bad
/// shapes, values outside [0, 1], too few images, unknown models or options, semi-supervised models.
FittedImages fit_images(const at::Tensor& images, const ImageFitOptions& options);

/// Writes a run folder (detector.pt, config.json, metrics.json, atomically) that `oneclass score`,
/// `oneclass serve`, the C API and oneclass.load open. An earlier run there is an error unless
/// `overwrite`.
void save_fitted_images(const FittedImages& fitted, const std::string& run_dir, bool overwrite);

}  // namespace oneclass
