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

/// Per-step scalars of the update (bias corrections folded in), computed in double precision.
struct AdamStepConstants {
  float beta1, beta2, one_minus_beta1, one_minus_beta2;
  float step_size;              // lr / (1 - beta1^t)
  float bias_correction2_sqrt;  // sqrt(1 - beta2^t)
  float eps, weight_decay;
};
AdamStepConstants adam_step_constants(const AdamOptions& options, long step);

/// Updates elements [begin, end) of one parameter in a single pass over p, g, m and v.
void adam_update_range(float* p, const float* g, float* m, float* v, int64_t begin, int64_t end,
                       const AdamStepConstants& c);

/// Adam's moments for stacked parameters (dimension 0 = member of a stack). The caller counts the
/// steps, per member: members of one stack may have taken different numbers of steps.
class Adam {
 public:
  Adam(std::vector<at::Tensor> parameters, AdamOptions options);
  /// Updates members [first, first + count) of every parameter in place from their gradients
  /// (full stacked tensors, same order as the parameters); `step_number` is those members' step
  /// number after this update (1 for the first).
  void step(const std::vector<at::Tensor>& gradients, long step_number, int64_t first, int64_t count);
  const AdamOptions& options() const { return options_; }
  std::vector<at::Tensor>& exp_avg() { return exp_avg_; }
  std::vector<at::Tensor>& exp_avg_sq() { return exp_avg_sq_; }

 private:
  std::vector<at::Tensor> params_, exp_avg_, exp_avg_sq_;
  AdamOptions options_;
};

}  // namespace oneclass::nn
