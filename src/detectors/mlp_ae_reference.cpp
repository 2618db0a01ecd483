// mlp-ae, impl=reference: the original experiment's autoencoder as it would be written in PyTorch,
// a torch::nn module trained by autograd and torch::optim::Adam. This is the code to read; the
// default implementation (mlp_ae.cpp, src/nn/) computes the same model with a hand-written
// training step, and the tests hold it to this one.
//   encoder D-256-128-z: Linear + ReLU, Linear + ReLU, Linear (linear bottleneck)
//   decoder z-128-256-D: Linear + ReLU, Linear + ReLU, Linear + Tanh
//   training: pixels scaled to [-1, 1], mean squared error, Adam(lr, weight_decay)
//   score: sum over pixels of |x - x_hat| (l1) or (x - x_hat)^2 (l2), on the [0, 1] scale
// NeuralDetector does the rest: the seeded initialisation (LibTorch's default, as PyTorch's
// nn.Linear), Adam, evaluation mode, no gradients when scoring, save and load.
#include "detectors/mlp_ae_reference.h"

#include "detectors/neural.h"

namespace oneclass {
namespace {

torch::nn::Sequential linear_stack(const std::vector<int64_t>& widths, torch::nn::AnyModule last_activation) {
  torch::nn::Sequential layers;
  for (size_t i = 0; i + 1 < widths.size(); ++i) {
    layers->push_back(torch::nn::Linear(widths[i], widths[i + 1]));
    const bool last = i + 2 == widths.size();
    if (!last) layers->push_back(torch::nn::ReLU());
  }
  if (!last_activation.is_empty()) layers->push_back(std::move(last_activation));
  return layers;
}

class AutoencoderImpl : public torch::nn::Module {
 public:
  AutoencoderImpl(int64_t pixels, int64_t z)
      : encoder(register_module("encoder", linear_stack({pixels, 256, 128, z}, {}))),
        decoder(register_module("decoder", linear_stack({z, 128, 256, pixels}, torch::nn::AnyModule(torch::nn::Tanh())))) {}

  // x [N, D] in [-1, 1] -> reconstruction [N, D] in [-1, 1]
  at::Tensor forward(const at::Tensor& x) { return decoder->forward(encoder->forward(x)); }

  torch::nn::Sequential encoder, decoder;
};
TORCH_MODULE(Autoencoder);

class ReferenceMlpAutoencoder final : public NeuralDetector {
 public:
  explicit ReferenceMlpAutoencoder(nlohmann::json options) : NeuralDetector("mlp-ae", std::move(options)) {}

 protected:
  std::shared_ptr<torch::nn::Module> build(const std::vector<int64_t>& input_shape) override {
    network_ = Autoencoder(input_shape[0] * input_shape[1] * input_shape[2], settings()["z"].get<int64_t>());
    return network_.ptr();
  }

  at::Tensor loss(const at::Tensor& batch) override {
    const auto x = to_network_scale(batch);
    return torch::mse_loss(network_(x), x);
  }

  at::Tensor score_chunk(const at::Tensor& images) override {
    return pixel_errors(images).flatten(1).sum(1).to(torch::kDouble);
  }

  std::optional<at::Tensor> reconstruct_batch(const at::Tensor& images) override {
    return in_chunks(images, [&](const at::Tensor& x) { return reconstruction(x); });
  }

  std::optional<at::Tensor> anomaly_map_batch(const at::Tensor& images) override {
    return in_chunks(images, [&](const at::Tensor& x) { return pixel_errors(x).sum(1); });  // [N, H, W]
  }

 private:
  // [N, C, H, W] in [0, 1] -> [N, D] in [-1, 1]
  static at::Tensor to_network_scale(const at::Tensor& images) { return images.flatten(1) * 2.0 - 1.0; }

  // [N, C, H, W] in [0, 1]
  at::Tensor reconstruction(const at::Tensor& images) {
    return ((network_(to_network_scale(images)) + 1.0) * 0.5).view(images.sizes());
  }

  // Per-pixel error on the [0, 1] scale, [N, C, H, W].
  at::Tensor pixel_errors(const at::Tensor& images) {
    const auto error = reconstruction(images) - images;
    return settings()["score"] == "l1" ? error.abs() : error.square();
  }

  Autoencoder network_{nullptr};
};

}  // namespace

std::unique_ptr<Detector> make_reference_mlp_autoencoder(nlohmann::json options) {
  return std::make_unique<ReferenceMlpAutoencoder>(std::move(options));
}

}  // namespace oneclass
