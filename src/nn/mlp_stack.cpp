#include "nn/mlp_stack.h"

#include "nn/mlp_cpu_step.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <torch/torch.h>

namespace oneclass::nn {
namespace {

at::Tensor activate(at::Tensor z, Activation activation) {
  switch (activation) {
    case Activation::kRelu: return z.relu_();
    case Activation::kTanh: return z.tanh_();
    case Activation::kNone: return z;
  }
  return z;
}

// d(loss)/d(pre-activation) from d(loss)/d(output) and the layer's output `a`.
at::Tensor activation_backward(const at::Tensor& grad_out, const at::Tensor& a, Activation activation) {
  switch (activation) {
    case Activation::kRelu: return at::threshold_backward(grad_out, a, 0);
    case Activation::kTanh: return at::tanh_backward(grad_out, a);
    case Activation::kNone: return grad_out;
  }
  return grad_out;
}

}  // namespace

MlpShape autoencoder_shape(int64_t input, const std::vector<int64_t>& hidden, int64_t z) {
  MlpShape shape;
  shape.widths.push_back(input);
  for (int64_t h : hidden) shape.widths.push_back(h);
  shape.widths.push_back(z);
  for (auto h = hidden.rbegin(); h != hidden.rend(); ++h) shape.widths.push_back(*h);
  shape.widths.push_back(input);
  for (size_t l = 0; l + 1 < shape.widths.size(); ++l) {
    const bool bottleneck = l == hidden.size(), output = l + 2 == shape.widths.size();
    shape.activations.push_back(output ? Activation::kTanh : bottleneck ? Activation::kNone : Activation::kRelu);
  }
  return shape;
}

MlpStack::MlpStack(MlpShape shape, int64_t members, c10::Device device)
    : shape_(std::move(shape)), members_(members), device_(device) {
  TORCH_CHECK(shape_.widths.size() >= 2 && shape_.activations.size() == shape_.widths.size() - 1,
              "MlpStack: need one activation per layer");
  auto options = torch::TensorOptions().dtype(torch::kFloat).device(device_);
  for (size_t l = 0; l + 1 < shape_.widths.size(); ++l) {
    const int64_t in = shape_.widths[l], out = shape_.widths[l + 1];
    weights_.push_back(torch::zeros({members_, in, out}, options));
    biases_.push_back(torch::zeros({members_, 1, out}, options));
    grad_weights_.push_back(torch::zeros({members_, in, out}, options));
    grad_biases_.push_back(torch::zeros({members_, 1, out}, options));
  }
}

void MlpStack::init_like_torch_linear(const std::vector<uint64_t>& seeds) {
  TORCH_CHECK(static_cast<int64_t>(seeds.size()) == members_, "one seed per member");
  torch::NoGradGuard no_grad;
  for (int64_t g = 0; g < members_; ++g) {
    auto generator = at::make_generator<at::CPUGeneratorImpl>(seeds[g]);
    for (size_t l = 0; l < weights_.size(); ++l) {
      const int64_t in = shape_.widths[l], out = shape_.widths[l + 1];
      const double bound = 1.0 / std::sqrt(static_cast<double>(in));
      // Drawn in nn.Linear's [out, in] order, stored transposed as [in, out] for x @ W.
      auto w = torch::empty({out, in}).uniform_(-bound, bound, generator);
      auto b = torch::empty({out}).uniform_(-bound, bound, generator);
      weights_[l][g].copy_(w.t());
      biases_[l][g][0].copy_(b);
    }
  }
}

void MlpStack::set_optimizer(AdamOptions options) {
  adam_ = std::make_unique<Adam>(parameters(), options);
  steps_.assign(static_cast<size_t>(members_), 0);
}

void MlpStack::copy_member(int64_t to, const MlpStack& from, int64_t from_member) {
  TORCH_CHECK(from.shape_.widths == shape_.widths, "MlpStack::copy_member: shapes differ");
  torch::NoGradGuard no_grad;
  for (size_t l = 0; l < weights_.size(); ++l) {
    weights_[l][to].copy_(from.weights_[l][from_member]);
    biases_[l][to].copy_(from.biases_[l][from_member]);
  }
}

at::Tensor MlpStack::forward(const at::Tensor& x) const {
  torch::NoGradGuard no_grad;
  at::Tensor a = x;
  for (size_t l = 0; l < weights_.size(); ++l) {
    a = activate(at::baddbmm(biases_[l], a, weights_[l]), shape_.activations[l]);  // [G, B, out]
  }
  return a;
}

bool MlpStack::use_cpu_kernel() const { return cpu_fast_path_ && device_.is_cpu() && cpu_fast_path_available(); }

at::Tensor MlpStack::train_step_mse(const at::Tensor& x, const at::Tensor& target) {
  TORCH_CHECK(adam_, "MlpStack: set_optimizer before training");
  TORCH_CHECK(x.dim() == 3 && x.size(0) == members_ && x.size(2) == shape_.widths.front() &&
                  target.dim() == 3 && target.size(0) == members_ && target.size(1) == x.size(1) &&
                  target.size(2) == shape_.widths.back(),
              "MlpStack::train_step_mse: x must be [G, B, in] and target [G, B, out]");
  const bool same_steps = std::equal(steps_.begin() + 1, steps_.end(), steps_.begin());
  if (!use_cpu_kernel() && same_steps) return train_step_with_torch_ops(x, target, 0, members_);
  return train_step_mse(x.unbind(0), target.unbind(0));
}

at::Tensor MlpStack::train_step_mse(const std::vector<at::Tensor>& xs, const std::vector<at::Tensor>& targets) {
  TORCH_CHECK(adam_, "MlpStack: set_optimizer before training");
  TORCH_CHECK(static_cast<int64_t>(xs.size()) == members_ && targets.size() == xs.size(),
              "MlpStack::train_step_mse: one batch (or an undefined tensor) per member");
  for (size_t g = 0; g < xs.size(); ++g) {
    if (!xs[g].defined()) continue;
    TORCH_CHECK(xs[g].dim() == 2 && xs[g].size(1) == shape_.widths.front() && targets[g].dim() == 2 &&
                    targets[g].size(0) == xs[g].size(0) && targets[g].size(1) == shape_.widths.back(),
                "MlpStack::train_step_mse: member ", g, " needs x [B, in] and target [B, out]");
  }
  if (use_cpu_kernel()) return train_step_with_cpu_kernel(xs, targets);
  // Batched products over the stacked weights when every member takes a batch of one size at the
  // same step count (most steps of a stack); member by member around epoch ends and after a
  // member has finished.
  const bool uniform = std::all_of(xs.begin(), xs.end(), [&](const at::Tensor& x) {
    return x.defined() && x.size(0) == xs[0].size(0) && x.size(0) > 0;
  });
  const bool same_steps = std::equal(steps_.begin() + 1, steps_.end(), steps_.begin());
  if (uniform && same_steps) return train_step_with_torch_ops(torch::stack(xs), torch::stack(targets), 0, members_);
  auto loss = torch::full({members_}, std::numeric_limits<double>::quiet_NaN(), torch::kDouble);
  for (int64_t g = 0; g < members_; ++g) {
    if (!xs[g].defined() || xs[g].size(0) == 0) continue;
    loss[g] = train_step_with_torch_ops(xs[g].unsqueeze(0), targets[g].unsqueeze(0), g, 1)[0];
  }
  return loss;
}

at::Tensor MlpStack::train_step_with_cpu_kernel(const std::vector<at::Tensor>& xs,
                                                const std::vector<at::Tensor>& targets) {
  CpuStackView view;
  view.members = members_;
  view.widths = shape_.widths;
  view.activations = shape_.activations;
  for (size_t l = 0; l < weights_.size(); ++l) {
    view.weights.push_back(weights_[l].data_ptr<float>());
    view.biases.push_back(biases_[l].data_ptr<float>());
    view.grad_weights.push_back(grad_weights_[l].data_ptr<float>());
    view.grad_biases.push_back(grad_biases_[l].data_ptr<float>());
  }
  for (size_t i = 0; i < adam_->exp_avg().size(); ++i) {
    view.exp_avg.push_back(adam_->exp_avg()[i].data_ptr<float>());
    view.exp_avg_sq.push_back(adam_->exp_avg_sq()[i].data_ptr<float>());
  }
  std::vector<at::Tensor> keep_alive;  // contiguous float copies where the input was not
  std::vector<MemberBatch> batches(static_cast<size_t>(members_));
  for (int64_t g = 0; g < members_; ++g) {
    if (!xs[g].defined() || xs[g].size(0) == 0) continue;
    keep_alive.push_back(xs[g].to(torch::kFloat).contiguous());
    keep_alive.push_back(targets[g].to(torch::kFloat).contiguous());
    batches[g] = {keep_alive[keep_alive.size() - 2].data_ptr<float>(), keep_alive.back().data_ptr<float>(),
                  xs[g].size(0), ++steps_[g]};
  }
  auto loss = torch::full({members_}, std::numeric_limits<double>::quiet_NaN(), torch::kDouble);
  cpu_train_step_mse(view, batches, adam_->options(), loss.data_ptr<double>());
  return loss;
}

at::Tensor MlpStack::train_step_with_torch_ops(const at::Tensor& x, const at::Tensor& target, int64_t first,
                                               int64_t count) {
  torch::NoGradGuard no_grad;
  const size_t layers = weights_.size();
  auto member = [&](const at::Tensor& stacked) { return stacked.narrow(0, first, count); };
  // Forward, keeping every layer's output: outputs[0] is the input.
  std::vector<at::Tensor> outputs{x};
  outputs.reserve(layers + 1);
  for (size_t l = 0; l < layers; ++l) {
    outputs.push_back(
        activate(at::baddbmm(member(biases_[l]), outputs[l], member(weights_[l])), shape_.activations[l]));
  }
  // loss_g = mean over the member's batch of (y - t)^2; d loss / d y = 2 (y - t) / (B * D).
  const auto& y = outputs.back();
  auto diff = y - target;                                           // [G, B, D]
  const double per_member = static_cast<double>(diff.size(1) * diff.size(2));
  auto loss = diff.square().sum({1, 2}).to(torch::kDouble) / per_member;  // [G]
  auto grad = diff.mul_(2.0 / per_member);
  for (size_t l = layers; l-- > 0;) {
    auto grad_z = activation_backward(grad, outputs[l + 1], shape_.activations[l]);  // [G, B, out]
    auto grad_weight = member(grad_weights_[l]), grad_bias = member(grad_biases_[l]);
    at::bmm_out(grad_weight, outputs[l].transpose(1, 2), grad_z);                     // [G, in, out]
    at::sum_out(grad_bias, grad_z, {1}, /*keepdim=*/true);                            // [G, 1, out]
    if (l > 0) grad = at::bmm(grad_z, member(weights_[l]).transpose(1, 2));           // [G, B, in]
  }
  std::vector<at::Tensor> grads;
  grads.reserve(2 * layers);
  for (size_t l = 0; l < layers; ++l) {
    grads.push_back(grad_weights_[l]);
    grads.push_back(grad_biases_[l]);
  }
  const long step = ++steps_[first];
  for (int64_t g = first + 1; g < first + count; ++g) steps_[g] = step;
  adam_->step(grads, step, first, count);
  return loss;
}

std::vector<at::Tensor> MlpStack::parameters() const {
  std::vector<at::Tensor> params;
  for (size_t l = 0; l < weights_.size(); ++l) {
    params.push_back(weights_[l]);
    params.push_back(biases_[l]);
  }
  return params;
}

}  // namespace oneclass::nn
