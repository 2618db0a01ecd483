#include "nn/lenet.h"

#include "oneclass/error.h"

namespace oneclass::nn {
namespace {

namespace F = torch::nn::functional;

torch::nn::Conv2d conv5x5(int64_t in, int64_t out) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 5).padding(2).bias(false));
}

torch::nn::BatchNorm2d plain_norm(int64_t channels) {
  return torch::nn::BatchNorm2d(torch::nn::BatchNorm2dOptions(channels).eps(1e-4).affine(false));
}

at::Tensor leaky(const at::Tensor& x) { return F::leaky_relu(x, F::LeakyReLUFuncOptions().negative_slope(0.01)); }

at::Tensor upsample2(const at::Tensor& x) {
  return F::interpolate(x, F::InterpolateFuncOptions().scale_factor(std::vector<double>{2.0, 2.0}).mode(torch::kNearest));
}

}  // namespace

void check_lenet_shape(const std::string& detector, const LeNetShape& shape) {
  const auto& s = shape.input;
  if (s.size() != 3 || s[0] < 1 || s[1] < 4 || s[2] < 4 || s[1] % 4 != 0 || s[2] % 4 != 0) {
    throw Error(detector + ": images of shape " + c10::str(c10::IntArrayRef(s)) + " do not suit its LeNet layers, which need a height and "
                "width that are multiples of 4 (e.g. 28x28); resize the images");
  }
  if (shape.rep_dim < 1 || shape.width < 2) {
    throw Error(detector + ": need rep_dim >= 1 and width >= 2 (got rep_dim=" + std::to_string(shape.rep_dim) +
                ", width=" + std::to_string(shape.width) + ")");
  }
}

LeNetShape lenet_shape(const std::string& detector, const std::vector<int64_t>& input, const nlohmann::json& options) {
  const LeNetShape shape{input, options["rep_dim"].get<int64_t>(), options["width"].get<int64_t>()};
  check_lenet_shape(detector, shape);
  return shape;
}

LeNetEncoderImpl::LeNetEncoderImpl(const LeNetShape& shape) {
  const auto& s = shape.input;
  conv1_ = register_module("conv1", conv5x5(s[0], shape.width));
  norm1_ = register_module("norm1", plain_norm(shape.width));
  conv2_ = register_module("conv2", conv5x5(shape.width, shape.width / 2));
  norm2_ = register_module("norm2", plain_norm(shape.width / 2));
  code_ = register_module(
      "code", torch::nn::Linear(torch::nn::LinearOptions(shape.width / 2 * (s[1] / 4) * (s[2] / 4), shape.rep_dim).bias(false)));
}

at::Tensor LeNetEncoderImpl::forward(const at::Tensor& x) {
  auto h = F::max_pool2d(leaky(norm1_(conv1_(x))), F::MaxPool2dFuncOptions(2));
  h = F::max_pool2d(leaky(norm2_(conv2_(h))), F::MaxPool2dFuncOptions(2));
  return code_(h.flatten(1));
}

LeNetDecoderImpl::LeNetDecoderImpl(const LeNetShape& shape) : input_(shape.input), width_(shape.width) {
  expand_ = register_module(
      "expand", torch::nn::Linear(torch::nn::LinearOptions(shape.rep_dim, width_ / 2 * (input_[1] / 4) * (input_[2] / 4)).bias(false)));
  conv1_ = register_module("conv1", conv5x5(width_ / 2, width_));
  norm1_ = register_module("norm1", plain_norm(width_));
  conv2_ = register_module("conv2", conv5x5(width_, input_[0]));
}

at::Tensor LeNetDecoderImpl::forward(const at::Tensor& code) {
  auto h = leaky(expand_(code)).view({code.size(0), width_ / 2, input_[1] / 4, input_[2] / 4});
  h = leaky(norm1_(conv1_(upsample2(h))));
  return conv2_(upsample2(h));
}

}  // namespace oneclass::nn
