#pragma once
// Adam (Kingma & Ba) with L2 weight decay added to the gradient, numerically the same update as
// torch.optim.Adam. On the CPU each parameter is updated in one fused pass (the stock optimiser
// makes ~8 passes over memory per parameter, which dominates small-model training).
#include <vector>

#include <ATen/core/Tensor.h>

namespace oneclass::nn {

struct AdamOptions {
  double lr = 3e-4;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
};

class Adam {
 public:
  Adam(std::vector<at::Tensor> parameters, AdamOptions options);
  /// Updates every parameter in place from its gradient (same order as the parameters).
  void step(const std::vector<at::Tensor>& gradients);
  long steps_taken() const { return step_; }

 private:
  std::vector<at::Tensor> params_, exp_avg_, exp_avg_sq_;
  AdamOptions options_;
  long step_ = 0;
};

}  // namespace oneclass::nn
