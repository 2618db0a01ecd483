#include "nn/lenet.h"

#include <algorithm>

#include "nn/batch_norm.h"
#include "nn/conv.h"
#include "nn/lenet_layers.h"
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

// The layers run through conv.h, lenet_layers.h and batch_norm.h (their own kernels on the CPU); the Conv2d and
// BatchNorm2d modules hold the weights and running statistics, so that stored networks keep their names.
at::Tensor convolve(torch::nn::Conv2d& conv, const at::Tensor& x) { return same_conv(x, conv->weight); }

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

std::vector<int64_t> lenet_stage_channels(const LeNetShape& shape) {
  std::vector<int64_t> channels{shape.width, shape.width / 2};
  int64_t height = shape.input[1] / 4, width = shape.input[2] / 4;
  while (height % 2 == 0 && width % 2 == 0 && height > 8 && width > 8) {
    channels.push_back(std::min(2 * channels.back(), 4 * shape.width));
    height /= 2;
    width /= 2;
  }
  return channels;
}

namespace {

// [channels, height, width] of the map after the last stage, which the code is made from.
std::vector<int64_t> code_map(const LeNetShape& shape) {
  const auto channels = lenet_stage_channels(shape);
  const int64_t scale = int64_t{1} << channels.size();
  return {channels.back(), shape.input[1] / scale, shape.input[2] / scale};
}

int64_t element_count(const std::vector<int64_t>& shape) { return shape[0] * shape[1] * shape[2]; }

}  // namespace

LeNetEncoderImpl::LeNetEncoderImpl(const LeNetShape& shape) {
  const auto& s = shape.input;
  const auto channels = lenet_stage_channels(shape);
  // Without batch norms the layers are left empty, and forward passes their input on.
  const auto norm = [&](const std::string& name, int64_t channels) {
    return shape.batch_norm ? register_module(name, plain_norm(channels)) : torch::nn::BatchNorm2d(nullptr);
  };
  conv1_ = register_module("conv1", conv5x5(s[0], channels[0]));
  norm1_ = norm("norm1", channels[0]);
  conv2_ = register_module("conv2", conv5x5(channels[0], channels[1]));
  norm2_ = norm("norm2", channels[1]);
  for (size_t stage = 2; stage < channels.size(); ++stage) {
    const auto suffix = std::to_string(stage + 1);
    extra_convs_.push_back(register_module("conv" + suffix, conv5x5(channels[stage - 1], channels[stage])));
    extra_norms_.push_back(norm("norm" + suffix, channels[stage]));
  }
  code_ = register_module("code", torch::nn::Linear(torch::nn::LinearOptions(element_count(code_map(shape)), shape.rep_dim).bias(false)));
}

namespace {
at::Tensor normalised(torch::nn::BatchNorm2d& norm, const at::Tensor& x) { return norm.is_empty() ? x : batch_norm(norm, x); }
}  // namespace

at::Tensor LeNetEncoderImpl::forward(const at::Tensor& x) {
  auto h = max_pool2(leaky(normalised(norm1_, convolve(conv1_, x))));
  h = max_pool2(leaky(normalised(norm2_, convolve(conv2_, h))));
  for (size_t i = 0; i < extra_convs_.size(); ++i) {
    h = max_pool2(leaky(normalised(extra_norms_[i], convolve(extra_convs_[i], h))));
  }
  return code_(h.flatten(1));
}

LeNetDecoderImpl::LeNetDecoderImpl(const LeNetShape& shape) : code_map_(code_map(shape)) {
  const auto channels = lenet_stage_channels(shape);
  expand_ = register_module("expand", torch::nn::Linear(torch::nn::LinearOptions(shape.rep_dim, element_count(code_map_)).bias(false)));
  for (size_t stage = channels.size() - 1; stage >= 2; --stage) {
    const auto suffix = std::to_string(stage + 1);
    extra_convs_.push_back(register_module("conv" + suffix, conv5x5(channels[stage], channels[stage - 1])));
    extra_norms_.push_back(register_module("norm" + suffix, plain_norm(channels[stage - 1])));
  }
  conv1_ = register_module("conv1", conv5x5(channels[1], channels[0]));
  norm1_ = register_module("norm1", plain_norm(channels[0]));
  conv2_ = register_module("conv2", conv5x5(channels[0], shape.input[0]));
}

at::Tensor LeNetDecoderImpl::forward(const at::Tensor& code) {
  auto h = leaky(expand_(code)).view({code.size(0), code_map_[0], code_map_[1], code_map_[2]});
  for (size_t i = 0; i < extra_convs_.size(); ++i) h = leaky(batch_norm(extra_norms_[i], convolve(extra_convs_[i], upsample2(h))));
  h = leaky(batch_norm(norm1_, convolve(conv1_, upsample2(h))));
  return convolve(conv2_, upsample2(h));
}

}  // namespace oneclass::nn
