#pragma once
// Plumbing shared by the detectors built from torch::nn modules and trained by autograd with Adam
// (conv-ae, arnet, memae, vae, deep-svdd, deep-sad, geom): options, device, seeded initialisation
// and randomness, the optimisation step, evaluation mode, chunked scoring, and save / load with
// every stored tensor's shape checked. A subclass builds its network and defines its loss and score.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "oneclass/detectors/detector.h"

namespace oneclass {

class NeuralDetector : public Detector {
 public:
  /// `options` must hold epochs, batch_size, lr and weight_decay (validated here).
  NeuralDetector(std::string name, nlohmann::json options);

  TrainPlan plan() const override;
  /// Adam on loss(batch); returns its value.
  double train_step(const at::Tensor& batch) override;
  void end_fit(const at::Tensor& normal_images) override;

 protected:
  void prepare(const at::Tensor& normal_images, const FitContext& context) override;
  at::Tensor score_batch(const at::Tensor& images) override;
  void save_state(torch::serialize::OutputArchive& archive) const override;
  void load_state(torch::serialize::InputArchive& archive) override;

  /// Builds the untrained network for images of `input_shape` [C, H, W] (called under the fit's
  /// seed, and again on load); returns the module that holds every learned tensor.
  virtual std::shared_ptr<torch::nn::Module> build(const std::vector<int64_t>& input_shape) = 0;
  /// Training loss of a batch (training mode, gradients on).
  virtual at::Tensor loss(const at::Tensor& batch) = 0;
  /// float64 [N] scores of a chunk of images (evaluation mode, no gradients).
  virtual at::Tensor score_chunk(const at::Tensor& images) = 0;
  /// Hooks: after the network is built for a fit; after the last step (in evaluation mode).
  virtual void prepare_fit(const at::Tensor& normal_images, const FitContext& context) {}
  virtual void finish_fit(const at::Tensor& normal_images) {}
  /// True when the network runs on oneclass's own CPU kernels (the LeNet layers, src/nn/lenet.h);
  /// false keeps LibTorch's, in channels-last layout, which suits wider layers better.
  virtual bool runs_own_kernels() const { return true; }
  /// Learned tensors outside the module (a centre, a radius); sizes checked by the subclass.
  virtual void save_extra(torch::serialize::OutputArchive& archive) const {}
  virtual void load_extra(torch::serialize::InputArchive& archive) {}

  /// Applies `per_chunk` to chunks of `images` (on the device, evaluation mode, no gradients) and
  /// concatenates the results along dimension 0.
  at::Tensor in_chunks(const at::Tensor& images, const std::function<at::Tensor(const at::Tensor&)>& per_chunk);
  /// Optimises `parameters` from now on (a detector with phases, e.g. pretraining, switches).
  void optimise(const std::vector<at::Tensor>& parameters);
  /// The fit's own random stream (CPU), seeded from FitContext::seed: noise, transformations.
  at::Generator& generator() { return generator_; }
  /// Standard normal noise of `sizes` from generator(), on the device.
  at::Tensor normal_noise(const std::vector<int64_t>& sizes);
  const nlohmann::json& settings() const { return options(); }
  /// Training (true) or evaluation mode of the whole network, e.g. to look at it between epochs.
  void set_training(bool training) { module_->train(training); }
  bool is_training() const { return module_->is_training(); }

 private:
  std::shared_ptr<torch::nn::Module> module_;
  std::unique_ptr<torch::optim::Adam> optimizer_;
  at::Generator generator_;
};

/// Squared error per image, float64 [N]: the reconstruction score of the autoencoders.
at::Tensor squared_error_per_image(const at::Tensor& reconstruction, const at::Tensor& images);

/// The 90-degree rotations used by the self-supervised detectors: `images` [N, C, H, W] (square)
/// turned counter-clockwise `quarter_turns` times.
at::Tensor rotate_quarter_turns(const at::Tensor& images, int64_t quarter_turns);

}  // namespace oneclass
