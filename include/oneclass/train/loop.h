#pragma once
// The generic training loop: epochs, seeded shuffling, mini-batches, progress and loss history.
// It knows nothing about the model: the detector performs each optimisation step.
#include <cstdint>
#include <functional>
#include <vector>

#include <ATen/core/Tensor.h>

#include "oneclass/detectors/detector.h"

namespace oneclass::train {

struct LoopOptions {
  uint64_t seed = 0;
  bool progress = true;          // progress bar on stderr
  at::Tensor labeled_anomalies;  // for semi-supervised detectors (FitContext::labeled_anomalies)
};

struct History {
  std::vector<double> epoch_loss;  // mean batch loss per epoch
  long steps = 0;
  double seconds = 0;
};

/// Fits `detector` on `normal_images` (float [N, 1, H, W] in [0, 1], already on the device).
/// Same seed, data and machine give identical weights.
History fit(Detector& detector, const at::Tensor& normal_images, const c10::Device& device,
            const LoopOptions& options);

/// One detector of a fit_together call: its images and its seed (LoopOptions::seed of a lone fit).
struct FitJob {
  Detector* detector = nullptr;
  at::Tensor normal_images;
  uint64_t seed = 0;
  at::Tensor labeled_anomalies;  // as in LoopOptions
};

/// Fits several detectors of one kind and options at once, each on its own images with its own
/// seed (the benchmark's seeds and classes). Each sees the same batches in the same order as in a
/// lone `fit`, so it ends as `fit` would leave it; only the steps are shared, through
/// Detector::train_together when the detector offers it. `progress` shows one bar for the group;
/// `on_steps(n)`, when given, is told after each step how many detectors took it.
std::vector<History> fit_together(const std::vector<FitJob>& jobs, const c10::Device& device, bool progress,
                                  const std::function<void(long)>& on_steps = {});

}  // namespace oneclass::train
