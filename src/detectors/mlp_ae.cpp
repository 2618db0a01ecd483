// mlp-ae: the original experiment's fully connected autoencoder.
//   encoder D-256-128-z (ReLU, linear bottleneck), decoder z-128-256-D (ReLU, Tanh output),
//   inputs scaled to [-1, 1], MSE loss, Adam(lr 3e-4, weight decay 1e-5), batch 16, 10 epochs.
//   score = sum over pixels of |x - x_hat| (l1) or (x - x_hat)^2 (l2) on the [0, 1] scale.
#include <torch/torch.h>

#include "nn/mlp_stack.h"
#include "detectors/stored_shape.h"
#include "oneclass/detectors/registry.h"
#include "oneclass/error.h"

namespace oneclass {
namespace {

class StackedAutoencoders;
constexpr int64_t kScoreChunk = 4096;  // images per forward pass when scoring: bounds memory

class MlpAutoencoder final : public Detector {
 public:
  explicit MlpAutoencoder(const nlohmann::json& given) : options_(merge_options("mlp-ae", defaults(), given)) {
    const auto& score = options_["score"].get_ref<const std::string&>();
    if (score != "l1" && score != "l2") throw Error("mlp-ae: score=" + score + " must be l1 or l2");
    if (options_["z"].get<int>() < 1 || options_["epochs"].get<int>() < 0 || options_["batch_size"].get<int>() < 1 ||
        options_["lr"].get<double>() <= 0) {
      throw Error("mlp-ae: need z >= 1, epochs >= 0, batch_size >= 1, lr > 0 (got " + options_.dump() + ")");
    }
  }

  static nlohmann::json defaults() {
    return {{"z", 64},      {"epochs", 10},         {"batch_size", 16},
            {"lr", 3e-4},   {"weight_decay", 1e-5}, {"score", "l1"}};
  }

  std::string name() const override { return "mlp-ae"; }
  nlohmann::json options() const override { return options_; }
  TrainPlan plan() const override { return {options_["epochs"].get<int>(), options_["batch_size"].get<int>()}; }
  c10::Device device() const override { return device_; }
  std::vector<int64_t> input_shape() const override { return input_shape_; }

  void begin_fit(const at::Tensor& normal_images, const FitContext& context) override {
    device_ = context.device;
    build(normal_images.sizes().slice(1).vec());
    network_->init_like_torch_linear({context.seed});
    network_->set_optimizer(adam_options());
  }

  double train_step(const at::Tensor& batch) override {
    auto x = to_network_scale(batch);
    return network_->train_step_mse(x, x).item<double>();
  }

  std::unique_ptr<TrainGroup> train_together(const std::vector<Detector*>& copies) override;

  at::Tensor score(const at::Tensor& images) override {
    std::vector<at::Tensor> scores;
    for (int64_t start = 0; start < images.size(0); start += kScoreChunk) {
      auto chunk = images.narrow(0, start, std::min(kScoreChunk, images.size(0) - start));
      scores.push_back(pixel_errors(chunk).flatten(1).sum(1).to(torch::kDouble));
    }
    return scores.empty() ? torch::zeros({0}, torch::kDouble) : torch::cat(scores);
  }

  std::optional<at::Tensor> reconstruct(const at::Tensor& images) override {
    auto y = network_->forward(to_network_scale(images)).squeeze(0);
    return y.add(1.0).mul_(0.5).view(images.sizes());  // back to [0, 1]
  }

  std::optional<at::Tensor> anomaly_map(const at::Tensor& images) override {
    return pixel_errors(images).sum(1);  // [N, H, W], summed over channels
  }

  void save_state(torch::serialize::OutputArchive& archive) const override {
    write_input_shape(archive, input_shape_);
    const auto params = network_->parameters();
    for (size_t i = 0; i < params.size(); ++i) archive.write("param_" + std::to_string(i), params[i]);
  }

  void load_state(torch::serialize::InputArchive& archive, const c10::Device& device) override {
    device_ = device;
    build(read_input_shape(archive, "mlp-ae"));
    auto params = network_->parameters();
    for (size_t i = 0; i < params.size(); ++i) {
      at::Tensor stored;
      archive.read("param_" + std::to_string(i), stored);
      if (!stored.sizes().equals(params[i].sizes())) {
        throw Error("mlp-ae: stored parameter " + std::to_string(i) + " has shape " + c10::str(stored.sizes()) +
                    ", expected " + c10::str(params[i].sizes()));
      }
      params[i].copy_(stored);
    }
  }

