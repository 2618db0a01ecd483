#pragma once
// The convolution of the LeNet-type networks: square K x K filters (K = 3 or 5), stride 1, zero
// padding K / 2 (the output has the input's size), no bias.
#include <ATen/core/Tensor.h>

namespace oneclass::nn {

/// The same as at::conv2d(x, weight, {}, 1, K / 2), gradients included, for x [N, Ci, H, W] and
/// weight [Co, Ci, K, K]. On the CPU, for float32 and K = 3 or 5, it runs the direct kernels of
/// conv_kernel.h (bench_roofline, the LeNet autoencoder's layers forward and backward: 1.4x
/// LibTorch's best layout, 2.4-2.5x its plain one) unless own_kernels.h switches them off;
/// elsewhere LibTorch's. A gradient taken with create_graph (WGAN-GP's
/// penalty) is built from differentiable operations, so that it can be differentiated again.
at::Tensor same_conv(const at::Tensor& x, const at::Tensor& weight);

/// Whether same_conv runs its own kernels for these tensors.
bool same_conv_uses_direct_kernels(const at::Tensor& x, const at::Tensor& weight);

}  // namespace oneclass::nn
