#pragma once
// The LeNet-type networks' pooling and upsampling, with kernels of their own on the CPU (their
// batch norm: batch_norm.h). LibTorch 1.13's CPU versions of these took as long per training step
// as the convolutions themselves once those ran on conv_kernel.h (docs/performance.md). Each gives
// LibTorch's result and gradient (the same tie-breaking in the pool), runs LibTorch's own on other
// devices or types, and builds a gradient taken with create_graph (WGAN-GP's penalty) from
// LibTorch's operations, so that it can be differentiated again.
#include <ATen/core/Tensor.h>

namespace oneclass::nn {

/// max_pool2d(x, 2) for x [N, C, H, W]: the largest of each 2x2 window (a trailing odd row or
/// column is dropped).
at::Tensor max_pool2(const at::Tensor& x);

/// Nearest-neighbour upsampling of x [N, C, H, W] to [N, C, 2H, 2W].
at::Tensor upsample2(const at::Tensor& x);

}  // namespace oneclass::nn
