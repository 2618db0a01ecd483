#include "nn/lenet_layers.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <utility>
#include <vector>

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include "nn/own_kernels.h"
#include "nn/simd.h"

namespace oneclass::nn {
namespace {

namespace F = torch::nn::functional;
using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

bool own_kernels_for(const at::Tensor& x) {
  return own_kernels_on(x.device()) && x.layout() == at::kStrided && x.scalar_type() == at::kFloat && x.dim() == 4;
}

// Planes (one image's channel) per task: about 16k floats, so that small maps are not split finer.
int64_t plane_grain(const at::Tensor& x) { return std::max<int64_t>(1, 16384 / std::max<int64_t>(1, x.size(2) * x.size(3))); }

// Under create_graph the gradient must be differentiable: it is then rebuilt from LibTorch's
// version of the layer, recomputed on the saved input (reentrant backward, as checkpointing does).
at::Tensor differentiable_grad(const std::function<at::Tensor(const at::Tensor&)>& layer, const at::Tensor& input,
                               const at::Tensor& grad_output) {
  return torch::autograd::grad({layer(input)}, {input}, {grad_output}, /*retain_graph=*/true, /*create_graph=*/true)[0];
}

at::Tensor libtorch_max_pool2(const at::Tensor& x) { return F::max_pool2d(x, F::MaxPool2dFuncOptions(2)); }

at::Tensor libtorch_upsample2(const at::Tensor& x) {
  return F::interpolate(x, F::InterpolateFuncOptions().scale_factor(std::vector<double>{2.0, 2.0}).mode(torch::kNearest));
}

// ---- 2x2 max pooling. The window's position of the maximum (0-3, row by row) is kept as a byte.

using simd::Lanes;
using simd::load;
using simd::store;
using simd::Vec;

// LibTorch's rule for the maximum of a window: scan it row by row, take a later value if larger
// or NaN. Without branches, for one output or a vector of them.
template <typename T, typename Index>
ONECLASS_INLINE void take_later(const T& value, const Index& k, T& best, Index& best_at) {
  const auto take = (value > best) | (value != value);
  best = take ? value : best;
  best_at = take ? k : best_at;
}

// Outputs [j, j + 8) of one row of 2x2 windows over input rows top and bottom.
ONECLASS_INLINE void pool_8(const float* top, const float* bottom, float* out, uint8_t* position, int64_t j) {
  const Vec t0 = load(top + 2 * j), t1 = load(top + 2 * j + 8), b0 = load(bottom + 2 * j), b1 = load(bottom + 2 * j + 8);
  Vec best = simd::even_lanes(t0, t1);
  Lanes best_at = {};
  take_later(simd::odd_lanes(t0, t1), Lanes{} + 1, best, best_at);
  take_later(simd::even_lanes(b0, b1), Lanes{} + 2, best, best_at);
  take_later(simd::odd_lanes(b0, b1), Lanes{} + 3, best, best_at);
  store(out + j, best);
  for (int l = 0; l < 8; ++l) position[j + l] = static_cast<uint8_t>(best_at[l]);
}

// Pools planes [begin, end) of x [planes, height, width] into y and position [planes, height / 2, width / 2].
ONECLASS_CLONES void pool_planes(const float* x, float* y, uint8_t* position, int64_t begin, int64_t end, int64_t height,
                                 int64_t width) {
  const int64_t out_h = height / 2, out_w = width / 2;
  for (int64_t p = begin; p < end; ++p) {
    for (int64_t i = 0; i < out_h; ++i) {
      const float* top = x + (p * height + 2 * i) * width;
      const float* bottom = top + width;
      float* out = y + (p * out_h + i) * out_w;
      uint8_t* maxima = position + (p * out_h + i) * out_w;
      if (out_w >= 8) {
        // Vectors of 8 outputs; the last one overlaps the one before when the row is not a multiple of 8.
        for (int64_t j = 0; j + 8 <= out_w; j += 8) pool_8(top, bottom, out, maxima, j);
        if (out_w % 8 != 0) pool_8(top, bottom, out, maxima, out_w - 8);
        continue;
      }
      for (int64_t j = 0; j < out_w; ++j) {
        float best = top[2 * j];
        int best_at = 0;
        take_later(top[2 * j + 1], 1, best, best_at);
        take_later(bottom[2 * j], 2, best, best_at);
        take_later(bottom[2 * j + 1], 3, best, best_at);
        out[j] = best;
        maxima[j] = static_cast<uint8_t>(best_at);
      }
    }
  }
}

// The gradient of outputs [j, j + 8) of one row of windows, to the positions of their maxima.
ONECLASS_INLINE void unpool_8(const float* g, const uint8_t* position, float* top, float* bottom, int64_t j) {
  const Vec grad = load(g + j), zero = {};
  Lanes where;
  for (int l = 0; l < 8; ++l) where[l] = position[j + l];
  const Vec a = where == 0 ? grad : zero, b = where == 1 ? grad : zero, c = where == 2 ? grad : zero;
  const Vec d = where == 3 ? grad : zero;
  store(top + 2 * j, simd::interleave_low(a, b));
  store(top + 2 * j + 8, simd::interleave_high(a, b));
  store(bottom + 2 * j, simd::interleave_low(c, d));
  store(bottom + 2 * j + 8, simd::interleave_high(c, d));
}

// The gradient of planes [begin, end): dy and position [planes, height / 2, width / 2] to dx
// [planes, height, width] (a trailing odd row or column is left as it is).
ONECLASS_CLONES void unpool_planes(const float* dy, const uint8_t* position, float* dx, int64_t begin, int64_t end,
                                   int64_t height, int64_t width) {
  const int64_t out_h = height / 2, out_w = width / 2;
  for (int64_t p = begin; p < end; ++p) {
    for (int64_t i = 0; i < out_h; ++i) {
      const float* g = dy + (p * out_h + i) * out_w;
      const uint8_t* maxima = position + (p * out_h + i) * out_w;
      float* top = dx + (p * height + 2 * i) * width;
      float* bottom = top + width;
      if (out_w >= 8) {
        for (int64_t j = 0; j + 8 <= out_w; j += 8) unpool_8(g, maxima, top, bottom, j);
        if (out_w % 8 != 0) unpool_8(g, maxima, top, bottom, out_w - 8);
        continue;
      }
      for (int64_t j = 0; j < out_w; ++j) {
        top[2 * j] = maxima[j] == 0 ? g[j] : 0.0f;
        top[2 * j + 1] = maxima[j] == 1 ? g[j] : 0.0f;
        bottom[2 * j] = maxima[j] == 2 ? g[j] : 0.0f;
        bottom[2 * j + 1] = maxima[j] == 3 ? g[j] : 0.0f;
      }
    }
  }
}

// The pooled maps, and the window position of each maximum.
std::pair<at::Tensor, at::Tensor> max_pool_kernel(const at::Tensor& input) {
  const auto x = input.contiguous();
  const int64_t planes = x.size(0) * x.size(1), height = x.size(2), width = x.size(3);
  const int64_t out_h = height / 2, out_w = width / 2;
  auto y = at::empty({x.size(0), x.size(1), out_h, out_w}, x.options());
  auto where = at::empty(y.sizes(), x.options().dtype(at::kByte));
  const float* xs = x.data_ptr<float>();
  float* ys = y.data_ptr<float>();
  uint8_t* ws = where.data_ptr<uint8_t>();
  at::parallel_for(0, planes, plane_grain(x), [&](int64_t begin, int64_t end) {
    pool_planes(xs, ys, ws, begin, end, height, width);
  });
  return {y, where};
}

class MaxPool2 : public torch::autograd::Function<MaxPool2> {
 public:
  static at::Tensor forward(AutogradContext* context, const at::Tensor& input) {
    auto [y, where] = max_pool_kernel(input);
    context->save_for_backward({input, where});
    return y;
  }

