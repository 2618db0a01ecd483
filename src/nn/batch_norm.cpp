// Batch norm without affine parameters on the CPU (batch_norm.h). Each channel's sums add each
// image's plane (summed in float lanes) in double precision, over the images in order, so that the
// result does not depend on the thread count.
#include "nn/batch_norm.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include "nn/own_kernels.h"
#include "nn/simd.h"

namespace oneclass::nn {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

struct ChannelView {
  int64_t images, channels, plane;  // x [images, channels, plane]
};

ChannelView channel_view(const at::Tensor& x) { return {x.size(0), x.size(1), x.size(2) * x.size(3)}; }

// Sums over one plane in 8 float lanes (which the compiler vectorises), added up in double.
using simd::kLanes;

ONECLASS_INLINE double lanes_total(const float (&lanes)[kLanes]) {
  double total = 0;
  for (const float lane : lanes) total += lane;
  return total;
}

// The sum of p[i] - shift over the plane, and of its square.
ONECLASS_CLONES void plane_moments(const float* p, int64_t size, float shift, double& sum, double& squares) {
  float sums[kLanes] = {}, squared[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= size; i += kLanes) {
    for (int64_t l = 0; l < kLanes; ++l) {
      const float d = p[i + l] - shift;
      sums[l] += d;
      squared[l] += d * d;
    }
  }
  sum += lanes_total(sums);
  squares += lanes_total(squared);
  for (; i < size; ++i) {
    const double d = double(p[i]) - shift;
    sum += d;
    squares += d * d;
  }
}

// The sum of g over the plane, and of g * (x - shift).
ONECLASS_CLONES void plane_gradient_sums(const float* g, const float* x, int64_t size, float shift, double& sum, double& dot) {
  float sums[kLanes] = {}, dots[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= size; i += kLanes) {
    for (int64_t l = 0; l < kLanes; ++l) {
      sums[l] += g[i + l];
      dots[l] += g[i + l] * (x[i + l] - shift);
    }
  }
  sum += lanes_total(sums);
  dot += lanes_total(dots);
  for (; i < size; ++i) {
    sum += g[i];
    dot += double(g[i]) * (x[i] - shift);
  }
}

// The mean of channel c of x, and of (x - mean)^2. A first pass about the first value keeps the
// second, about the mean, accurate when the mean is large against the spread.
void channel_moments(const float* x, const ChannelView& v, int64_t c, double& mean, double& variance) {
  const double count = double(v.images * v.plane);
  const float first = x[c * v.plane];
  double sum = 0, squares = 0;
  for (int64_t n = 0; n < v.images; ++n) plane_moments(x + (n * v.channels + c) * v.plane, v.plane, first, sum, squares);
  mean = first + sum / count;
  const auto centre = static_cast<float>(mean);
  sum = squares = 0;
  for (int64_t n = 0; n < v.images; ++n) plane_moments(x + (n * v.channels + c) * v.plane, v.plane, centre, sum, squares);
  variance = std::max(0.0, squares / count - (sum / count) * (sum / count));  // about the float-rounded centre
}

// y = (x - shift[c]) * scale[c] for planes [begin, end).
ONECLASS_CLONES void normalise_planes(const float* x, float* y, const ChannelView& v, const float* shift, const float* scale,
                                      int64_t begin, int64_t end) {
  for (int64_t p = begin; p < end; ++p) {
    const float s = shift[p % v.channels], k = scale[p % v.channels];
    for (int64_t i = p * v.plane; i < (p + 1) * v.plane; ++i) y[i] = (x[i] - s) * k;
  }
}

void normalise(const float* x, float* y, const ChannelView& v, const float* shift, const float* scale) {
  at::parallel_for(0, v.images * v.channels, planes_per_task(v.plane), [&](int64_t begin, int64_t end) {
    normalise_planes(x, y, v, shift, scale, begin, end);
  });
}

// The input's gradient for planes [begin, end): inverse_std * (g - mean(g) - x_hat * mean(g * x_hat)).
ONECLASS_CLONES void normalised_gradient_planes(const float* x, const float* dy, float* dx, const ChannelView& v,
                                                const float* means, const float* inverse_stds, const float* grad_mean,
                                                const float* grad_projection, int64_t begin, int64_t end) {
  for (int64_t p = begin; p < end; ++p) {
    const int64_t c = p % v.channels;
    const float m = means[c], k = inverse_stds[c], gm = grad_mean[c], gp = grad_projection[c];
    for (int64_t i = p * v.plane; i < (p + 1) * v.plane; ++i) dx[i] = k * (dy[i] - gm - (x[i] - m) * k * gp);
  }
}

class BatchNormTraining : public torch::autograd::Function<BatchNormTraining> {
 public:
  // Normalises by the batch's statistics and updates running_mean and running_var in place.
  static at::Tensor forward(AutogradContext* context, const at::Tensor& input, at::Tensor running_mean,
                            at::Tensor running_var, double momentum, double eps) {
    const auto x = input.contiguous();
    const auto v = channel_view(x);
    auto mean = at::empty({v.channels}, x.options()), inverse_std = at::empty({v.channels}, x.options());
    const float* xs = x.data_ptr<float>();
    float* means = mean.data_ptr<float>();
    float* inverse_stds = inverse_std.data_ptr<float>();
    std::vector<double> unbiased(v.channels);
    const double count = double(v.images * v.plane);
    at::parallel_for(0, v.channels, 1, [&](int64_t begin, int64_t end) {
      for (int64_t c = begin; c < end; ++c) {
        double m = 0, variance = 0;
        channel_moments(xs, v, c, m, variance);
        means[c] = static_cast<float>(m);
        inverse_stds[c] = static_cast<float>(1.0 / std::sqrt(variance + eps));
        unbiased[c] = variance * count / (count - 1);
      }
    });
    auto y = at::empty(x.sizes(), x.options());
    normalise(xs, y.data_ptr<float>(), v, means, inverse_stds);
    {
      // In place, as LibTorch's module updates them (the buffers' version counters move too).
      at::NoGradGuard no_grad;
      const auto unbiased_var = at::tensor(unbiased, at::kDouble).to(running_var.scalar_type());
      running_mean.mul_(1 - momentum).add_(mean, momentum);
      running_var.mul_(1 - momentum).add_(unbiased_var, momentum);
    }
    context->save_for_backward({input, mean, inverse_std});
    context->saved_data["eps"] = eps;
    return y;
  }

