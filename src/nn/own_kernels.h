#pragma once
// The switch between oneclass's own CPU kernels for the convolutional networks' layers (conv.h,
// lenet_layers.h, batch_norm.h) and LibTorch's, kept so that the two can be compared in one run
// (bench_detectors, bench_roofline) and the old path stays available.
#include <cstdint>
#include <functional>

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

namespace oneclass::nn {

/// Whether the layers run oneclass's own kernels on `device`: on the CPU, unless switched off by
/// set_own_kernels(false) or by the environment variable ONECLASS_LIBTORCH_KERNELS=1.
bool own_kernels_on(const c10::Device& device);

/// Whether x, a float32 [N, C, H, W] tensor, runs on the own kernels.
bool own_kernels_for(const at::Tensor& x);

/// Switches the own kernels on or off for the whole process (for benchmarks; a network trained
/// under one setting may be scored under the other). Switch between fits, not during one: each
/// layer reads the setting when it runs, and the weights' layout is chosen when a fit starts.
void set_own_kernels(bool on);

// What the own kernels' LibTorch wrappers share.

/// The gradient of layer(input) for grad_output, built from LibTorch's version of the layer
/// recomputed on the saved input (reentrant backward, as checkpointing does): what a kernel's
/// backward returns under create_graph, so that the gradient can be differentiated again.
at::Tensor differentiable_grad(const std::function<at::Tensor(const at::Tensor&)>& layer, const at::Tensor& input,
                               const at::Tensor& grad_output);

/// Planes (one image's channel) of `plane_size` values per parallel task: about 16k values, so that
/// small maps are not split finer.
int64_t planes_per_task(int64_t plane_size);

}  // namespace oneclass::nn
