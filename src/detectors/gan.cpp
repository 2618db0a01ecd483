#include "detectors/gan.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "oneclass/error.h"

namespace oneclass {
namespace {

namespace F = torch::nn::functional;

constexpr int64_t kShown = 36;  // images shown per epoch: a 6 x 6 grid
// The health checks' limits, fixed in advance from what the losses mean, not from any result:
// a cross-entropy discriminator loss (the mean of the real and fake terms) under 0.01 means it
// tells every generated image from a real one with about 99 % confidence or more: the generator
// has fallen behind and learns little from it; a
// generator loss ten times its lowest epoch means the discriminator has run away from it; generated
// images that vary a quarter as much as real ones have collapsed onto a few modes; a critic whose
// values pass 10^3 (they start near 0 and a working WGAN-GP keeps them within tens) has diverged.
// Reconstructions are not judged by their spread (a blurred one varies less than the data and can
// still follow its input) but by whether each is nearer to its own input than to the other images
// shown: a model that ignores its input matches by chance (1 in 36), a working one most of the time,
// and under a quarter means the reconstructions no longer depend on the input.
constexpr double kDiscriminatorWins = 0.01;
constexpr double kGeneratorGrowth = 10.0;
constexpr double kCollapsedSpread = 0.25;
constexpr double kCollapsedOwnMatch = 0.25;
constexpr double kCriticDiverged = 1e3;

// Per-pixel standard deviation across the images, averaged over the pixels.
double spread_of(const at::Tensor& images) {
  if (images.size(0) < 2) return 0.0;
  return images.flatten(1).to(torch::kDouble).std(0).mean().item<double>();
}

// The share of rows i of `reconstructions` whose nearest row of `inputs` (mean absolute difference)
// is row i.
double share_nearest_own(const at::Tensor& reconstructions, const at::Tensor& inputs) {
  const auto distances = torch::cdist(reconstructions.flatten(1).to(torch::kDouble), inputs.flatten(1).to(torch::kDouble), 1.0);
  const auto own = torch::arange(inputs.size(0), distances.options().dtype(torch::kLong));
  return distances.argmin(1).eq(own).to(torch::kDouble).mean().item<double>();
}

double value_of(const nlohmann::json& record, const char* key) {
  return record.contains(key) && record[key].is_number() ? record[key].get<double>() : std::numeric_limits<double>::quiet_NaN();
}

}  // namespace

DiscriminatorImpl::DiscriminatorImpl(const nn::LeNetShape& shape)
    : encoder(register_module("encoder", nn::LeNetEncoder(shape))),
      head(register_module("head", torch::nn::Linear(shape.rep_dim, 1))) {}

at::Tensor DiscriminatorImpl::logit_of(const at::Tensor& features) {
  return head(F::leaky_relu(features, F::LeakyReLUFuncOptions().negative_slope(0.2))).squeeze(1);
}

std::vector<at::Tensor> parameters_of(const std::vector<torch::nn::Module*>& modules) {
  std::vector<at::Tensor> parameters;
  for (auto* module : modules) {
    for (const auto& p : module->parameters()) parameters.push_back(p);
  }
  return parameters;
}

at::Tensor bce_against(const at::Tensor& logits, double label) {
  return F::binary_cross_entropy_with_logits(logits, torch::full_like(logits, label));
}

at::Tensor mean_absolute_per_image(const at::Tensor& a, const at::Tensor& b) {
  return (a - b).abs().flatten(1).mean(1).to(torch::kDouble);
}

at::Tensor mean_squared_per_image(const at::Tensor& a, const at::Tensor& b) {
  return (a - b).square().flatten(1).mean(1).to(torch::kDouble);
}

GanDetector::GanDetector(std::string name, nlohmann::json options) : NeuralDetector(std::move(name), std::move(options)) {
  if (settings()["z"].get<int64_t>() < 1 || settings()["width"].get<int64_t>() < 2) {
    throw Error(this->name() + ": need z >= 1 and width >= 2 (got z=" + settings()["z"].dump() +
                ", width=" + settings()["width"].dump() + ")");
  }
}

std::optional<at::Tensor> GanDetector::reconstruct_batch(const at::Tensor& images) {
  return in_chunks(images, [&](const at::Tensor& x) { return restored(x); });
}

std::optional<at::Tensor> GanDetector::anomaly_map_batch(const at::Tensor& images) {
  return in_chunks(images, [&](const at::Tensor& x) { return (restored(x) - x).abs().sum(1); });
}

nn::LeNetShape GanDetector::network_shape(const std::vector<int64_t>& input, int64_t rep_dim, bool batch_norm) const {
  nn::LeNetShape shape{input, rep_dim, settings()["width"].get<int64_t>(), batch_norm};
  nn::check_lenet_shape(name(), shape);
  return shape;
}

at::Tensor GanDetector::random_images(const at::Tensor& normal_images, int64_t count) {
  const int64_t kept = std::min(count, normal_images.size(0));
  const auto pick = torch::randperm(normal_images.size(0), generator(), torch::kLong).narrow(0, 0, kept);
  return normal_images.index_select(0, pick.to(normal_images.device()));
}

void GanDetector::prepare_fit(const at::Tensor& normal_images, const FitContext& context) {
  const int64_t batch = settings()["batch_size"].get<int64_t>();
  steps_per_epoch_ = std::max<int64_t>(1, (normal_images.size(0) + batch - 1) / batch);
  step_ = discriminator_count_ = generator_count_ = 0;
  discriminator_sum_ = generator_sum_ = last_generator_loss_ = 0;
  closed_ = false;
  health_ = {{"ok", true}, {"problems", nlohmann::json::array()}, {"epochs", nlohmann::json::array()}};
  samples_.clear();
  const auto [beta1, beta2] = adam_betas();
  const auto adam = [&](const std::vector<at::Tensor>& parameters) {
    return std::make_unique<torch::optim::Adam>(parameters, torch::optim::AdamOptions(settings()["lr"].get<double>())
                                                                .betas({beta1, beta2})
                                                                .weight_decay(settings()["weight_decay"].get<double>()));
  };
  discriminator_optimiser_ = adam(discriminator_parameters());
  generator_optimiser_ = adam(generator_parameters());
  fixed_noise_ = normal_noise({kShown, code_size()});
  fixed_images_ = random_images(normal_images, kShown);
  real_spread_ = spread_of(fixed_images_);
  health_["real_spread"] = real_spread_;
  prepare_gan(normal_images, context);
}

double GanDetector::train_step(const at::Tensor& batch) {
  ++step_;
  discriminator_optimiser_->zero_grad();
  const auto d_loss = discriminator_loss(batch);
  d_loss.backward();
  discriminator_optimiser_->step();
  const double d_value = d_loss.item<double>();
  discriminator_sum_ += d_value;
  ++discriminator_count_;
  after_discriminator_step(d_value);
  if ((step_ - 1) % generator_every() == 0) {
    generator_optimiser_->zero_grad();
    const auto g_loss = generator_loss(batch);
    g_loss.backward();
    generator_optimiser_->step();
    last_generator_loss_ = g_loss.item<double>();
    generator_sum_ += last_generator_loss_;
    ++generator_count_;
  }
  if (!health_.contains("non_finite_step") && (!std::isfinite(d_value) || !std::isfinite(last_generator_loss_))) {
    health_["non_finite_step"] = step_;
  }
  if (step_ % steps_per_epoch_ == 0) close_epoch();
  return last_generator_loss_;
}

void GanDetector::close_epoch() {
  set_training(false);
  at::Tensor shown;
  {
    torch::NoGradGuard no_grad;
    shown = shown_images(fixed_noise_, fixed_images_).to(torch::kCPU).contiguous();
  }
  const double matched = restores_cheaply() ? own_match() : std::numeric_limits<double>::quiet_NaN();
  set_training(true);
  const double spread = spread_of(shown);
  const auto mean = [](double sum, int64_t count) {
    return count > 0 ? sum / static_cast<double>(count) : std::numeric_limits<double>::quiet_NaN();
  };
  nlohmann::json epoch = {{"epoch", health_["epochs"].size() + 1},
                          {"discriminator_loss", mean(discriminator_sum_, discriminator_count_)},
                          {"generator_loss", mean(generator_sum_, generator_count_)},
                          {"spread", real_spread_ > 0 ? spread / real_spread_ : 0.0}};
  if (std::isfinite(matched)) epoch["own_match"] = matched;
  health_["epochs"].push_back(std::move(epoch));
  samples_.push_back(shown.clamp(0, 1).mul(255).round().to(torch::kByte));
  discriminator_sum_ = generator_sum_ = 0;
  discriminator_count_ = generator_count_ = 0;
}

std::vector<at::Tensor> GanDetector::epoch_samples() const {
  std::vector<at::Tensor> images;
  images.reserve(samples_.size());
  for (const auto& s : samples_) images.push_back(s.to(torch::kFloat).div(255));
  return images;
}

double GanDetector::own_match() {
  if (fixed_images_.size(0) < 2) return std::numeric_limits<double>::quiet_NaN();
  const bool was_training = is_training();
  set_training(false);
  at::Tensor rebuilt;
  {
    torch::NoGradGuard no_grad;
    rebuilt = restored(fixed_images_);
  }
  set_training(was_training);
  return share_nearest_own(rebuilt, fixed_images_);
}

void GanDetector::check_health() {
  auto& problems = health_["problems"];
  if (health_.contains("non_finite_step")) {
    problems.push_back(fmt::format("diverged: a loss became NaN or infinite at step {}", health_["non_finite_step"].get<int64_t>()));
  }
  const auto& epochs = health_["epochs"];
  if (!epochs.empty()) {
    const auto& last = epochs.back();
    const auto& value = value_of;
    const double d_last = value(last, "discriminator_loss"), g_last = value(last, "generator_loss");
    if (discriminator_loss_is_cross_entropy()) {
      double g_lowest = std::numeric_limits<double>::infinity();
      for (const auto& epoch : epochs) g_lowest = std::min(g_lowest, value(epoch, "generator_loss"));
      if (d_last < kDiscriminatorWins) {
        problems.push_back(fmt::format("discriminator wins: its loss is {:.2g} in the last epoch (below {}), so the "
                                       "generator no longer learns", d_last, kDiscriminatorWins));
      }
      if (g_lowest > 0 && g_last > kGeneratorGrowth * g_lowest) {
        problems.push_back(fmt::format("generator loss exploded: {:.4g} in the last epoch, {:.4g} at its lowest", g_last, g_lowest));
      }
    } else if (std::abs(d_last) > kCriticDiverged || std::abs(g_last) > kCriticDiverged) {
      problems.push_back(fmt::format("critic diverged: critic loss {:.4g}, generator loss {:.4g} in the last epoch "
                                     "(a working critic stays within tens)", d_last, g_last));
    }
    const double spread = value(last, "spread");
    if (shows_generated_images() && spread < kCollapsedSpread) {
      problems.push_back(fmt::format("mode collapse: the images generated after the last epoch vary {:.2f} times as "
                                     "much as training images (below {})", spread, kCollapsedSpread));
    }
  }
  health_["ok"] = problems.empty();
}

// After the whole fit (f-AnoGAN's encoder is trained after the GAN's epochs): do reconstructions
// still follow their input?
void GanDetector::check_reconstructions() {
  const double matched = own_match();
  if (!std::isfinite(matched)) return;
  health_["own_match"] = matched;
  if (matched < kCollapsedOwnMatch) {
    const auto shown = fixed_images_.size(0);
    health_["problems"].push_back(fmt::format(
        "mode collapse: the reconstructions ignore their input: {} of {} training images are nearer to their own "
        "reconstruction than to the other {} (chance: 1; below {:.0f} % is a collapse)",
        static_cast<int64_t>(std::lround(matched * static_cast<double>(shown))), shown, shown - 1, 100 * kCollapsedOwnMatch));
  }
  health_["ok"] = health_["problems"].empty();
}

void GanDetector::close_gan_training() {
  if (closed_) return;
  closed_ = true;
  check_health();
  discriminator_optimiser_.reset();
  generator_optimiser_.reset();
}

void GanDetector::finish_fit(const at::Tensor& normal_images) {
  close_gan_training();
  check_reconstructions();
  fixed_noise_ = fixed_images_ = at::Tensor();
  finish_gan(normal_images);
}

}  // namespace oneclass
