// pca: principal component analysis on raw pixels. The normal images' mean and leading principal
// components span a subspace; an image's score is its squared distance from that subspace (the
// part of it the components cannot reconstruct). Components are kept until they explain
// `variance` of the normal images' total variance (or `components` of them when that is > 0).
// Pixel map: the squared residual per pixel.
#include <torch/torch.h>

#include "oneclass/detectors/registry.h"
#include "detectors/pixel_features.h"
#include "oneclass/error.h"

namespace oneclass {
namespace {

class PrincipalComponents final : public Detector {
 public:
  explicit PrincipalComponents(const nlohmann::json& given) : Detector("pca", merge_options("pca", defaults(), given)) {
    const double variance = options()["variance"].get<double>();
    if (!(variance > 0 && variance <= 1) || options()["components"].get<int64_t>() < 0) {
      throw Error("pca: need 0 < variance <= 1 and components >= 0 (got " + options().dump() + ")");
    }
  }

  static nlohmann::json defaults() { return {{"variance", 0.9}, {"components", 0}}; }

  TrainPlan plan() const override { return {/*epochs=*/0, /*batch_size=*/0}; }

 protected:
  void prepare(const at::Tensor& normal_images, const FitContext& context) override {
    // Double precision: the covariance of 784 pixels sums thousands of products.
    const auto x = normal_images.flatten(1).to(device(), torch::kDouble);  // [N, D]
    if (x.size(0) < 2) throw Error("pca: needs at least 2 training images, got " + std::to_string(x.size(0)));
    const PrincipalAxes axes = principal_axes(x);
    mean_ = axes.mean;  // [1, D]
    components_ = axes.eigenvectors.narrow(1, 0, kept_components(axes.eigenvalues.clamp_min(0))).contiguous();  // [D, k]
  }

  at::Tensor score_batch(const at::Tensor& images) override { return residual(images).square().sum(1); }

  std::optional<at::Tensor> reconstruct_batch(const at::Tensor& images) override {
    const auto x = images.flatten(1).to(device(), torch::kDouble);
    return (x - residual(images)).clamp(0, 1).to(torch::kFloat).view(images.sizes());
  }

  std::optional<at::Tensor> anomaly_map_batch(const at::Tensor& images) override {
    const auto squared = residual(images).square().to(torch::kFloat);  // [N, C*H*W]
    return squared.view(images.sizes()).sum(1);                        // [N, H, W]
  }

  void save_state(torch::serialize::OutputArchive& archive) const override {
    archive.write("mean", mean_);
    archive.write("components", components_);
  }

  void load_state(torch::serialize::InputArchive& archive) override {
    at::Tensor mean, components;
    archive.read("mean", mean);
    archive.read("components", components);
    const int64_t d = input_size();
    if (mean.dim() != 2 || mean.size(1) != d || components.dim() != 2 || components.size(0) != d ||
        components.size(1) < 1 || components.size(1) > d) {
      throw Error("pca: stored mean " + c10::str(mean.sizes()) + " and components " + c10::str(components.sizes()) +
                  " do not fit input shape " + c10::str(c10::IntArrayRef(input_shape())));
    }
    mean_ = mean.to(device(), torch::kDouble);
    components_ = components.to(device(), torch::kDouble);
  }

 private:
  // Components that explain `variance` of the total (at least one), or exactly `components`.
  int64_t kept_components(const at::Tensor& eigenvalues_descending) const {
    const int64_t d = eigenvalues_descending.size(0);
    const int64_t fixed = options()["components"].get<int64_t>();
    if (fixed > 0) return std::min(fixed, d);
    const auto explained = eigenvalues_descending.cumsum(0) / eigenvalues_descending.sum().clamp_min(1e-300);
    const int64_t below = (explained < options()["variance"].get<double>()).sum().item<int64_t>();
    return std::min(below + 1, d);
  }

  // The part of each image outside the principal subspace, [N, D] float64.
  at::Tensor residual(const at::Tensor& images) const {
    const auto centred = images.flatten(1).to(device(), torch::kDouble) - mean_;
    return centred - centred.mm(components_).mm(components_.t());
  }

  at::Tensor mean_, components_;  // [1, D], [D, k] (orthonormal columns)
};

}  // namespace

DetectorEntry pca_entry() {
  return {"pca",
          "principal components of the normal images; score = squared distance from their subspace",
          [](const nlohmann::json& options) -> std::unique_ptr<Detector> {
            return std::make_unique<PrincipalComponents>(options);
          },
          /*tiny_options=*/{{"variance", 0.9}}};
}

}  // namespace oneclass
