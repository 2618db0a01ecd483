#include "nn/own_kernels.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>

#include <torch/torch.h>

namespace oneclass::nn {
namespace {

// On unless the environment asks for LibTorch's kernels; read once, then set_own_kernels's.
std::atomic<bool>& own_kernels_setting() {
  static std::atomic<bool> setting{[] {
    const char* value = std::getenv("ONECLASS_LIBTORCH_KERNELS");
    return value == nullptr || std::strcmp(value, "1") != 0;
  }()};
  return setting;
}

}  // namespace

bool own_kernels_on(const c10::Device& device) { return device.is_cpu() && own_kernels_setting().load(); }

void set_own_kernels(bool on) { own_kernels_setting().store(on); }

bool own_kernels_for(const at::Tensor& x) {
  return own_kernels_on(x.device()) && x.layout() == at::kStrided && x.scalar_type() == at::kFloat && x.dim() == 4;
}

at::Tensor differentiable_grad(const std::function<at::Tensor(const at::Tensor&)>& layer, const at::Tensor& input,
                               const at::Tensor& grad_output) {
  return torch::autograd::grad({layer(input)}, {input}, {grad_output}, /*retain_graph=*/true, /*create_graph=*/true)[0];
}

int64_t planes_per_task(int64_t plane_size) { return std::max<int64_t>(1, 16384 / std::max<int64_t>(1, plane_size)); }

}  // namespace oneclass::nn
