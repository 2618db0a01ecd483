// mlp-ae: the original experiment's fully connected autoencoder.
//   encoder D-256-128-z (ReLU, linear bottleneck), decoder z-128-256-D (ReLU, Tanh output),
//   inputs scaled to [-1, 1], MSE loss, Adam(lr 3e-4, weight decay 1e-5), batch 16, 10 epochs.
//   score = sum over pixels of |x - x_hat| (l1) or (x - x_hat)^2 (l2) on the [0, 1] scale.
// Two implementations of one model (option impl):
//   fast       (default) this file: the hand-written CBLAS training step of src/nn/ (one pass
//              forward and backward, fused Adam), which also trains stacks of copies at once;
//   reference  mlp_ae_reference.cpp: a plain torch::nn module trained by autograd and
//              torch::optim::Adam, the code to read. Tests hold the fast one to it.
#include <torch/torch.h>

#include "detectors/mlp_ae_reference.h"
#include "nn/mlp_stack.h"
#include "oneclass/detectors/registry.h"
#include "oneclass/error.h"

namespace oneclass {
namespace {

class StackedAutoencoders;
constexpr int64_t kScoreChunk = 4096;  // images per forward pass when scoring: bounds memory

nlohmann::json mlp_autoencoder_defaults() {
  return {{"z", 64},    {"epochs", 10},         {"batch_size", 16}, {"lr", 3e-4},
          {"weight_decay", 1e-5}, {"score", "l1"}, {"impl", "fast"}};
}

// The options of either implementation, checked.
nlohmann::json mlp_autoencoder_options(const nlohmann::json& given) {
  auto options = merge_options("mlp-ae", mlp_autoencoder_defaults(), given);
  const auto& score = options["score"].get_ref<const std::string&>();
  if (score != "l1" && score != "l2") throw Error("mlp-ae: score=" + score + " must be l1 or l2");
  const auto& impl = options["impl"].get_ref<const std::string&>();
  if (impl != "fast" && impl != "reference") throw Error("mlp-ae: impl=" + impl + " must be fast or reference");
  if (options["z"].get<int>() < 1 || options["epochs"].get<int>() < 0 || options["batch_size"].get<int>() < 1 ||
      options["lr"].get<double>() <= 0 || options["weight_decay"].get<double>() < 0) {
    throw Error("mlp-ae: need z >= 1, epochs >= 0, batch_size >= 1, lr > 0, weight_decay >= 0 (got " +
                options.dump() + ")");
  }
  return options;
}

class MlpAutoencoder final : public Detector {
 public:
  explicit MlpAutoencoder(nlohmann::json options) : Detector("mlp-ae", std::move(options)) {}

  TrainPlan plan() const override { return {options()["epochs"].get<int>(), options()["batch_size"].get<int>()}; }

  double train_step(const at::Tensor& batch) override {
    auto x = to_network_scale(batch);
    return network_->train_step_mse(x, x).item<double>();
  }

  std::unique_ptr<TrainGroup> train_together(const std::vector<Detector*>& copies) override;

 protected:
  void prepare(const at::Tensor& normal_images, const FitContext& context) override {
    build();
    network_->init_like_torch_linear({context.seed});
    network_->set_optimizer(adam_options());
  }

  at::Tensor score_batch(const at::Tensor& images) override {
    std::vector<at::Tensor> scores;
    for (int64_t start = 0; start < images.size(0); start += kScoreChunk) {
      auto chunk = images.narrow(0, start, std::min(kScoreChunk, images.size(0) - start));
      scores.push_back(pixel_errors(chunk).flatten(1).sum(1).to(torch::kDouble));
    }
    return torch::cat(scores);
  }

  std::optional<at::Tensor> reconstruct_batch(const at::Tensor& images) override {
    auto y = network_->forward(to_network_scale(images)).squeeze(0);
    return y.add(1.0).mul_(0.5).view(images.sizes());  // back to [0, 1]
  }

  std::optional<at::Tensor> anomaly_map_batch(const at::Tensor& images) override {
    return pixel_errors(images).sum(1);  // [N, H, W], summed over channels
  }

  void save_state(torch::serialize::OutputArchive& archive) const override {
    const auto params = network_->parameters();
    for (size_t i = 0; i < params.size(); ++i) archive.write("param_" + std::to_string(i), params[i]);
  }

  void load_state(torch::serialize::InputArchive& archive) override {
    build();
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
    return {options()["lr"].get<double>(), 0.9, 0.999, 1e-8, options()["weight_decay"].get<double>()};
  }

  void build() {
    const nn::MlpShape shape = nn::autoencoder_shape(input_size(), /*hidden=*/{256, 128}, options()["z"].get<int64_t>());
    network_ = std::make_unique<nn::MlpStack>(shape, /*members=*/1, device());
  }

  // [N, C, H, W] in [0, 1] -> [1, N, D] in [-1, 1] (a stack of one network).
  at::Tensor to_network_scale(const at::Tensor& images) const {
    return images.to(device()).reshape({1, images.size(0), -1}).mul(2.0).sub_(1.0);
  }

  // Per-pixel error on the [0, 1] scale, [N, C, H, W].
  at::Tensor pixel_errors(const at::Tensor& images) {
    auto x = images.to(device());
    auto error = reconstruct_batch(x).value().sub_(x);
    return options()["score"] == "l1" ? error.abs_() : error.square_();
  }

  friend class StackedAutoencoders;
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
                                            first.device());
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
    if (!autoencoder || autoencoder->options() != options() || autoencoder->input_shape() != input_shape() ||
        autoencoder->device() != device()) {
      throw Error("mlp-ae: only copies with the same options, image shape and device train together");
    }
    autoencoders.push_back(autoencoder);
  }
  return std::make_unique<StackedAutoencoders>(std::move(autoencoders));
}

}  // namespace

DetectorEntry mlp_ae_entry() {
  return {"mlp-ae",
          "MLP autoencoder 784-256-128-z (the original experiment); score = reconstruction error (l1 or l2)",
          [](const nlohmann::json& options) -> std::unique_ptr<Detector> {
            auto resolved = mlp_autoencoder_options(options);
            if (resolved["impl"] == "reference") return make_reference_mlp_autoencoder(std::move(resolved));
            return std::make_unique<MlpAutoencoder>(std::move(resolved));
          },
          /*tiny_options=*/{{"epochs", 3}, {"z", 4}, {"batch_size", 8}},
          /*scores=*/{"l1", "l2"}};
}

}  // namespace oneclass
