#pragma once
// Batch norm without affine parameters for the LeNet-type networks, with kernels of its own on the
// CPU (LibTorch 1.13's took as long per training step as the convolutions, docs/performance.md).
// It gives LibTorch's result and gradient up to float rounding, runs LibTorch's own on other
// devices, types or modules, and builds a gradient taken with create_graph from LibTorch's
// operations, so that it can be differentiated again.
#include <ATen/core/Tensor.h>
#include <torch/nn/modules/batchnorm.h>

namespace oneclass::nn {

/// norm(x) for a BatchNorm2d without affine parameters: in training mode x normalised by its batch
/// statistics per channel, which also update the running mean and variance (and the batch count)
/// as LibTorch's module does; in evaluation mode normalised by the running statistics.
at::Tensor batch_norm(torch::nn::BatchNorm2d& norm, const at::Tensor& x);

}  // namespace oneclass::nn
