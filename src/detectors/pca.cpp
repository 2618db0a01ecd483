// pca: principal component analysis on raw pixels. The normal images' mean and leading principal
// components span a subspace; an image's score is its squared distance from that subspace (the
// part of it the components cannot reconstruct). Components are kept until they explain
// `variance` of the normal images' total variance (or `components` of them when that is > 0).
// Pixel map: the squared residual per pixel.
#include <torch/torch.h>

#include "detectors/stored_shape.h"
#include "oneclass/detectors/registry.h"
#include "oneclass/error.h"

namespace oneclass {
namespace {

class PrincipalComponents final : public Detector {
 public:
  explicit PrincipalComponents(const nlohmann::json& given) : options_(merge_options("pca", defaults(), given)) {
    const double variance = options_["variance"].get<double>();
    if (!(variance > 0 && variance <= 1) || options_["components"].get<int64_t>() < 0) {
      throw Error("pca: need 0 < variance <= 1 and components >= 0 (got " + options_.dump() + ")");
    }
  }

  static nlohmann::json defaults() { return {{"variance", 0.9}, {"components", 0}}; }

  std::string name() const override { return "pca"; }
  nlohmann::json options() const override { return options_; }
  TrainPlan plan() const override { return {/*epochs=*/0, /*batch_size=*/0}; }
  c10::Device device() const override { return device_; }
  std::vector<int64_t> input_shape() const override { return input_shape_; }

  void begin_fit(const at::Tensor& normal_images, const FitContext& context) override {
    device_ = context.device;
    input_shape_ = normal_images.sizes().slice(1).vec();
    // Double precision: the covariance of 784 pixels sums thousands of products.
    const auto x = normal_images.flatten(1).to(device_, torch::kDouble);  // [N, D]
    if (x.size(0) < 2) throw Error("pca: needs at least 2 training images, got " + std::to_string(x.size(0)));
    mean_ = x.mean(0, /*keepdim=*/true);                                   // [1, D]
    const auto centred = x - mean_;
    const auto covariance = centred.t().mm(centred) / static_cast<double>(x.size(0) - 1);  // [D, D]
    auto [eigenvalues, eigenvectors] = torch::linalg::eigh(covariance, "L");  // ascending
    eigenvalues = eigenvalues.flip(0).clamp_min(0);
    eigenvectors = eigenvectors.flip(1);
    components_ = eigenvectors.narrow(1, 0, kept_components(eigenvalues)).contiguous();  // [D, k]
  }

  at::Tensor score(const at::Tensor& images) override { return residual(images).square().sum(1); }

  std::optional<at::Tensor> reconstruct(const at::Tensor& images) override {
    const auto x = images.flatten(1).to(device_, torch::kDouble);
    return (x - residual(images)).clamp(0, 1).to(torch::kFloat).view(images.sizes());
  }

  std::optional<at::Tensor> anomaly_map(const at::Tensor& images) override {
    const auto squared = residual(images).square().to(torch::kFloat);  // [N, C*H*W]
    return squared.view(images.sizes()).sum(1);                        // [N, H, W]
  }

  void save_state(torch::serialize::OutputArchive& archive) const override {
    write_input_shape(archive, input_shape_);
    archive.write("mean", mean_);
    archive.write("components", components_);
  }

  void load_state(torch::serialize::InputArchive& archive, const c10::Device& device) override {
    device_ = device;
    at::Tensor mean, components;
    input_shape_ = read_input_shape(archive, "pca");
    archive.read("mean", mean);
    archive.read("components", components);
    const int64_t d = input_shape_.size() == 3 ? input_shape_[0] * input_shape_[1] * input_shape_[2] : -1;
    if (mean.dim() != 2 || mean.size(1) != d || components.dim() != 2 || components.size(0) != d ||
        components.size(1) < 1 || components.size(1) > d) {
      throw Error("pca: stored mean " + c10::str(mean.sizes()) + " and components " + c10::str(components.sizes()) +
                  " do not fit input shape " + c10::str(input_shape_));
    }
    mean_ = mean.to(device_, torch::kDouble);
    components_ = components.to(device_, torch::kDouble);
  }

 private:
  // Components that explain `variance` of the total (at least one), or exactly `components`.
  int64_t kept_components(const at::Tensor& eigenvalues_descending) const {
    const int64_t d = eigenvalues_descending.size(0);
    const int64_t fixed = options_["components"].get<int64_t>();
    if (fixed > 0) return std::min(fixed, d);
    const auto explained = eigenvalues_descending.cumsum(0) / eigenvalues_descending.sum().clamp_min(1e-300);
    const int64_t below = (explained < options_["variance"].get<double>()).sum().item<int64_t>();
    return std::min(below + 1, d);
  }

  // The part of each image outside the principal subspace, [N, D] float64.
  at::Tensor residual(const at::Tensor& images) const {
    require_fitted_shape("pca", images, input_shape_);
    const auto centred = images.flatten(1).to(device_, torch::kDouble) - mean_;
    return centred - centred.mm(components_).mm(components_.t());
  }

  nlohmann::json options_;
  c10::Device device_ = c10::Device(c10::kCPU);
  std::vector<int64_t> input_shape_;
  at::Tensor mean_, components_;  // [1, D], [D, k] (orthonormal columns)
};

}  // namespace

std::unique_ptr<Detector> make_principal_components(const nlohmann::json& options) {
  return std::make_unique<PrincipalComponents>(options);
}

}  // namespace oneclass
