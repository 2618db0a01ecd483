// Deep SVDD (Ruff et al. 2018) and Deep SAD (Ruff et al. 2020) on the LeNet-type network.
//
// deep-svdd: a bias-free encoder maps normal images into a small hypersphere around a centre c.
//   Training has two phases: the encoder is first pretrained as part of an autoencoder; then c is
//   fixed to the mean code of the training images (coordinates closer than 0.1 to zero are pushed
//   to +-0.1, else a unit could die and still fit c), and the encoder alone learns to pull codes
//   towards c.
//     one-class:      loss = mean |phi(x) - c|^2;                       score = |phi(x) - c|^2
//     soft-boundary:  loss = R^2 + 1/nu mean max(0, |phi(x) - c|^2 - R^2); score = |phi(x) - c|^2 - R^2
//   where R is set after each epoch past the warm-up to the (1 - nu)-quantile of the distances.
// deep-sad: one-class Deep SVDD plus K labelled anomalies that are pushed away from c with the
//   term eta / (|phi(x) - c|^2 + 1e-6), averaged over the batch with the normal images' distances.
//   As in Ruff et al.'s mixed batches, each step adds labelled anomalies in their share of the
//   training set (B K / n for a batch of B of n normal images; the fraction is rounded at random),
//   drawn with replacement, and the encoder sees normal images and anomalies in one pass, so its
//   batch norms see the mix a batch of the whole training set would have. With K = 0 it is
//   one-class Deep SVDD, step for step.
#include <cmath>

#include "detectors/neural.h"
#include "nn/lenet.h"
#include "oneclass/detectors/registry.h"
#include "oneclass/error.h"

namespace oneclass {
namespace {

constexpr double kCentreMargin = 0.1;  // Ruff et al.'s eps for the centre's near-zero coordinates
constexpr double kInverseEps = 1e-6;   // Deep SAD's eps in eta / (distance + eps)

class SvddNetworkImpl : public torch::nn::Module {
 public:
  explicit SvddNetworkImpl(const nn::LeNetShape& shape)
      : encoder(register_module("encoder", nn::LeNetEncoder(shape))),
        decoder(register_module("decoder", nn::LeNetDecoder(shape))) {}

  nn::LeNetEncoder encoder;
  nn::LeNetDecoder decoder;  // used in pretraining only
};
TORCH_MODULE(SvddNetwork);

// Ruff et al.'s network, optimiser and nu; epochs cut from their 250 + 150 to what a laptop
// benchmark affords, and the radius warm-up scaled down with them (they wait 10 epochs).
nlohmann::json svdd_defaults() {
  return {{"rep_dim", 32},       {"width", 8},       {"objective", "one-class"}, {"nu", 0.1},
          {"pretrain_epochs", 10}, {"epochs", 10},   {"warm_up_epochs", 2},      {"batch_size", 128},
          {"lr", 1e-3},          {"weight_decay", 5e-7}};
}

nlohmann::json sad_defaults() {
  auto defaults = svdd_defaults();
  defaults.erase("objective");
  defaults.erase("nu");
  defaults.erase("warm_up_epochs");
  defaults["eta"] = 1.0;
  defaults["labeled_anomalies"] = 0;
  return defaults;
}

class DeepSvdd final : public NeuralDetector {
 public:
  DeepSvdd(const std::string& name, const nlohmann::json& options) : NeuralDetector(name, options) {
    const auto& s = settings();
    soft_boundary_ = s.value("objective", "one-class") == "soft-boundary";
    if (s.contains("objective") && !soft_boundary_ && s["objective"] != "one-class") {
      throw Error(name + ": objective=" + s["objective"].get<std::string>() + " must be one-class or soft-boundary");
    }
    if (s["pretrain_epochs"].get<int>() < 0 || (s.contains("nu") && !(s["nu"].get<double>() > 0 && s["nu"].get<double>() <= 1)) ||
        (s.contains("eta") && s["eta"].get<double>() < 0) ||
        (s.contains("labeled_anomalies") && s["labeled_anomalies"].get<int64_t>() < 0)) {
      throw Error(name + ": need pretrain_epochs >= 0, 0 < nu <= 1, eta >= 0, labeled_anomalies >= 0 (got " + s.dump() + ")");
    }
  }

