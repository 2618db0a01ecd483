#pragma once
// Floating-point operations of a detector's training step, counted by LibTorch's profiler, for the
// benchmarks that report a FLOP rate (bench_detectors, bench_roofline).
#include <algorithm>
#include <string>

#include <torch/csrc/autograd/profiler_legacy.h>
#include <torch/torch.h>

#include "nn/own_kernels.h"
#include "oneclass/detectors/detector.h"
#include "oneclass/detectors/registry.h"

namespace oneclass::bench {

/// While alive, the convolutional networks run LibTorch's kernels instead of oneclass's own.
class OnLibTorchKernels {
 public:
  OnLibTorchKernels() : before_(nn::own_kernels_on(c10::Device(c10::kCPU))) { nn::set_own_kernels(false); }
  ~OnLibTorchKernels() { nn::set_own_kernels(before_); }
  OnLibTorchKernels(const OnLibTorchKernels&) = delete;
  OnLibTorchKernels& operator=(const OnLibTorchKernels&) = delete;

 private:
  bool before_;
};

/// Multiply-adds x 2 of a training step of `model` (with `options`), averaged over the phases of a
/// fit: a fresh detector is fitted on one batch of `images`, so that each step is an epoch and
/// every phase (deep-svdd's pretraining and training) takes its share of steps. LibTorch's profiler
/// counts the convolutions' forward and the matrix products forward and backward; each
/// convolution's backward, which it does not count, is taken as twice its forward. That makes it
/// an upper bound by a few per cent: the first layer's input gradient is not computed, and a pass
/// without gradients inside a step (deep-svdd's centre) is counted as if it had a backward.
/// 0 for a detector whose steps run outside LibTorch's operators (mlp-ae's fused kernel), and for
/// batches of more than 2^18 values (256 x 256 x 3 images: see below). The count
/// runs on LibTorch's kernels (the profiler does not count oneclass's own), whose arithmetic is the
/// same.
inline double flops_per_step(const std::string& model, const nlohmann::json& options, const at::Tensor& images) {
  using namespace torch::autograd::profiler;
  const OnLibTorchKernels counted_on_libtorch_kernels;
  auto detector = make_detector(model, options);
  const auto plan = detector->plan();
  if (plan.epochs <= 0) return 0;
  // The profiler keeps every convolution's and product's inputs alive until it stops (to count
  // their FLOPs): at 256x256 a GAN's steps on whole batches held tens of GB. Such batches are not
  // counted (0), rather than counted on fewer images: a GAN's per-epoch health check, run in every
  // watched step, would then weigh as much as the step itself.
  if (std::min<int64_t>(plan.batch_size, images.size(0)) * images[0].numel() > (int64_t{1} << 18)) return 0;
  const auto batch = images.narrow(0, 0, std::min<int64_t>(plan.batch_size, images.size(0)));
  FitContext context;
  if (detector->labeled_anomalies_wanted() > 0) context.labeled_anomalies = images.narrow(0, 0, detector->labeled_anomalies_wanted());
  detector->begin_fit(batch, context);
  enableProfilerLegacy(ProfilerConfig(ProfilerState::CPU, /*report_input_shapes=*/true, /*profile_memory=*/false,
                                      /*with_stack=*/false, /*with_flops=*/true));
  for (int epoch = 0; epoch < plan.epochs; ++epoch) detector->train_step(batch);
  double flops = 0;
  for (auto& thread_events : disableProfilerLegacy()) {
    for (auto& event : thread_events) {
      const std::string name = event.name();
      if (name == "aten::conv2d") flops += 3.0 * double(event.flops());
      if (name == "aten::mm" || name == "aten::addmm" || name == "aten::bmm" || name == "aten::baddbmm") {
        flops += double(event.flops());
      }
    }
  }
  return flops / plan.epochs * double(plan.batch_size) / double(batch.size(0));
}

}  // namespace oneclass::bench
