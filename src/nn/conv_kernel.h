#pragma once
// Direct convolution kernels for the few-channel layers of the LeNet-type networks (1 to 32
// channels, square K x K filters with K = 3 or 5, stride 1, zero padding K / 2, no bias), on
// plain float arrays in [C, H, W] order, one image at a time. LibTorch's kernels (oneDNN) block
// channels by 8 or 16 and reach 16-50 % of the machine's product rate on such layers
// (bench_roofline, docs/performance.md); these vectorise along the image rows instead, which suits any channel
// count. No LibTorch here: src/nn/conv.h wraps them as a LibTorch operation with its gradient.
#include <cstddef>
#include <cstdint>

namespace oneclass::nn::conv_kernel {

struct ConvShape {
  int64_t in_channels, out_channels, height, width, kernel;  // kernel: 3 or 5
};

/// Floats of scratch memory that forward_image and weight_grad_image need.
size_t scratch_floats(const ConvShape& shape);

/// y[Co][H][W] = the convolution of x[Ci][H][W] with w[Co][Ci][K][K] (cross-correlation, as
/// LibTorch's conv2d). `scratch` holds scratch_floats(shape) floats.
void forward_image(const float* x, const float* w, float* y, const ConvShape& shape, float* scratch);

/// Adds the gradient of the weights for one image to dw[Co][Ci][K][K], given x[Ci][H][W] and the
/// gradient of the output dy[Co][H][W].
void weight_grad_image(const float* x, const float* dy, float* dw, const ConvShape& shape, float* scratch);

/// The weights of the convolution that gives the input's gradient from the output's: w[Co][Ci][K][K]
/// turned to [Ci][Co][K][K] with each filter rotated by half a turn.
void flip_weights(const float* w, float* flipped, const ConvShape& shape);

}  // namespace oneclass::nn::conv_kernel
