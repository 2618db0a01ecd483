#pragma once
// Images as feature vectors for the classical detectors (ocsvm, iforest, kde): each image
// flattened to its pixels in float64, or, with `components` > 0, projected onto the leading
// principal components of the training images (centred on their mean). Fitted once on the normal
// images; saved and loaded with the detector that owns it.
#include <cstdint>
#include <string>
#include <vector>

#include <torch/torch.h>

namespace oneclass {

class PixelFeatures {
 public:
  /// `detector` names the owner in error messages; components == 0 keeps the raw pixels.
  PixelFeatures(std::string detector, int64_t components) : detector_(std::move(detector)), components_(components) {}

  /// Learns the input shape (and the projection) from normal images [N, C, H, W].
  void fit(const at::Tensor& normal_images, const c10::Device& device);
  /// [N, dim()] float64 features of images of the fitted shape (an Error naming the detector if not).
  at::Tensor transform(const at::Tensor& images) const;
  int64_t dim() const;
  const std::vector<int64_t>& input_shape() const { return input_shape_; }
  const c10::Device& device() const { return device_; }

  void save(torch::serialize::OutputArchive& archive) const;
  /// Throws Error naming the detector when the stored projection does not fit the stored shape.
  void load(torch::serialize::InputArchive& archive, const c10::Device& device);

 private:
  int64_t pixels() const;

  std::string detector_;
  int64_t components_;
  c10::Device device_ = c10::Device(c10::kCPU);
  std::vector<int64_t> input_shape_;
  at::Tensor mean_, basis_;  // [1, D], [D, components]; undefined for raw pixels
};

/// Squared Euclidean distances [Q, N] float64 between rows of x [Q, D] and bank [N, D] (both
/// float64), as |x|^2 + |b|^2 - 2 x.b with `bank_norms` = |b|^2 as [1, N]: one matrix product, and in
/// float64 the cancellation costs ~1e-16 of the norms, so a row does not depend on its batch.
at::Tensor squared_distances(const at::Tensor& x, const at::Tensor& bank, const at::Tensor& bank_norms);

}  // namespace oneclass