  static variable_list backward(AutogradContext* context, variable_list grads) {
    const auto saved = context->get_saved_variables();
    const auto &input = saved[0], &where = saved[1];
    if (at::GradMode::is_enabled()) return {differentiable_grad(libtorch_max_pool2, input, grads[0])};
    const auto dy = grads[0].contiguous();
    const int64_t planes = input.size(0) * input.size(1), height = input.size(2), width = input.size(3);
    // A trailing odd row or column gets no gradient; every other element is written below.
    auto dx = height % 2 == 0 && width % 2 == 0 ? at::empty(input.sizes(), dy.options()) : at::zeros(input.sizes(), dy.options());
    const float* dys = dy.data_ptr<float>();
    const uint8_t* ws = where.data_ptr<uint8_t>();
    float* dxs = dx.data_ptr<float>();
    at::parallel_for(0, planes, plane_grain(input), [&](int64_t begin, int64_t end) {
      unpool_planes(dys, ws, dxs, begin, end, height, width);
    });
    return {dx};
  }
};

// ---- Nearest-neighbour upsampling by 2; its gradient sums each 2x2 block.

// Upsamples planes [begin, end) of x [planes, height, width] into y [planes, 2 height, 2 width].
ONECLASS_CLONES void upsample_planes(const float* x, float* y, int64_t begin, int64_t end, int64_t height, int64_t width) {
  for (int64_t p = begin; p < end; ++p) {
    for (int64_t i = 0; i < height; ++i) {
      const float* in = x + (p * height + i) * width;
      float* top = y + (p * 2 * height + 2 * i) * 2 * width;
      for (int64_t j = 0; j < width; ++j) top[2 * j] = top[2 * j + 1] = in[j];
      simd::copy(top + 2 * width, top, 2 * width);
    }
  }
}

at::Tensor upsample_kernel(const at::Tensor& input) {
  const auto x = input.contiguous();
  const int64_t planes = x.size(0) * x.size(1), height = x.size(2), width = x.size(3);
  auto y = at::empty({x.size(0), x.size(1), 2 * height, 2 * width}, x.options());
  const float* xs = x.data_ptr<float>();
  float* ys = y.data_ptr<float>();
  at::parallel_for(0, planes, plane_grain(y), [&](int64_t begin, int64_t end) {
    upsample_planes(xs, ys, begin, end, height, width);
  });
  return y;
}

class Upsample2 : public torch::autograd::Function<Upsample2> {
 public:
  static at::Tensor forward(AutogradContext* context, const at::Tensor& input) {
    context->save_for_backward({input});
    return upsample_kernel(input);
  }

