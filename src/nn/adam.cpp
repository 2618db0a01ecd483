#include "nn/adam.h"

#include <cmath>

#include <ATen/Parallel.h>
#include <torch/torch.h>

namespace oneclass::nn {
namespace {

// Any device: the same update with tensor operations.
void tensor_update(at::Tensor p, const at::Tensor& g_in, at::Tensor m, at::Tensor v, const AdamStepConstants& c) {
  auto g = c.weight_decay != 0 ? g_in.add(p, c.weight_decay) : g_in;
  m.mul_(c.beta1).add_(g, c.one_minus_beta1);
  v.mul_(c.beta2).addcmul_(g, g, c.one_minus_beta2);
  auto denom = (v.sqrt() / c.bias_correction2_sqrt).add_(c.eps);
  p.addcdiv_(m, denom, -c.step_size);
}

}  // namespace

AdamStepConstants adam_step_constants(const AdamOptions& o, long step) {
  const double bias_correction1 = 1.0 - std::pow(o.beta1, static_cast<double>(step));
  const double bias_correction2 = 1.0 - std::pow(o.beta2, static_cast<double>(step));
  return {static_cast<float>(o.beta1),         static_cast<float>(o.beta2),
          static_cast<float>(1.0 - o.beta1),   static_cast<float>(1.0 - o.beta2),
          static_cast<float>(o.lr / bias_correction1), static_cast<float>(std::sqrt(bias_correction2)),
          static_cast<float>(o.eps),           static_cast<float>(o.weight_decay)};
}

Adam::Adam(std::vector<at::Tensor> parameters, AdamOptions options)
    : params_(std::move(parameters)), options_(options) {
  for (const auto& p : params_) {
    TORCH_CHECK(p.is_contiguous() && p.scalar_type() == at::kFloat, "Adam needs contiguous float parameters");
    exp_avg_.push_back(torch::zeros_like(p));
    exp_avg_sq_.push_back(torch::zeros_like(p));
  }
}

void Adam::step(const std::vector<at::Tensor>& gradients, long step_number, int64_t first, int64_t count) {
  TORCH_CHECK(gradients.size() == params_.size(), "Adam::step: one gradient per parameter");
  const AdamStepConstants c = adam_step_constants(options_, step_number);
  for (size_t i = 0; i < params_.size(); ++i) {
    auto p = params_[i].narrow(0, first, count);
    const auto g = gradients[i].narrow(0, first, count);
    if (!p.is_cpu()) {
      tensor_update(p, g, exp_avg_[i].narrow(0, first, count), exp_avg_sq_[i].narrow(0, first, count), c);
      continue;
    }
    // A run of whole members of a contiguous stack is itself contiguous.
    TORCH_CHECK(g.is_contiguous() && g.numel() == p.numel(), "Adam::step: gradient shape mismatch");
    const int64_t offset = first * (params_[i].numel() / params_[i].size(0));
    float* pp = params_[i].data_ptr<float>() + offset;
    const float* gp = gradients[i].data_ptr<float>() + offset;
    float* mp = exp_avg_[i].data_ptr<float>() + offset;
    float* vp = exp_avg_sq_[i].data_ptr<float>() + offset;
    // Small tensors (biases) are not worth waking a second thread for.
    at::parallel_for(0, p.numel(), /*grain_size=*/32768, [&](int64_t begin, int64_t end) {
      adam_update_range(pp, gp, mp, vp, begin, end, c);
    });
  }
}

}  // namespace oneclass::nn
