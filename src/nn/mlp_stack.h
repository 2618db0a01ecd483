#pragma once
// G independent multilayer perceptrons of one shape, stored stacked so that one batched matrix
// product per layer serves all of them. G = 1 is an ordinary MLP; the benchmark trains several
// seeds / classes as one stack. The backward pass is written out by hand: for a network this
// small, autograd's per-operation bookkeeping costs more than the arithmetic.
#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include "nn/adam.h"

namespace oneclass::nn {

enum class Activation { kNone, kRelu, kTanh };

struct MlpShape {
  std::vector<int64_t> widths;          // layer widths, input first: {784, 256, 128, 64, ...}
  std::vector<Activation> activations;  // one per layer: widths.size() - 1 entries
};

/// The mirrored autoencoder input-h1-...-z-...-h1-input: ReLU after every hidden layer, a linear
/// bottleneck, Tanh on the output (inputs scaled to [-1, 1]).
MlpShape autoencoder_shape(int64_t input, const std::vector<int64_t>& hidden, int64_t z);

class MlpStack {
 public:
  MlpStack(MlpShape shape, int64_t members, c10::Device device);

  /// Each member initialised as PyTorch's nn.Linear does (weights and biases uniform in
  /// +-1/sqrt(fan_in)), drawn from a generator seeded with that member's seed, layer by layer.
  void init_like_torch_linear(const std::vector<uint64_t>& seeds);

  /// x [G, B, in] -> [G, B, out], no gradients kept.
  at::Tensor forward(const at::Tensor& x) const;

  /// One step on the mean squared error between the output and `target` (both [G, B, out]):
  /// forward, hand-written backward, Adam. Returns each member's loss, float64 [G].
  at::Tensor train_step_mse(const at::Tensor& x, const at::Tensor& target);
  /// The same with a batch per member: xs[g] [B_g, in] and targets[g] [B_g, out], sizes free to
  /// differ, or undefined tensors for a member that sits this step out (its weights and optimiser
  /// state stay as they are). Returns each member's loss, NaN where it sat out.
  at::Tensor train_step_mse(const std::vector<at::Tensor>& xs, const std::vector<at::Tensor>& targets);

  /// Copies member `from_member` of `from` (same shape) into member `to`: weights and biases only.
  void copy_member(int64_t to, const MlpStack& from, int64_t from_member);

  void set_optimizer(AdamOptions options);
  /// On the CPU, train with the fused CBLAS kernel (default) or with LibTorch operations; the two
  /// agree to float rounding (the tests compare them).
  void use_cpu_fast_path(bool enabled) { cpu_fast_path_ = enabled; }
  int64_t members() const { return members_; }
  const MlpShape& shape() const { return shape_; }
  /// weight_0, bias_0, weight_1, ... ; weights [G, in, out], biases [G, 1, out].
  std::vector<at::Tensor> parameters() const;

 private:
  MlpShape shape_;
  int64_t members_;
  c10::Device device_;
  std::vector<at::Tensor> weights_, biases_;
  std::vector<at::Tensor> grad_weights_, grad_biases_;
  std::unique_ptr<Adam> adam_;
  std::vector<long> steps_;  // Adam steps taken, per member
  bool cpu_fast_path_ = true;

  bool use_cpu_kernel() const;
  // Members [first, first + count) on x [count, B, in]: batched products over stacked weights.
  at::Tensor train_step_with_torch_ops(const at::Tensor& x, const at::Tensor& target, int64_t first, int64_t count);
  at::Tensor train_step_with_cpu_kernel(const std::vector<at::Tensor>& xs, const std::vector<at::Tensor>& targets);
};

}  // namespace oneclass::nn
