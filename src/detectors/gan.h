#pragma once
// Plumbing shared by the GAN family (anogan, f-anogan, egbad, ganomaly, anovaegan):
//  - the networks, made of the LeNet-type layers of src/nn/lenet.h so that they grow with the image
//    as every convolutional detector here does: a generator (the LeNet decoder from a code z, then a
//    sigmoid) and a discriminator (the LeNet encoder gives the features f_D(x), a linear layer on
//    them the logit, or a WGAN critic's value);
//  - the alternating step: the discriminator's Adam step on every batch, then the generator's
//    (every generator_every() batches), each network with its own Adam;
//  - the training-health record (Detector::training_health): per epoch the mean losses, how much
//    the generated images vary and how many reconstructions still resemble their own input, and
//    the checks that say when a training collapsed or diverged, so that a failed GAN says so instead
//    of silently producing a number;
//  - the images shown after each epoch (Detector::epoch_samples).
// The family's budget, fixed in advance by cost (not by any test result): the LeNet layers at the
// zoo's width 8, a code of z = 32, 10 epochs of batches of 64 (DCGAN's batch); members whose
// training-health record showed they needed more say so in their defaults (egbad and f-anogan
// train at width 16: egbad's training then runs 2.3 times slower at 28 x 28, since the
// convolutions grow with both channel counts).
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "detectors/neural.h"
#include "nn/lenet.h"

namespace oneclass {

/// f_D(x): the LeNet encoder to `shape.rep_dim` features; the logit: a linear layer on their leaky
/// ReLU. `shape.batch_norm` false gives a WGAN-GP critic (its penalty is per image).
class DiscriminatorImpl : public torch::nn::Module {
 public:
  explicit DiscriminatorImpl(const nn::LeNetShape& shape);
  at::Tensor features(const at::Tensor& x) { return encoder(x); }
  at::Tensor logit_of(const at::Tensor& features);  // [N, F] -> [N]
  at::Tensor forward(const at::Tensor& x) { return logit_of(features(x)); }

  nn::LeNetEncoder encoder;
  torch::nn::Linear head{nullptr};
};
TORCH_MODULE(Discriminator);

/// Images in [0, 1] from codes: the LeNet decoder and a sigmoid.
class GeneratorImpl : public torch::nn::Module {
 public:
  explicit GeneratorImpl(const nn::LeNetShape& shape) : decoder(register_module("decoder", nn::LeNetDecoder(shape))) {}
  at::Tensor forward(const at::Tensor& z) { return torch::sigmoid(decoder(z)); }

  nn::LeNetDecoder decoder;
};
TORCH_MODULE(Generator);

/// The parameters of several networks, in order (one optimiser for a generator and its encoders).
std::vector<at::Tensor> parameters_of(const std::vector<torch::nn::Module*>& modules);
/// Binary cross-entropy of logits against a constant label (1 = real), mean over the batch.
at::Tensor bce_against(const at::Tensor& logits, double label);
/// Per-image mean absolute difference, float64 [N].
at::Tensor mean_absolute_per_image(const at::Tensor& a, const at::Tensor& b);
/// Per-image mean squared difference, float64 [N].
at::Tensor mean_squared_per_image(const at::Tensor& a, const at::Tensor& b);

class GanDetector : public NeuralDetector {
 public:
  /// `options` must hold z and width besides NeuralDetector's (validated here).
  GanDetector(std::string name, nlohmann::json options);

  double train_step(const at::Tensor& batch) override;
  nlohmann::json training_health() const override { return health_; }
  std::vector<at::Tensor> epoch_samples() const override;

