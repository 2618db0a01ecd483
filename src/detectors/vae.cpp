// vae: variational autoencoder (Kingma & Welling 2014) with a Bernoulli decoder on [0, 1] pixels,
// trained on normal images by the evidence lower bound (ELBO). Two networks (option arch):
//   mlp:  D-512-256-(2z) encoder, z-256-512-D decoder, ReLU
//   conv: the LeNet-type encoder and decoder of src/nn/lenet.h
// Scores (option score), higher = more anomalous:
//   recon       squared error of the decoder's mean at the code's mean
//   recon-prob  minus the log of An & Cho 2015's reconstruction probability
//               1/L sum_l p(x | z_l), z_l drawn from q(z | x) (L = samples)
//   elbo        the negative ELBO, estimated with the same samples:
//               -1/L sum_l log p(x | z_l) + KL(q(z | x) || N(0, I))
// The L noise vectors are drawn once at fit time and stored, so a score does not depend on the
// batch or on the order of scoring. Pixel map: |x - decoder mean at the code's mean|.
#include <cmath>
#include <functional>

#include "detectors/neural.h"
#include "nn/lenet.h"
#include "oneclass/detectors/registry.h"
#include "oneclass/error.h"

namespace oneclass {
namespace {

namespace F = torch::nn::functional;

class VaeNetworkImpl : public torch::nn::Module {
 public:
  VaeNetworkImpl(const std::string& arch, const std::vector<int64_t>& input_shape, int64_t z) : z_(z) {
    if (arch == "conv") {
      auto encoder = register_module("encoder", nn::LeNetEncoder(nn::LeNetShape{input_shape, 2 * z}));
      auto decoder = register_module("decoder", nn::LeNetDecoder(nn::LeNetShape{input_shape, z}));
      encode_ = [encoder](const at::Tensor& x) mutable { return encoder->forward(x); };
      decode_ = [decoder](const at::Tensor& code) mutable { return decoder->forward(code); };
      return;
    }
    const int64_t d = input_shape[0] * input_shape[1] * input_shape[2];
    auto encoder = register_module(
        "encoder", torch::nn::Sequential(torch::nn::Flatten(), torch::nn::Linear(d, 512), torch::nn::ReLU(),
                                         torch::nn::Linear(512, 256), torch::nn::ReLU(), torch::nn::Linear(256, 2 * z)));
    auto decoder = register_module(
        "decoder", torch::nn::Sequential(torch::nn::Linear(z, 256), torch::nn::ReLU(), torch::nn::Linear(256, 512),
                                         torch::nn::ReLU(), torch::nn::Linear(512, d),
                                         torch::nn::Unflatten(1, std::vector<int64_t>(input_shape))));
    encode_ = [encoder](const at::Tensor& x) mutable { return encoder->forward(x); };
    decode_ = [decoder](const at::Tensor& code) mutable { return decoder->forward(code); };
  }

  /// Mean and log-variance of q(z | x), each [N, z].
  std::pair<at::Tensor, at::Tensor> encode(const at::Tensor& x) {
    const auto h = encode_(x);
    return {h.narrow(1, 0, z_), h.narrow(1, z_, z_).clamp(-20, 20)};
  }
  at::Tensor decode_logits(const at::Tensor& z) { return decode_(z); }

 private:
  int64_t z_;
  std::function<at::Tensor(const at::Tensor&)> encode_, decode_;
};
TORCH_MODULE(VaeNetwork);

// -log p(x | z) for a Bernoulli decoder, summed over pixels: [N].
at::Tensor negative_log_likelihood(const at::Tensor& logits, const at::Tensor& x) {
  return F::binary_cross_entropy_with_logits(logits, x, F::BinaryCrossEntropyWithLogitsFuncOptions().reduction(torch::kNone))
      .flatten(1)
      .sum(1);
}

at::Tensor kl_to_standard_normal(const at::Tensor& mean, const at::Tensor& log_variance) {
  return 0.5 * (mean.square() + log_variance.exp() - 1 - log_variance).sum(1);
}

class VariationalAutoencoder final : public NeuralDetector {
 public:
  explicit VariationalAutoencoder(const nlohmann::json& given)
      : NeuralDetector("vae", merge_options("vae", defaults(), given)) {
    const auto& s = settings();
    const auto arch = s["arch"].get<std::string>(), score = s["score"].get<std::string>();
    if ((arch != "mlp" && arch != "conv") || (score != "recon" && score != "recon-prob" && score != "elbo") ||
        s["z"].get<int64_t>() < 1 || s["samples"].get<int64_t>() < 1) {
      throw Error("vae: need arch mlp or conv, score recon, recon-prob or elbo, z >= 1, samples >= 1 (got " + s.dump() + ")");
    }
  }

