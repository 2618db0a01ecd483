// Convolutional autoencoders on the LeNet-type network of Deep SVDD (src/nn/lenet.h).
//
// conv-ae: the DCAE baseline of Ruff et al. 2018: trained to reconstruct normal images (squared
//   error summed over pixels); score = squared reconstruction error; pixel map = |x - x_hat|.
// arnet: attribute restoration (Ye et al., ARNet): the orientation of each training image is
//   erased by a random quarter turn and the same network learns to restore the upright image.
//   Restoring needs to know what upright normal images look like, so an anomaly is restored
//   badly. score = squared restoration error averaged over the four turns; pixel map = the mean
//   |x - restored|. (ARNet also erases colour; the data sets here are grey.)
#include "detectors/neural.h"
#include "nn/lenet.h"
#include "oneclass/detectors/registry.h"
#include "oneclass/error.h"

namespace oneclass {
namespace {

class LeNetAutoencoderImpl : public torch::nn::Module {
 public:
  explicit LeNetAutoencoderImpl(const nn::LeNetShape& shape)
      : encoder(register_module("encoder", nn::LeNetEncoder(shape))),
        decoder(register_module("decoder", nn::LeNetDecoder(shape))) {}
  at::Tensor forward(const at::Tensor& x) { return torch::sigmoid(decoder(encoder(x))); }

  nn::LeNetEncoder encoder;
  nn::LeNetDecoder decoder;
};
TORCH_MODULE(LeNetAutoencoder);

// Settings fixed in advance: Ruff et al.'s network and optimiser; epochs cut to what a laptop
// benchmark affords (they pretrain for 250).
nlohmann::json autoencoder_defaults() {
  return {{"rep_dim", 32}, {"width", 8}, {"epochs", 10}, {"batch_size", 128}, {"lr", 1e-3}, {"weight_decay", 5e-7}};
}

class ConvAutoencoder : public NeuralDetector {
 public:
  ConvAutoencoder(const std::string& name, const nlohmann::json& given)
      : NeuralDetector(name, merge_options(name, autoencoder_defaults(), given)) {}

 protected:
  std::optional<at::Tensor> reconstruct_batch(const at::Tensor& images) override {
    return in_chunks(images, [&](const at::Tensor& x) { return network_(x); });
  }
  std::optional<at::Tensor> anomaly_map_batch(const at::Tensor& images) override {
    return in_chunks(images, [&](const at::Tensor& x) { return (network_(x) - x).abs().sum(1); });
  }

  std::shared_ptr<torch::nn::Module> build(const std::vector<int64_t>& input_shape) override {
    const auto shape = nn::lenet_shape(name(), input_shape, settings());
    network_ = LeNetAutoencoder(shape);
    return network_.ptr();
  }
  at::Tensor loss(const at::Tensor& batch) override {
    return squared_error_per_image(network_(batch), batch).mean().to(torch::kFloat);
  }
  at::Tensor score_chunk(const at::Tensor& images) override { return squared_error_per_image(network_(images), images); }

  LeNetAutoencoder network_{nullptr};
};

class AttributeRestoration final : public ConvAutoencoder {
 public:
  explicit AttributeRestoration(const nlohmann::json& given) : ConvAutoencoder("arnet", given) {}

 protected:
  std::optional<at::Tensor> anomaly_map_batch(const at::Tensor& images) override {
    return in_chunks(images, [&](const at::Tensor& x) {
      auto total = torch::zeros_like(x.select(1, 0));
      for (int64_t turns = 0; turns < 4; ++turns) total += (network_(rotate_quarter_turns(x, turns)) - x).abs().sum(1);
      return total / 4.0;
    });
  }

  std::shared_ptr<torch::nn::Module> build(const std::vector<int64_t>& input_shape) override {
    if (input_shape.size() == 3 && input_shape[1] != input_shape[2]) {
      throw Error("arnet: erases orientation by quarter turns, which needs square images (got " +
                  c10::str(c10::IntArrayRef(input_shape)) + "); resize them");
    }
    return ConvAutoencoder::build(input_shape);
  }
  // Each image turned by its own random number of quarter turns; the target is the upright image.
  at::Tensor loss(const at::Tensor& batch) override {
    const auto turns = torch::randint(4, {batch.size(0)}, generator(), torch::kLong);
    auto erased = batch.clone();
    for (int64_t t = 1; t < 4; ++t) {
      const auto rows = turns.eq(t).nonzero().squeeze(1).to(batch.device());
      if (rows.numel() > 0) erased.index_copy_(0, rows, rotate_quarter_turns(batch.index_select(0, rows), t));
    }
    return squared_error_per_image(network_(erased), batch).mean().to(torch::kFloat);
  }
  at::Tensor score_chunk(const at::Tensor& images) override {
    auto total = torch::zeros({images.size(0)}, images.options().dtype(torch::kDouble));
    for (int64_t turns = 0; turns < 4; ++turns) {
      total += squared_error_per_image(network_(rotate_quarter_turns(images, turns)), images);
    }
    return total / 4.0;
  }
};

}  // namespace

DetectorEntry conv_ae_entry() {
  return {"conv-ae",
          "LeNet-type convolutional autoencoder (Ruff et al. 2018's DCAE); score = squared reconstruction error",
          [](const nlohmann::json& options) -> std::unique_ptr<Detector> {
            return std::make_unique<ConvAutoencoder>("conv-ae", options);
          },
          /*tiny_options=*/{{"epochs", 30}, {"batch_size", 16}, {"rep_dim", 8}, {"width", 4}}};
}

DetectorEntry arnet_entry() {
  return {"arnet",
          "attribute restoration (Ye et al.): restores images turned by random quarter turns; score = mean "
          "restoration error over the four turns",
          [](const nlohmann::json& options) -> std::unique_ptr<Detector> {
            return std::make_unique<AttributeRestoration>(options);
          },
          /*tiny_options=*/{{"epochs", 30}, {"batch_size", 16}, {"rep_dim", 8}, {"width", 4}}};
}

}  // namespace oneclass
