#include "nn/conv.h"

#include <vector>

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include "nn/conv_kernel.h"
#include "nn/own_kernels.h"

namespace oneclass::nn {
namespace {

namespace kernel = conv_kernel;

// Images per partial sum of the weight gradient. Fixed rather than one per thread, so that the
// order of the sum, and so the trained weights, are the same whatever the thread count.
constexpr int64_t kImagesPerPartial = 4;

kernel::ConvShape shape_of(const at::Tensor& x, const at::Tensor& w) {
  return {x.size(1), w.size(0), x.size(2), x.size(3), w.size(2)};
}

at::Tensor direct_forward(const at::Tensor& input, const at::Tensor& weight) {
  const auto x = input.contiguous(), w = weight.contiguous();
  const auto s = shape_of(x, w);
  auto y = at::empty({x.size(0), s.out_channels, s.height, s.width}, x.options());
  const float* xs = x.data_ptr<float>();
  const float* ws = w.data_ptr<float>();
  float* ys = y.data_ptr<float>();
  const int64_t in_size = s.in_channels * s.height * s.width, out_size = s.out_channels * s.height * s.width;
  at::parallel_for(0, x.size(0), 1, [&](int64_t begin, int64_t end) {
    std::vector<float> scratch(kernel::scratch_floats(s));
    for (int64_t n = begin; n < end; ++n) kernel::forward_image(xs + n * in_size, ws, ys + n * out_size, s, scratch.data());
  });
  return y;
}

// The input's gradient is the convolution of the output's gradient with the flipped filters.
at::Tensor direct_input_grad(const at::Tensor& grad_output, const at::Tensor& weight) {
  const auto w = weight.contiguous();
  auto flipped = at::empty({w.size(1), w.size(0), w.size(2), w.size(3)}, w.options());
  kernel::ConvShape filters{};  // only the filters' shape matters here
  filters.in_channels = w.size(1);
  filters.out_channels = w.size(0);
  filters.kernel = w.size(2);
  kernel::flip_weights(w.data_ptr<float>(), flipped.data_ptr<float>(), filters);
  return direct_forward(grad_output, flipped);
}

at::Tensor direct_weight_grad(const at::Tensor& input, const at::Tensor& grad_output, const at::Tensor& weight) {
  const auto x = input.contiguous(), dy = grad_output.contiguous();
  const auto s = shape_of(x, weight);
  const int64_t images = x.size(0), parts = (images + kImagesPerPartial - 1) / kImagesPerPartial;
  const int64_t taps = weight.numel();
  std::vector<float> partial(static_cast<size_t>(parts * taps), 0.0f);
  const float* xs = x.data_ptr<float>();
  const float* dys = dy.data_ptr<float>();
  const int64_t in_size = s.in_channels * s.height * s.width, out_size = s.out_channels * s.height * s.width;
  at::parallel_for(0, parts, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> scratch(kernel::scratch_floats(s));
    for (int64_t part = begin; part < end; ++part) {
      for (int64_t n = part * kImagesPerPartial; n < std::min(images, (part + 1) * kImagesPerPartial); ++n) {
        kernel::weight_grad_image(xs + n * in_size, dys + n * out_size, partial.data() + part * taps, s, scratch.data());
      }
    }
  });
  auto dw = at::zeros(weight.sizes(), weight.options().memory_format(at::MemoryFormat::Contiguous));
  float* sum = dw.data_ptr<float>();
  for (int64_t part = 0; part < parts; ++part) {
    for (int64_t t = 0; t < taps; ++t) sum[t] += partial[part * taps + t];
  }
  return dw;
}

class DirectConv : public torch::autograd::Function<DirectConv> {
 public:
  static at::Tensor forward(torch::autograd::AutogradContext* context, const at::Tensor& x, const at::Tensor& weight) {
    context->save_for_backward({x, weight});
    return direct_forward(x, weight);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* context,
                                                 torch::autograd::variable_list grads) {
    const auto saved = context->get_saved_variables();
    const auto &x = saved[0], &weight = saved[1], &dy = grads[0];
    at::Tensor dx, dw;
    if (at::GradMode::is_enabled()) {
      // create_graph: gradients made of differentiable operations. The input's is this operation
      // again (own kernels, differentiable through it); the weights' is LibTorch's conv2d.
      if (context->needs_input_grad(0)) dx = same_conv(dy, weight.flip({2, 3}).transpose(0, 1));
      if (context->needs_input_grad(1)) {
        const int64_t pad = weight.size(2) / 2;
        dw = at::conv2d(x.transpose(0, 1), dy.transpose(0, 1), {}, {1, 1}, {pad, pad}, {1, 1}).transpose(0, 1);
      }
    } else {
      if (context->needs_input_grad(0)) dx = direct_input_grad(dy, weight);
      if (context->needs_input_grad(1)) dw = direct_weight_grad(x, dy, weight);
    }
    return {dx, dw};
  }
};

}  // namespace

bool same_conv_uses_direct_kernels(const at::Tensor& x, const at::Tensor& weight) {
  const bool square_odd = weight.dim() == 4 && weight.size(2) == weight.size(3) && (weight.size(2) == 3 || weight.size(2) == 5);
  return own_kernels_for(x) && weight.device().is_cpu() && weight.scalar_type() == at::kFloat && square_odd &&
         x.size(1) == weight.size(1);
}

at::Tensor same_conv(const at::Tensor& x, const at::Tensor& weight) {
  if (!same_conv_uses_direct_kernels(x, weight)) {
    const int64_t pad = weight.size(-1) / 2;
    // Stride, padding and dilation given for both sides: LibTorch's profiler counts FLOPs only then.
    return at::conv2d(x, weight, {}, {1, 1}, {pad, pad}, {1, 1});
  }
  if (at::GradMode::is_enabled() && (x.requires_grad() || weight.requires_grad())) return DirectConv::apply(x, weight);
  return direct_forward(x, weight);
}

}  // namespace oneclass::nn