  TrainPlan plan() const override {
    const auto& s = settings();
    return {s["pretrain_epochs"].get<int>() + s["epochs"].get<int>(), s["batch_size"].get<int>()};
  }
  int64_t labeled_anomalies_wanted() const override { return settings().value("labeled_anomalies", int64_t{0}); }

 protected:
  std::shared_ptr<torch::nn::Module> build(const std::vector<int64_t>& input_shape) override {
    const auto shape = nn::lenet_shape(name(), input_shape, settings());
    network_ = SvddNetwork(shape);
    return network_.ptr();
  }

  void prepare_fit(const at::Tensor& normal_images, const FitContext& context) override {
    train_images_ = normal_images;
    anomalies_ = context.labeled_anomalies;
    const int64_t batch = settings()["batch_size"].get<int64_t>();
    steps_per_epoch_ = (normal_images.size(0) + batch - 1) / batch;
    pretrain_steps_ = settings()["pretrain_epochs"].get<int64_t>() * steps_per_epoch_;
    step_ = 0;
    epoch_distances_.clear();
    centre_ = at::Tensor();
    radius_ = 0;
  }

  at::Tensor loss(const at::Tensor& batch) override {
    if (step_ == pretrain_steps_) start_hypersphere_phase();
    ++step_;
    if (step_ <= pretrain_steps_) {
      const auto reconstruction = torch::sigmoid(network_->decoder(network_->encoder(batch)));
      return squared_error_per_image(reconstruction, batch).mean().to(torch::kFloat);
    }
    if (anomalies_.defined() && anomalies_.size(0) > 0) return semi_supervised_loss(batch);
    const auto distance = distances(batch);
    const auto value = soft_boundary_ ? radius_ * radius_ + (distance - radius_ * radius_).clamp_min(0).mean() /
                                                                settings()["nu"].get<double>()
                                      : distance.mean();
    if (soft_boundary_) note_epoch_distances(distance);
    return value;
  }

  void finish_fit(const at::Tensor& normal_images) override {
    if (!centre_.defined()) centre_ = centre_of(normal_images);  // no hypersphere epochs were run
    train_images_ = anomalies_ = at::Tensor();
  }

  at::Tensor score_chunk(const at::Tensor& images) override {
    return distances(images).to(torch::kDouble) - radius_ * radius_;
  }

  void save_extra(torch::serialize::OutputArchive& archive) const override {
    archive.write("centre", centre_);
    archive.write("radius", torch::tensor(radius_, torch::kDouble));
  }

  void load_extra(torch::serialize::InputArchive& archive) override {
    at::Tensor centre, radius;
    archive.read("centre", centre);
    archive.read("radius", radius);
    if (centre.dim() != 1 || centre.size(0) != settings()["rep_dim"].get<int64_t>() ||
        !torch::isfinite(centre).all().item<bool>()) {
      throw Error(name() + ": stored centre " + c10::str(centre.sizes()) + " does not fit rep_dim=" +
                  settings()["rep_dim"].dump() + " or is not finite");
    }
    if (radius.numel() != 1 || !std::isfinite(radius.item<double>()) || radius.item<double>() < 0) {
      throw Error(name() + ": stored radius " + c10::str(radius.sizes()) + " is not one finite number >= 0");
    }
    centre_ = centre.to(device(), torch::kFloat);
    radius_ = radius.item<double>();
  }

 private:
  at::Tensor distances(const at::Tensor& images) { return (network_->encoder(images) - centre_).square().sum(1); }

