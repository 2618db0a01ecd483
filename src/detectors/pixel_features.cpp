#include "detectors/pixel_features.h"

#include "oneclass/detectors/detector.h"
#include "detectors/stored_shape.h"
#include "oneclass/error.h"

namespace oneclass {

void PixelFeatures::fit(const at::Tensor& normal_images, const c10::Device& device) {
  device_ = device;
  input_shape_ = normal_images.sizes().slice(1).vec();
  if (components_ == 0) return;
  if (components_ > pixels()) {
    throw Error(detector_ + ": pca=" + std::to_string(components_) + " exceeds the " + std::to_string(pixels()) +
                " pixels of the images; use at most that many components, or pca=0 for raw pixels");
  }
  // Double precision: the covariance of 784 pixels sums thousands of products.
  const auto x = normal_images.flatten(1).to(device_, torch::kDouble);
  if (x.size(0) < 2) {
    throw Error(detector_ + ": pca=" + std::to_string(components_) + " needs at least 2 training images, got " +
                std::to_string(x.size(0)));
  }
  mean_ = x.mean(0, /*keepdim=*/true);
  const auto centred = x - mean_;
  const auto covariance = centred.t().mm(centred) / static_cast<double>(x.size(0) - 1);
  const auto eigenvectors = std::get<1>(torch::linalg::eigh(covariance, "L"));  // ascending eigenvalues
  basis_ = eigenvectors.flip(1).narrow(1, 0, components_).contiguous();
}

at::Tensor PixelFeatures::transform(const at::Tensor& images) const {
  require_fitted_shape(detector_, images, input_shape_);
  const auto x = images.flatten(1).to(device_, torch::kDouble);
  return basis_.defined() ? (x - mean_).mm(basis_) : x.contiguous();
}

int64_t PixelFeatures::dim() const { return basis_.defined() ? basis_.size(1) : pixels(); }

int64_t PixelFeatures::pixels() const {
  int64_t d = 1;
  for (const auto size : input_shape_) d *= size;
  return d;
}

void PixelFeatures::save(torch::serialize::OutputArchive& archive) const {
  write_input_shape(archive, input_shape_);
  // Raw pixels store empty tensors: an archive has no "absent" entry.
  archive.write("pca_mean", mean_.defined() ? mean_ : torch::zeros({0}, torch::kDouble));
  archive.write("pca_basis", basis_.defined() ? basis_ : torch::zeros({0}, torch::kDouble));
}

void PixelFeatures::load(torch::serialize::InputArchive& archive, const c10::Device& device) {
  device_ = device;
  at::Tensor mean, basis;
  input_shape_ = read_input_shape(archive, detector_);
  archive.read("pca_mean", mean);
  archive.read("pca_basis", basis);
  mean_ = basis_ = at::Tensor();
  if (components_ == 0) {
    if (mean.numel() != 0 || basis.numel() != 0) {
      throw Error(detector_ + ": stored PCA projection " + c10::str(basis.sizes()) + " but options say pca=0");
    }
    return;
  }
  const int64_t d = pixels();
  if (mean.dim() != 2 || mean.size(0) != 1 || mean.size(1) != d || basis.dim() != 2 || basis.size(0) != d ||
      basis.size(1) != components_) {
    throw Error(detector_ + ": stored PCA mean " + c10::str(mean.sizes()) + " and basis " + c10::str(basis.sizes()) +
                " do not fit input shape " + c10::str(input_shape_) + " and pca=" + std::to_string(components_));
  }
  mean_ = mean.to(device_, torch::kDouble);
  basis_ = basis.to(device_, torch::kDouble);
}

at::Tensor squared_distances(const at::Tensor& x, const at::Tensor& bank, const at::Tensor& bank_norms) {
  return torch::addmm(x.square().sum(1, /*keepdim=*/true) + bank_norms, x, bank.t(), 1.0, -2.0).clamp_min_(0.0);
}

}  // namespace oneclass