  static variable_list backward(AutogradContext* context, variable_list grads) {
    const auto input = context->get_saved_variables()[0];
    if (at::GradMode::is_enabled()) return {differentiable_grad(libtorch_upsample2, input, grads[0])};
    const auto dy = grads[0].contiguous();
    const int64_t planes = input.size(0) * input.size(1), height = input.size(2), width = input.size(3);
    auto dx = at::empty(input.sizes(), dy.options());
    const float* dys = dy.data_ptr<float>();
    float* dxs = dx.data_ptr<float>();
    at::parallel_for(0, planes, plane_grain(dy), [&](int64_t begin, int64_t end) {
      for (int64_t p = begin; p < end; ++p) {
        for (int64_t i = 0; i < height; ++i) {
          const float* top = dys + (p * 2 * height + 2 * i) * 2 * width;
          const float* bottom = top + 2 * width;
          float* out = dxs + (p * height + i) * width;
          for (int64_t j = 0; j < width; ++j) out[j] = (top[2 * j] + top[2 * j + 1]) + (bottom[2 * j] + bottom[2 * j + 1]);
        }
      }
    });
    return {dx};
  }
};

// ---- Batch norm without affine parameters. Each channel's sums add each image's plane (summed in
// float lanes) in double precision, over the images in order, so that the result does not depend
// on the thread count.

struct ChannelView {
  int64_t images, channels, plane;  // x [images, channels, plane]
};

ChannelView channel_view(const at::Tensor& x) { return {x.size(0), x.size(1), x.size(2) * x.size(3)}; }

// Planes per task of the element-wise passes: about 16k floats.
int64_t grain_of(const ChannelView& v) { return std::max<int64_t>(1, 16384 / std::max<int64_t>(1, v.plane)); }

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
  at::parallel_for(0, v.images * v.channels, grain_of(v), [&](int64_t begin, int64_t end) {
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
    at::parallel_for(0, v.images * v.channels, grain_of(v), [&](int64_t begin, int64_t end) {
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

at::Tensor max_pool2(const at::Tensor& x) {
  if (!own_kernels_for(x)) return libtorch_max_pool2(x);
  if (at::GradMode::is_enabled() && x.requires_grad()) return MaxPool2::apply(x);
  return max_pool_kernel(x).first;
}

at::Tensor upsample2(const at::Tensor& x) {
  if (!own_kernels_for(x)) return libtorch_upsample2(x);
  if (at::GradMode::is_enabled() && x.requires_grad()) return Upsample2::apply(x);
  return upsample_kernel(x);
}

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
