#pragma once
// The switch between oneclass's own CPU kernels for the convolutional networks' layers (conv.h,
// lenet_layers.h) and LibTorch's, kept so that the two can be compared in one run
// (bench_detectors, bench_roofline) and the old path stays available.
#include <c10/core/Device.h>

namespace oneclass::nn {

/// Whether the layers run oneclass's own kernels on `device`: on the CPU, unless switched off by
/// set_own_kernels(false) or by the environment variable ONECLASS_LIBTORCH_KERNELS=1.
bool own_kernels_on(const c10::Device& device);

/// Switches the own kernels on or off for the whole process (for benchmarks; a network trained
/// under one setting may be scored under the other). Switch between fits, not during one: each
/// layer reads the setting when it runs, and the weights' layout is chosen when a fit starts.
void set_own_kernels(bool on);

}  // namespace oneclass::nn
