#include "detectors/pixel_features.h"

#include "oneclass/error.h"

namespace oneclass {

namespace {

// The covariance C = X'X / (N - 1) and the Gram matrix G = XX' share their non-zero eigenvalues
// (times N - 1); an eigenvector u of G gives X'u / |X'u|, one of C.
PrincipalAxes axes_from_gram(const at::Tensor& centred, PrincipalAxes axes) {
  const double n_minus_1 = static_cast<double>(centred.size(0) - 1);
  auto [eigenvalues, eigenvectors] = torch::linalg::eigh(centred.mm(centred.t()), "L");  // ascending, [N], [N, N]
  const double tolerance = eigenvalues.max().item<double>() * 1e-12;
  const auto kept = eigenvalues.gt(tolerance).nonzero().squeeze(1).flip(0);  // descending
  const auto directions = centred.t().mm(eigenvectors.index_select(1, kept));  // [D, K]
  axes.eigenvalues = eigenvalues.index_select(0, kept) / n_minus_1;
  axes.eigenvectors = directions / directions.norm(2, 0, /*keepdim=*/true);
  return axes;
}

}  // namespace

PrincipalAxes principal_axes(const at::Tensor& x) {
  PrincipalAxes axes;
  axes.mean = x.mean(0, /*keepdim=*/true);  // [1, D]
  const auto centred = x - axes.mean;
  if (x.size(1) > x.size(0)) return axes_from_gram(centred, axes);
  const auto covariance = centred.t().mm(centred) / static_cast<double>(x.size(0) - 1);  // [D, D]
  auto [eigenvalues, eigenvectors] = torch::linalg::eigh(covariance, "L");                // ascending
  axes.eigenvalues = eigenvalues.flip(0);
  axes.eigenvectors = eigenvectors.flip(1);
  return axes;
}

void PixelFeatures::fit(const at::Tensor& normal_images, const c10::Device& device) {
  device_ = device;
  pixels_ = normal_images[0].numel();
  if (components_ == 0) return;
  if (components_ > pixels_) {
    throw Error(detector_ + ": pca=" + std::to_string(components_) + " exceeds the " + std::to_string(pixels_) +
                " pixels of the images; use at most that many components, or pca=0 for raw pixels");
  }
  // Double precision: the covariance of 784 pixels sums thousands of products.
  const auto x = normal_images.flatten(1).to(device_, torch::kDouble);
  if (x.size(0) < 2) {
    throw Error(detector_ + ": pca=" + std::to_string(components_) + " needs at least 2 training images, got " +
                std::to_string(x.size(0)));
  }
  const PrincipalAxes axes = principal_axes(x);
  if (components_ > axes.eigenvectors.size(1)) {
    throw Error(detector_ + ": pca=" + std::to_string(components_) + " but the " + std::to_string(x.size(0)) +
                " training images span only " + std::to_string(axes.eigenvectors.size(1)) +
                " directions; use at most that many components");
  }
  mean_ = axes.mean;
  basis_ = axes.eigenvectors.narrow(1, 0, components_).contiguous();
}

at::Tensor PixelFeatures::transform(const at::Tensor& images) const {
  const auto x = images.flatten(1).to(device_, torch::kDouble);
  return basis_.defined() ? (x - mean_).mm(basis_) : x.contiguous();
}

void PixelFeatures::save(torch::serialize::OutputArchive& archive) const {
  // Raw pixels store empty tensors: an archive has no "absent" entry.
  archive.write("pca_mean", mean_.defined() ? mean_ : torch::zeros({0}, torch::kDouble));
  archive.write("pca_basis", basis_.defined() ? basis_ : torch::zeros({0}, torch::kDouble));
}

void PixelFeatures::load(torch::serialize::InputArchive& archive, const c10::Device& device, int64_t pixels) {
  device_ = device;
  pixels_ = pixels;
  at::Tensor mean, basis;
  archive.read("pca_mean", mean);
  archive.read("pca_basis", basis);
  mean_ = basis_ = at::Tensor();
  if (components_ == 0) {
    if (mean.numel() != 0 || basis.numel() != 0) {
      throw Error(detector_ + ": stored PCA projection " + c10::str(basis.sizes()) + " but options say pca=0");
    }
    return;
  }
  const int64_t d = pixels_;
  if (mean.dim() != 2 || mean.size(0) != 1 || mean.size(1) != d || basis.dim() != 2 || basis.size(0) != d ||
      basis.size(1) != components_) {
    throw Error(detector_ + ": stored PCA mean " + c10::str(mean.sizes()) + " and basis " + c10::str(basis.sizes()) +
                " do not fit " + std::to_string(pixels_) + " pixels and pca=" + std::to_string(components_));
  }
  mean_ = mean.to(device_, torch::kDouble);
  basis_ = basis.to(device_, torch::kDouble);
}

at::Tensor squared_distances(const at::Tensor& x, const at::Tensor& bank, const at::Tensor& bank_norms) {
  return torch::addmm(x.square().sum(1, /*keepdim=*/true) + bank_norms, x, bank.t(), 1.0, -2.0).clamp_min_(0.0);
}

}  // namespace oneclass
