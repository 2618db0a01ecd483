// memae: memory-augmented autoencoder (Gong et al. 2019) on the LeNet-type network. The decoder
// sees not the encoder's code z but a mix of learned memory items: soft attention w over the
// items, hard-shrunk (w_i -> max(w_i - lambda, 0) w_i / |w_i - lambda|, then renormalised) so
// that only a few items take part. Trained on normal images, the memory holds normal patterns,
// so even an anomaly is reconstructed as something normal and its error stays large.
//   loss = squared reconstruction error + alpha * entropy(w); score = squared reconstruction
//   error; pixel map = |x - x_hat|.
#include "detectors/neural.h"
#include "nn/lenet.h"
#include "oneclass/detectors/registry.h"
#include "oneclass/error.h"

namespace oneclass {
namespace {

constexpr double kShrinkEps = 1e-12;

class MemoryAutoencoderImpl : public torch::nn::Module {
 public:
  MemoryAutoencoderImpl(const nn::LeNetShape& shape, int64_t slots, double shrink)
      : encoder(register_module("encoder", nn::LeNetEncoder(shape))),
        decoder(register_module("decoder", nn::LeNetDecoder(shape))),
        shrink_(shrink) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(shape.rep_dim));
    memory = register_parameter("memory", torch::empty({slots, shape.rep_dim}).uniform_(-bound, bound));
  }

  /// Reconstruction in [0, 1] and the shrunk addressing weights [N, slots].
  std::pair<at::Tensor, at::Tensor> forward(const at::Tensor& x) {
    auto weights = torch::softmax(encoder(x).mm(memory.t()), 1);
    weights = torch::relu(weights - shrink_) * weights / ((weights - shrink_).abs() + kShrinkEps);
    weights = weights / weights.sum(1, /*keepdim=*/true).clamp_min(kShrinkEps);
    return {torch::sigmoid(decoder(weights.mm(memory))), weights};
  }

  nn::LeNetEncoder encoder;
  nn::LeNetDecoder decoder;
  at::Tensor memory;

 private:
  double shrink_;
};
TORCH_MODULE(MemoryAutoencoder);

class MemoryAugmentedAutoencoder final : public NeuralDetector {
 public:
  explicit MemoryAugmentedAutoencoder(const nlohmann::json& given)
      : NeuralDetector("memae", merge_options("memae", defaults(), given)) {
    const auto& s = settings();
    if (s["slots"].get<int64_t>() < 1 || s["shrink"].get<double>() < 0 || s["entropy_weight"].get<double>() < 0) {
      throw Error("memae: need slots >= 1, shrink >= 0 and entropy_weight >= 0 (got " + s.dump() + ")");
    }
  }

  // Gong et al.'s entropy weight 0.0002 and, for the default 100 slots, a shrink threshold of 1/N
  // (the low end of their [1/N, 3/N]; it does not follow `slots`). Items are addressed by dot
  // product, as in their released code. The network and optimiser are conv-ae's, so the two
  // compare like for like.
  static nlohmann::json defaults() {
    return {{"rep_dim", 32},   {"width", 8},       {"slots", 100}, {"shrink", 0.01}, {"entropy_weight", 2e-4},
            {"epochs", 10},    {"batch_size", 128}, {"lr", 1e-3},  {"weight_decay", 5e-7}};
  }

 protected:
  std::optional<at::Tensor> reconstruct_batch(const at::Tensor& images) override {
    return in_chunks(images, [&](const at::Tensor& x) { return network_(x).first; });
  }
  std::optional<at::Tensor> anomaly_map_batch(const at::Tensor& images) override {
    return in_chunks(images, [&](const at::Tensor& x) { return (network_(x).first - x).abs().sum(1); });
  }

  std::shared_ptr<torch::nn::Module> build(const std::vector<int64_t>& input_shape) override {
    const auto shape = nn::lenet_shape("memae", input_shape, settings());
    network_ = MemoryAutoencoder(shape, settings()["slots"].get<int64_t>(), settings()["shrink"].get<double>());
    return network_.ptr();
  }

  at::Tensor loss(const at::Tensor& batch) override {
    const auto [reconstruction, weights] = network_(batch);
    const auto entropy = -(weights * (weights + kShrinkEps).log()).sum(1);
    return (squared_error_per_image(reconstruction, batch).to(torch::kFloat) +
            settings()["entropy_weight"].get<double>() * entropy)
        .mean();
  }

  at::Tensor score_chunk(const at::Tensor& images) override {
    return squared_error_per_image(network_(images).first, images);
  }

 private:
  MemoryAutoencoder network_{nullptr};
};

}  // namespace

DetectorEntry memae_entry() {
  return {"memae",
          "memory-augmented autoencoder (Gong et al. 2019); score = squared reconstruction error",
          [](const nlohmann::json& options) -> std::unique_ptr<Detector> {
            return std::make_unique<MemoryAugmentedAutoencoder>(options);
          },
          /*tiny_options=*/{{"epochs", 30}, {"batch_size", 16}, {"rep_dim", 8}, {"width", 4}, {"slots", 10}, {"shrink", 0.05}}};
}

}  // namespace oneclass