  // dx = inverse_std * (g - mean(g) - x_hat * mean(g * x_hat)), per channel.
  static variable_list backward(AutogradContext* context, variable_list grads) {
    const auto saved = context->get_saved_variables();
    const auto &input = saved[0], &mean = saved[1], &inverse_std = saved[2];
    if (at::GradMode::is_enabled()) {
      const double eps = context->saved_data["eps"].toDouble();
      const auto batch_statistics = [eps](const at::Tensor& x) {
        return at::batch_norm(x, {}, {}, {}, {}, /*training=*/true, 0.0, eps, /*cudnn_enabled=*/false);
      };
      return {differentiable_grad(batch_statistics, input, grads[0]), {}, {}, {}, {}};
    }
    const auto x = input.contiguous(), dy = grads[0].contiguous();
    const auto v = channel_view(x);
    const float* xs = x.data_ptr<float>();
    const float* dys = dy.data_ptr<float>();
    const float* means = mean.data_ptr<float>();
    const float* inverse_stds = inverse_std.data_ptr<float>();
    std::vector<float> grad_mean(v.channels), grad_projection(v.channels);
    const double count = double(v.images * v.plane);
    at::parallel_for(0, v.channels, 1, [&](int64_t begin, int64_t end) {
      for (int64_t c = begin; c < end; ++c) {
        double sum = 0, dot = 0;
        for (int64_t n = 0; n < v.images; ++n) {
          const int64_t offset = (n * v.channels + c) * v.plane;
          plane_gradient_sums(dys + offset, xs + offset, v.plane, means[c], sum, dot);
        }
        grad_mean[c] = static_cast<float>(sum / count);
        grad_projection[c] = static_cast<float>(dot * inverse_stds[c] / count);  // the mean of g * x_hat
      }
    });
    auto dx = at::empty(x.sizes(), x.options());
    float* dxs = dx.data_ptr<float>();
    at::parallel_for(0, v.images * v.channels, planes_per_task(v.plane), [&](int64_t begin, int64_t end) {
      normalised_gradient_planes(xs, dys, dxs, v, means, inverse_stds, grad_mean.data(), grad_projection.data(), begin, end);
    });
    return {dx, {}, {}, {}, {}};
  }
};

at::Tensor batch_norm_evaluation(const at::Tensor& input, const at::Tensor& running_mean, const at::Tensor& running_var,
                                 double eps) {
  const auto x = input.contiguous();
  const auto v = channel_view(x);
  std::vector<float> inverse_std(v.channels);
  const auto rv = running_var.contiguous();
  for (int64_t c = 0; c < v.channels; ++c) inverse_std[c] = static_cast<float>(1.0 / std::sqrt(double(rv.data_ptr<float>()[c]) + eps));
  auto y = at::empty(x.sizes(), x.options());
  normalise(x.data_ptr<float>(), y.data_ptr<float>(), v, running_mean.contiguous().data_ptr<float>(), inverse_std.data());
  return y;
}

}  // namespace

at::Tensor batch_norm(torch::nn::BatchNorm2d& norm, const at::Tensor& x) {
  const auto& options = norm->options;
  const bool own = own_kernels_for(x) && !options.affine() && options.track_running_stats() && options.momentum().has_value();
  // LibTorch's refuses a single value per channel in training mode, with its own message.
  if (!own || (norm->is_training() && x.size(0) * x.size(2) * x.size(3) <= 1)) return norm(x);
  if (!norm->is_training()) {
    // A gradient through the running statistics (AnoGAN's latent search, f-AnoGAN's encoder
    // through its frozen generator) is LibTorch's to build.
    if (at::GradMode::is_enabled() && x.requires_grad()) return norm(x);
    return batch_norm_evaluation(x, norm->running_mean, norm->running_var, options.eps());
  }
  norm->num_batches_tracked += 1;
  return BatchNormTraining::apply(x, norm->running_mean, norm->running_var, *options.momentum(), options.eps());
}

}  // namespace oneclass::nn
