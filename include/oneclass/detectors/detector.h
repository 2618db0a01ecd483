#pragma once
// The detector contract. Every detector, from an autoencoder to a k-nearest-neighbour baseline:
//   construct with options -> fit (driven by train::fit) -> score (higher = more anomalous)
//   -> optional reconstruction and per-pixel anomaly map -> save / load restoring identical scores.
// Images are float tensors [N, 1, H, W] with values in [0, 1], on the detector's device.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <nlohmann/json.hpp>

namespace torch::serialize {
class InputArchive;
class OutputArchive;
}  // namespace torch::serialize

namespace oneclass {

/// What the training loop needs to know; epochs == 0 means the detector learns in begin_fit alone
/// (e.g. a memory bank), and train_step is never called.
struct TrainPlan {
  int epochs = 0;
  int batch_size = 0;
};

/// Where and how a fit runs; filled by the training loop.
struct FitContext {
  c10::Device device = c10::Device(c10::kCPU);
  uint64_t seed = 0;
  /// Training images of anomaly classes, [K, C, H, W], for a detector whose
  /// labeled_anomalies_wanted() is K > 0 (semi-supervised, e.g. Deep SAD); undefined otherwise.
  at::Tensor labeled_anomalies;
};

/// Several copies of one detector trained in lockstep, one call per step for all of them (the
/// benchmark stacks seeds and classes this way). Made by Detector::train_together.
class TrainGroup {
 public:
  virtual ~TrainGroup() = default;
  /// batches[i] is copy i's batch, or an undefined tensor once copy i has finished training.
  /// Returns each copy's mean loss (NaN for copies that sat the step out).
  virtual std::vector<double> train_step(const std::vector<at::Tensor>& batches) = 0;
  /// Hands the trained state back to the copies; called once, after the last step.
  virtual void finish() = 0;
};

class Detector {
 public:
  virtual ~Detector() = default;

  /// Registry name, e.g. "mlp-ae".
  virtual std::string name() const = 0;
  /// Every hyper-parameter with its resolved value; saved with the weights so load can rebuild it.
  virtual nlohmann::json options() const = 0;
  virtual TrainPlan plan() const = 0;
  /// How many labelled anomalies (training images of the anomaly classes) the detector learns
  /// from; the caller draws them, seeded, and passes them in FitContext. 0 for one-class detectors.
  virtual int64_t labeled_anomalies_wanted() const { return 0; }

  // Training. The loop owns epochs, batches, shuffling, seeding and progress; the detector owns
  // its networks and optimisation step (a GAN has two optimisers, kNN none).
  /// Builds networks and optimisers for images of this shape; stores a memory bank if it has one.
  virtual void begin_fit(const at::Tensor& normal_images, const FitContext& context) = 0;
  /// One optimisation step on a batch; returns the batch's mean loss.
  virtual double train_step(const at::Tensor& batch) { return 0.0; }
  /// Called once after the last epoch (e.g. to fix a centre or switch to evaluation mode).
  virtual void end_fit(const at::Tensor& normal_images) {}
  /// Optional batched training: a group over `copies` (this detector among them; all of this
  /// kind with equal options; after begin_fit, before any train_step). Each copy must end as if
  /// it had been trained alone on the same batches, up to float rounding. nullptr (the default):
  /// the copies are trained one after another.
  virtual std::unique_ptr<TrainGroup> train_together(const std::vector<Detector*>& copies) { return nullptr; }

  // Inference (evaluation mode, no gradients).
  /// float64 [N] anomaly scores, higher = more anomalous.
  virtual at::Tensor score(const at::Tensor& images) = 0;
  /// float [N, 1, H, W] in [0, 1], for detectors that reconstruct their input.
  virtual std::optional<at::Tensor> reconstruct(const at::Tensor& images) { return std::nullopt; }
  /// float [N, H, W] >= 0, per-pixel contribution to the score, where the method defines one.
  virtual std::optional<at::Tensor> anomaly_map(const at::Tensor& images) { return std::nullopt; }

  /// The device its tensors live on (valid after begin_fit or load).
  virtual c10::Device device() const = 0;
  /// Input shape [C, H, W] it was fitted on.
  virtual std::vector<int64_t> input_shape() const = 0;

  // Persistence of the learned state (weights, centres, thresholds, memory banks).
  virtual void save_state(torch::serialize::OutputArchive& archive) const = 0;
  virtual void load_state(torch::serialize::InputArchive& archive, const c10::Device& device) = 0;
};

/// Writes the detector (name, options, learned state) to one file, atomically.
void save_detector(const Detector& detector, const std::string& path);
/// Rebuilds a detector from a file written by save_detector. Throws Error naming the file when it
/// is missing, not a oneclass detector, damaged, or names an unknown detector.
std::unique_ptr<Detector> load_detector(const std::string& path, const c10::Device& device);

/// For detectors: throws Error naming `detector` when `images` [N, C, H, W] are not of the shape
/// [C, H, W] it was fitted on, and saying how to fix it.
void require_fitted_shape(const std::string& detector, const at::Tensor& images, const std::vector<int64_t>& fitted);

}  // namespace oneclass
