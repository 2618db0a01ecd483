#include "nn/lenet_layers.h"

#include <cstdint>
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
  at::parallel_for(0, planes, planes_per_task(height * width), [&](int64_t begin, int64_t end) {
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
    at::parallel_for(0, planes, planes_per_task(height * width), [&](int64_t begin, int64_t end) {
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
  at::parallel_for(0, planes, planes_per_task(4 * height * width), [&](int64_t begin, int64_t end) {
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
    at::parallel_for(0, planes, planes_per_task(4 * height * width), [&](int64_t begin, int64_t end) {
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

}  // namespace oneclass::nn
