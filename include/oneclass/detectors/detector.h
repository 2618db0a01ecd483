#pragma once
// The detector contract. Every detector, from an autoencoder to a k-nearest-neighbour baseline:
//   construct with options -> fit (driven by train::fit) -> score (higher = more anomalous)
//   -> optional reconstruction and per-pixel anomaly map -> save / load restoring identical scores.
// Images are float tensors [N, C, H, W] with values in [0, 1].
#include <cstdint>
#include <functional>
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

/// What the training loop needs to know; epochs == 0 means the detector learns in prepare alone
/// (e.g. a memory bank), and train_step is never called.
struct TrainPlan {
  int epochs = 0;
  int batch_size = 0;
};

class Detector;

/// Where and how a fit runs; filled by the training loop.
struct FitContext {
  c10::Device device = c10::Device(c10::kCPU);
  uint64_t seed = 0;
  /// Training images of anomaly classes, [K, C, H, W], for a detector whose
  /// labeled_anomalies_wanted() is K > 0 (semi-supervised, e.g. Deep SAD); undefined otherwise.
  at::Tensor labeled_anomalies;
  /// Fits another detector (an ensemble's member) on `images` with `seed`, as the training loop
  /// fits any detector; set by the loop, so that detectors never call the loop themselves.
  std::function<void(Detector& member, const at::Tensor& images, uint64_t seed)> fit_member;
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
  Detector(const Detector&) = delete;
  Detector& operator=(const Detector&) = delete;

  // What every detector has; stored here, so a detector declares only what is its own.
  /// Registry name, e.g. "mlp-ae".
  const std::string& name() const { return name_; }
  /// Every hyper-parameter with its resolved value; saved with the weights so load can rebuild it.
  const nlohmann::json& options() const { return options_; }
  /// The device its tensors live on (valid after begin_fit or load).
  c10::Device device() const { return device_; }
  /// Input shape [C, H, W] it was fitted on; empty before begin_fit or load.
  const std::vector<int64_t>& input_shape() const { return input_shape_; }

  virtual TrainPlan plan() const = 0;
  /// How many labelled anomalies (training images of the anomaly classes) the detector learns
  /// from; the caller draws them, seeded, and passes them in FitContext. 0 for one-class detectors.
  virtual int64_t labeled_anomalies_wanted() const { return 0; }

  // Training. The loop owns epochs, batches, shuffling, seeding and progress; the detector owns
  // its networks and optimisation step (a GAN has two optimisers, kNN none).
  /// Records the device and the input shape, then calls prepare().
  void begin_fit(const at::Tensor& normal_images, const FitContext& context);
  /// One optimisation step on a batch; returns the batch's mean loss.
  virtual double train_step(const at::Tensor& batch) { return 0.0; }
  /// Called once after the last epoch (e.g. to fix a centre or switch to evaluation mode).
  virtual void end_fit(const at::Tensor& normal_images) {}
  /// Optional batched training: a group over `copies` (this detector among them; all of this
  /// kind with equal options; after begin_fit, before any train_step). Each copy must end as if
  /// it had been trained alone on the same batches, up to float rounding. nullptr (the default):
  /// the copies are trained one after another.
  virtual std::unique_ptr<TrainGroup> train_together(const std::vector<Detector*>& copies) { return nullptr; }
  /// What the last fit's training looked like, for a detector whose training can fail without an
  /// error (a GAN that collapses or diverges): {"ok": bool, "problems": [text, ...], and the figures
  /// the checks read}. null (the default): nothing to report. Not saved with the detector.
  virtual nlohmann::json training_health() const { return nullptr; }
  /// Images the detector made after each epoch of the last fit, oldest first (a GAN's samples from
  /// fixed noise), each float [K, C, H, W] in [0, 1]; empty (the default) for the others.
  virtual std::vector<at::Tensor> epoch_samples() const { return {}; }

  // Inference (evaluation mode, no gradients). Each checks that the detector is fitted and that
  // `images` [N, C, H, W] have its input shape (an Error naming the detector and both shapes
  // otherwise); an empty batch gives an empty result.
  /// float64 [N] anomaly scores, higher = more anomalous.
  at::Tensor score(const at::Tensor& images);
  /// float [N, C, H, W] in [0, 1], for detectors that reconstruct their input.
  std::optional<at::Tensor> reconstruct(const at::Tensor& images);
  /// float [N, H, W] >= 0, per-pixel contribution to the score, where the method defines one.
  std::optional<at::Tensor> anomaly_map(const at::Tensor& images);

  /// The learned state (weights, centres, thresholds, memory banks) with the input shape.
  void save(torch::serialize::OutputArchive& archive) const;
  /// Restores what save wrote, onto `device`; the stored input shape is checked and bounded
  /// before anything is sized from it. Throws Error naming the detector when it does not fit.
  void load(torch::serialize::InputArchive& archive, const c10::Device& device);

 protected:
  Detector(std::string name, nlohmann::json options);

  /// Builds what fitting needs (networks, optimisers, memory banks); device() and input_shape()
  /// are already set.
  virtual void prepare(const at::Tensor& normal_images, const FitContext& context) = 0;
  /// The detector's own scoring of a non-empty batch of checked shape.
  virtual at::Tensor score_batch(const at::Tensor& images) = 0;
  virtual std::optional<at::Tensor> reconstruct_batch(const at::Tensor& images) { return std::nullopt; }
  virtual std::optional<at::Tensor> anomaly_map_batch(const at::Tensor& images) { return std::nullopt; }
  /// Its learned state beyond the input shape; load_state runs with device() and input_shape() set.
  virtual void save_state(torch::serialize::OutputArchive& archive) const = 0;
  virtual void load_state(torch::serialize::InputArchive& archive) = 0;

  /// C * H * W of the input shape.
  int64_t input_size() const;

 private:
  void require_input(const at::Tensor& images) const;

  std::string name_;
  nlohmann::json options_;
  c10::Device device_ = c10::Device(c10::kCPU);
  std::vector<int64_t> input_shape_;
};

/// Writes the detector (name, options, learned state) to one file, atomically.
void save_detector(const Detector& detector, const std::string& path);
/// Rebuilds a detector from a file written by save_detector. Throws Error naming the file when it
/// is missing, not a oneclass detector, damaged, or names an unknown detector.
std::unique_ptr<Detector> load_detector(const std::string& path, const c10::Device& device);


}  // namespace oneclass