 private:
  nn::AdamOptions adam_options() const {
    return {options_["lr"].get<double>(), 0.9, 0.999, 1e-8, options_["weight_decay"].get<double>()};
  }

  void build(std::vector<int64_t> input_shape) {
    if (input_shape.size() != 3) throw Error("mlp-ae: expects images [N, C, H, W]");
    input_shape_ = std::move(input_shape);
    const int64_t d = input_shape_[0] * input_shape_[1] * input_shape_[2];
    const int64_t z = options_["z"].get<int64_t>();
    const nn::MlpShape shape = nn::autoencoder_shape(d, /*hidden=*/{256, 128}, z);
    network_ = std::make_unique<nn::MlpStack>(shape, /*members=*/1, device_);
  }

  // [N, C, H, W] in [0, 1] -> [1, N, D] in [-1, 1] (a stack of one network).
  at::Tensor to_network_scale(const at::Tensor& images) const {
    return images.to(device_).reshape({1, images.size(0), -1}).mul(2.0).sub_(1.0);
  }

  // Per-pixel error on the [0, 1] scale, [N, C, H, W].
  at::Tensor pixel_errors(const at::Tensor& images) {
    auto x = images.to(device_);
    auto error = reconstruct(x).value().sub_(x);
    return options_["score"] == "l1" ? error.abs_() : error.square_();
  }

  friend class StackedAutoencoders;
  nlohmann::json options_;
  c10::Device device_ = c10::Device(c10::kCPU);
  std::vector<int64_t> input_shape_;
  std::unique_ptr<nn::MlpStack> network_;
};

// Several mlp-ae copies as the members of one stacked network: each step is one call that trains
// every copy on its own batch. The copies' initial weights go in at the start and the trained
// weights go back at the end; the optimiser starts fresh, as each copy's would.
class StackedAutoencoders final : public TrainGroup {
 public:
  explicit StackedAutoencoders(std::vector<MlpAutoencoder*> copies) : copies_(std::move(copies)) {
    const MlpAutoencoder& first = *copies_.front();
    stack_ = std::make_unique<nn::MlpStack>(first.network_->shape(), static_cast<int64_t>(copies_.size()),
                                            first.device_);
    for (size_t g = 0; g < copies_.size(); ++g) stack_->copy_member(static_cast<int64_t>(g), *copies_[g]->network_, 0);
    stack_->set_optimizer(first.adam_options());
  }

  std::vector<double> train_step(const std::vector<at::Tensor>& batches) override {
    std::vector<at::Tensor> xs(batches.size());
    for (size_t g = 0; g < batches.size(); ++g) {
      if (batches[g].defined()) xs[g] = copies_[g]->to_network_scale(batches[g])[0];  // [B, D]
    }
    auto loss = stack_->train_step_mse(xs, xs);
    const double* values = loss.data_ptr<double>();
    return {values, values + loss.numel()};
  }

  void finish() override {
    for (size_t g = 0; g < copies_.size(); ++g) copies_[g]->network_->copy_member(0, *stack_, static_cast<int64_t>(g));
  }

 private:
  std::vector<MlpAutoencoder*> copies_;
  std::unique_ptr<nn::MlpStack> stack_;
};

std::unique_ptr<TrainGroup> MlpAutoencoder::train_together(const std::vector<Detector*>& copies) {
  std::vector<MlpAutoencoder*> autoencoders;
  for (Detector* copy : copies) {
    auto* autoencoder = dynamic_cast<MlpAutoencoder*>(copy);
    if (!autoencoder || autoencoder->options_ != options_ || autoencoder->input_shape_ != input_shape_ ||
        autoencoder->device_ != device_) {
      throw Error("mlp-ae: only copies with the same options, image shape and device train together");
    }
    autoencoders.push_back(autoencoder);
  }
  return std::make_unique<StackedAutoencoders>(std::move(autoencoders));
}

}  // namespace

std::unique_ptr<Detector> make_mlp_autoencoder(const nlohmann::json& options) {
  return std::make_unique<MlpAutoencoder>(options);
}

}  // namespace oneclass
