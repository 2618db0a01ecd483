#pragma once
// The seed autoencoder (784-256-128-64-128-256-784) as the benchmarks train it: batch 16, Adam.
#include <cstdint>

#include "nn/mlp_stack.h"

namespace oneclass::bench {

inline constexpr int64_t kSeedBatch = 16;

inline nn::MlpShape seed_shape() { return nn::autoencoder_shape(784, {256, 128}, 64); }

inline nn::AdamOptions seed_adam() { return {3e-4, 0.9, 0.999, 1e-8, 1e-5}; }

inline int64_t weight_count(const nn::MlpShape& shape) {
  int64_t n = 0;
  for (size_t l = 0; l + 1 < shape.widths.size(); ++l) n += shape.widths[l] * shape.widths[l + 1];
  return n;
}

inline int64_t parameter_count(const nn::MlpShape& shape) {
  int64_t n = weight_count(shape);
  for (size_t l = 1; l < shape.widths.size(); ++l) n += shape.widths[l];
  return n;
}

/// Floating-point operations of one training step of one network: the forward pass, the weight
/// gradient and the input gradient are three products of 2 * batch * weights each (the first
/// layer needs no input gradient; counted anyway, as the usual 6 * N * parameters rule does).
inline double flops_per_network_step(const nn::MlpShape& shape, int64_t batch) {
  return 6.0 * static_cast<double>(batch) * static_cast<double>(weight_count(shape));
}

/// A stack of `members` seed autoencoders, initialised as torch::nn::Linear is, seeds 0..G-1.
inline nn::MlpStack seed_stack(int64_t members) {
  nn::MlpStack stack(seed_shape(), members, c10::Device(c10::kCPU));
  std::vector<uint64_t> seeds;
  for (int64_t g = 0; g < members; ++g) seeds.push_back(static_cast<uint64_t>(g));
  stack.init_like_torch_linear(seeds);
  stack.set_optimizer(seed_adam());
  return stack;
}

}  // namespace oneclass::bench