  // The mean code of the training images (evaluation mode), away from zero in every coordinate.
  at::Tensor centre_of(const at::Tensor& images) {
    torch::NoGradGuard no_grad;
    const bool training = network_->is_training();
    network_->eval();
    std::vector<at::Tensor> codes;
    for (int64_t start = 0; start < images.size(0); start += 1024) {
      codes.push_back(network_->encoder(images.narrow(0, start, std::min<int64_t>(1024, images.size(0) - start))));
    }
    network_->train(training);
    auto centre = torch::cat(codes).mean(0);
    const auto near_zero = centre.abs() < kCentreMargin;
    return torch::where(near_zero, torch::where(centre < 0, -kCentreMargin, kCentreMargin), centre);
  }

  // Deep SAD's step: normal images and a share of the labelled anomalies in one encoder pass.
  at::Tensor semi_supervised_loss(const at::Tensor& batch) {
    const double share = static_cast<double>(batch.size(0)) * static_cast<double>(anomalies_.size(0)) /
                         static_cast<double>(train_images_.size(0));
    const double coin = torch::rand({1}, generator(), torch::kDouble).item<double>();
    const auto count = static_cast<int64_t>(std::floor(share + coin));
    const auto rows = torch::randint(anomalies_.size(0), {count}, generator(), torch::kLong).to(batch.device());
    const auto distance = distances(torch::cat({batch, anomalies_.index_select(0, rows)}));
    const auto normal = distance.narrow(0, 0, batch.size(0));
    const auto pushed = settings()["eta"].get<double>() * (distance.narrow(0, batch.size(0), count) + kInverseEps).reciprocal();
    return torch::cat({normal, pushed}).mean();
  }

  void start_hypersphere_phase() {
    centre_ = centre_of(train_images_);
    optimise(network_->encoder->parameters());
  }

  // Soft-boundary: the radius follows the (1 - nu)-quantile of each epoch's distances, after the warm-up.
  void note_epoch_distances(const at::Tensor& distance) {
    epoch_distances_.push_back(distance.detach().to(torch::kDouble).sqrt().cpu());
    if ((step_ - pretrain_steps_) % steps_per_epoch_ != 0) return;
    const int64_t epoch = (step_ - pretrain_steps_) / steps_per_epoch_;
    if (epoch >= settings()["warm_up_epochs"].get<int64_t>()) {
      radius_ = torch::quantile(torch::cat(epoch_distances_), 1.0 - settings()["nu"].get<double>()).item<double>();
    }
    epoch_distances_.clear();
  }

  SvddNetwork network_{nullptr};
  bool soft_boundary_ = false;
  at::Tensor train_images_, anomalies_, centre_;
  std::vector<at::Tensor> epoch_distances_;
  double radius_ = 0;
  int64_t steps_per_epoch_ = 0, pretrain_steps_ = 0, step_ = 0;
};

}  // namespace

DetectorEntry deep_svdd_entry() {
  return {"deep-svdd",
          "Deep SVDD, one-class or soft-boundary (Ruff et al. 2018); score = squared distance to the centre",
          [](const nlohmann::json& options) -> std::unique_ptr<Detector> {
            return std::make_unique<DeepSvdd>("deep-svdd", merge_options("deep-svdd", svdd_defaults(), options));
          },
          /*tiny_options=*/{{"pretrain_epochs", 10}, {"epochs", 10}, {"batch_size", 16}, {"rep_dim", 8}, {"width", 4}}};
}

DetectorEntry deep_sad_entry() {
  return {"deep-sad",
          "Deep SAD (Ruff et al. 2020): Deep SVDD that also learns from K labelled anomalies; score = "
          "squared distance to the centre",
          [](const nlohmann::json& options) -> std::unique_ptr<Detector> {
            return std::make_unique<DeepSvdd>("deep-sad", merge_options("deep-sad", sad_defaults(), options));
          },
          /*tiny_options=*/{{"pretrain_epochs", 10}, {"epochs", 10}, {"batch_size", 16}, {"rep_dim", 8}, {"width", 4}},
          /*scores=*/{},
          /*semi_supervised=*/true};
}

}  // namespace oneclass
