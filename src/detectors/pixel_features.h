#pragma once
// Images as feature vectors for the classical detectors (ocsvm, iforest, kde): each image
// flattened to its pixels in float64, or, with `components` > 0, projected onto the leading
// principal components of the training images (centred on their mean). Fitted once on the normal
// images; saved and loaded with the detector that owns it (which stores the input shape). Also the
// two computations the pixel-space detectors share: the principal axes and squared distances.
#include <cstdint>
#include <string>
#include <vector>

#include <torch/torch.h>

namespace oneclass {

class PixelFeatures {
 public:
  /// `detector` names the owner in error messages; components == 0 keeps the raw pixels.
  PixelFeatures(std::string detector, int64_t components) : detector_(std::move(detector)), components_(components) {}

  /// Learns the projection from normal images [N, C, H, W].
  void fit(const at::Tensor& normal_images, const c10::Device& device);
  /// [N, dim()] float64 features of images of the fitted shape (checked by the owning detector).
  at::Tensor transform(const at::Tensor& images) const;
  int64_t dim() const { return basis_.defined() ? basis_.size(1) : pixels_; }

  void save(torch::serialize::OutputArchive& archive) const;
  /// `pixels` = C * H * W of the owner's stored input shape. Throws Error naming the detector when
  /// the stored projection does not fit it.
  void load(torch::serialize::InputArchive& archive, const c10::Device& device, int64_t pixels);

 private:
  std::string detector_;
  int64_t components_;
  int64_t pixels_ = 0;
  c10::Device device_ = c10::Device(c10::kCPU);
  at::Tensor mean_, basis_;  // [1, D], [D, components]; undefined for raw pixels
};

/// The principal axes of the rows of x [N, D] (float64, N >= 2): their mean [1, D], the
/// covariance's eigenvalues in descending order [K] and its eigenvectors as columns in that order
/// [D, K]. K = D when D <= N; for images larger than the training set (D > N, camera images) the
/// axes come from the N x N Gram matrix instead of the D x D covariance, and K is the number of
/// axes with a positive eigenvalue (at most N - 1): the others carry no variance of the data.
struct PrincipalAxes {
  at::Tensor mean, eigenvalues, eigenvectors;
};
PrincipalAxes principal_axes(const at::Tensor& x);

/// Squared Euclidean distances [Q, N] between rows of x [Q, D] and bank [N, D] (one floating type),
/// as |x|^2 + |b|^2 - 2 x.b with `bank_norms` = |b|^2 as [1, N], clamped at 0: one matrix product.
/// In float64 the cancellation costs ~1e-16 of the norms, so a row does not depend on its batch; in
/// float32 it costs ~1e-6 of them (knn re-measures its best candidates directly).
at::Tensor squared_distances(const at::Tensor& x, const at::Tensor& bank, const at::Tensor& bank_norms);

}  // namespace oneclass