 protected:
  // What a member of the family defines.
  virtual std::vector<at::Tensor> discriminator_parameters() = 0;
  /// The generator's, and an encoder's where it is trained with the generator.
  virtual std::vector<at::Tensor> generator_parameters() = 0;
  virtual at::Tensor discriminator_loss(const at::Tensor& batch) = 0;
  virtual at::Tensor generator_loss(const at::Tensor& batch) = 0;
  /// The image x is rebuilt as (G(E(x)), or the closest generated image); reconstruct returns it,
  /// and its residual |x - restored| (summed over channels) is the family's pixel map.
  virtual at::Tensor restored(const at::Tensor& x) = 0;
  /// The images shown for an epoch (evaluation mode, no gradients): generated from `noise`, or,
  /// for a GAN that reconstructs, its reconstructions of `images`.
  virtual at::Tensor shown_images(const at::Tensor& noise, const at::Tensor& images) = 0;
  /// True when shown_images are generated from noise (then their spread is checked for mode
  /// collapse); false when they are reconstructions (whose own-input match is checked instead).
  virtual bool shows_generated_images() const { return true; }
  /// True when restored() is cheap and meaningful now, so that the health record checks after each
  /// epoch that reconstructions depend on their input (false for AnoGAN's search, and for f-AnoGAN
  /// before its encoder is trained). After the fit every member is checked once (AnoGAN's search
  /// on 36 images costs about a second at 28 x 28).
  virtual bool restores_cheaply() const { return true; }
  /// Batches per generator step (a WGAN trains its critic several times per generator step).
  virtual int generator_every() const { return 1; }
  /// Adam's betas for both networks; DCGAN's (0.5, 0.999) by default.
  virtual std::pair<double, double> adam_betas() const { return {0.5, 0.999}; }
  /// True when the discriminator's loss is a cross-entropy that falls to 0 when it wins outright
  /// (not a WGAN critic's, which has no floor): the health check then watches for that.
  virtual bool discriminator_loss_is_cross_entropy() const { return true; }
  /// Called after each discriminator step with its loss (GANomaly re-initialises a collapsed one).
  virtual void after_discriminator_step(double loss) {}
  /// NeuralDetector's hooks, which this class uses itself.
  virtual void prepare_gan(const at::Tensor& normal_images, const FitContext& context) {}
  virtual void finish_gan(const at::Tensor& normal_images) {}

  std::optional<at::Tensor> reconstruct_batch(const at::Tensor& images) final;
  std::optional<at::Tensor> anomaly_map_batch(const at::Tensor& images) final;
  void prepare_fit(const at::Tensor& normal_images, const FitContext& context) final;
  void finish_fit(const at::Tensor& normal_images) final;
  /// The generator's loss; NeuralDetector's single-optimiser step, which would use it, is replaced.
  at::Tensor loss(const at::Tensor& batch) final { return generator_loss(batch); }

  int64_t code_size() const { return settings()["z"].get<int64_t>(); }
  /// The LeNet shape of the detector's networks for `input` with `rep_dim` outputs.
  nn::LeNetShape network_shape(const std::vector<int64_t>& input, int64_t rep_dim, bool batch_norm = true) const;
  /// Up to `count` of `normal_images`, drawn at random from the fit's stream (on their device).
  at::Tensor random_images(const at::Tensor& normal_images, int64_t count);
  /// Batches per epoch of the current fit.
  int64_t steps_per_epoch() const { return steps_per_epoch_; }
  /// Counts an event for the health record (e.g. "discriminator_resets").
  void count_event(const std::string& key) { health_[key] = health_.value(key, 0) + 1; }
  /// Ends the GAN's own epochs early (f-AnoGAN's encoder phase follows them): the health record
  /// is closed, the optimisers freed and the networks left in training mode.
  void close_gan_training();

 private:
  void close_epoch();
  void check_health();
  /// The share of the fixed training images whose reconstruction is nearer to them than to any
  /// other of them (evaluation mode, no gradients).
  double own_match();
  void check_reconstructions();

  std::unique_ptr<torch::optim::Adam> discriminator_optimiser_, generator_optimiser_;
  at::Tensor fixed_noise_, fixed_images_;  // what is shown after each epoch
  double real_spread_ = 0;                 // how much the fixed training images vary
  int64_t steps_per_epoch_ = 1, step_ = 0;
  double discriminator_sum_ = 0, generator_sum_ = 0, last_generator_loss_ = 0;
  int64_t discriminator_count_ = 0, generator_count_ = 0;
  bool closed_ = false;
  nlohmann::json health_;
  std::vector<at::Tensor> samples_;  // uint8, a quarter of the memory of the float images
};

}  // namespace oneclass