  // Fixed in advance: a small code, An & Cho's score with 10 samples, Adam as for the autoencoders.
  static nlohmann::json defaults() {
    return {{"arch", "conv"}, {"z", 16},        {"score", "recon-prob"}, {"samples", 10},
            {"epochs", 10},   {"batch_size", 128}, {"lr", 1e-3},         {"weight_decay", 0.0}};
  }

 protected:
  std::optional<at::Tensor> reconstruct_batch(const at::Tensor& images) override {
    return in_chunks(images, [&](const at::Tensor& x) { return mean_reconstruction(x); });
  }
  std::optional<at::Tensor> anomaly_map_batch(const at::Tensor& images) override {
    return in_chunks(images, [&](const at::Tensor& x) { return (mean_reconstruction(x) - x).abs().sum(1); });
  }

  std::shared_ptr<torch::nn::Module> build(const std::vector<int64_t>& input_shape) override {
    const auto arch = settings()["arch"].get<std::string>();
    const int64_t z = settings()["z"].get<int64_t>();
    if (arch == "conv") nn::check_lenet_shape("vae", nn::LeNetShape{input_shape, z});
    network_ = VaeNetwork(arch, input_shape, z);
    network_->register_buffer("score_noise", torch::zeros({settings()["samples"].get<int64_t>(), z}));
    return network_.ptr();
  }

  void prepare_fit(const at::Tensor&, const FitContext&) override {
    network_->named_buffers()["score_noise"].copy_(normal_noise(network_->named_buffers()["score_noise"].sizes().vec()));
  }

  // The negative ELBO with one reparameterised sample per image.
  at::Tensor loss(const at::Tensor& batch) override {
    const auto [mean, log_variance] = network_->encode(batch);
    const auto z = mean + (0.5 * log_variance).exp() * normal_noise(mean.sizes().vec());
    return (negative_log_likelihood(network_->decode_logits(z), batch) + kl_to_standard_normal(mean, log_variance)).mean();
  }

  at::Tensor score_chunk(const at::Tensor& images) override {
    const auto kind = settings()["score"].get<std::string>();
    if (kind == "recon") return squared_error_per_image(mean_reconstruction(images), images);
    const auto [mean, log_variance] = network_->encode(images);
    const auto noise = network_->named_buffers()["score_noise"];
    // log p(x | z_l) for each of the L samples: [L, N].
    std::vector<at::Tensor> log_likelihoods;
    for (int64_t l = 0; l < noise.size(0); ++l) {
      const auto z = mean + (0.5 * log_variance).exp() * noise[l];
      log_likelihoods.push_back(-negative_log_likelihood(network_->decode_logits(z), images).to(torch::kDouble));
    }
    const auto per_sample = torch::stack(log_likelihoods);
    const double samples = static_cast<double>(noise.size(0));
    // An & Cho average the probabilities p(x | z_l), not their logarithms: log of the mean, in logs.
    if (kind == "recon-prob") return -(torch::logsumexp(per_sample, 0) - std::log(samples));
    const auto expected_nll = -per_sample.mean(0);
    return expected_nll + kl_to_standard_normal(mean, log_variance).to(torch::kDouble);
  }

 private:
  at::Tensor mean_reconstruction(const at::Tensor& x) { return torch::sigmoid(network_->decode_logits(network_->encode(x).first)); }

  VaeNetwork network_{nullptr};
};

}  // namespace

DetectorEntry vae_entry() {
  return {"vae",
          "variational autoencoder (MLP or LeNet-type); score = reconstruction probability (An & Cho 2015), "
          "negative ELBO or reconstruction error",
          [](const nlohmann::json& options) -> std::unique_ptr<Detector> {
            return std::make_unique<VariationalAutoencoder>(options);
          },
          /*tiny_options=*/{{"epochs", 30}, {"batch_size", 16}, {"z", 4}},
          /*scores=*/{"recon-prob", "elbo", "recon"}};
}

}  // namespace oneclass
