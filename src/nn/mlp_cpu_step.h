#pragma once
// The CPU fast path of MlpStack::train_step_mse: forward, backward and Adam for a stack of MLPs
// written against CBLAS with fused element-wise loops, inside one OpenMP parallel region per step.
// Adam updates each layer as soon as the backward pass is done with it (while its gradient is
// still in cache), instead of in a separate pass over all parameters at the end.
//   one member, 2+ threads: one thread runs forward and backward, the other the optimiser;
//   many members:           each thread trains whole members, with no synchronisation at all.
// Members may train on batches of different sizes, and may sit a step out: the benchmark stacks
// classes of unequal size, whose epochs end at different steps.
#include <cstdint>
#include <vector>

#include "nn/adam.h"

namespace oneclass::nn {

enum class Activation;

/// Raw views of one stack's tensors (all float32, contiguous, on the CPU).
struct CpuStackView {
  int64_t members = 0;
  std::vector<int64_t> widths;
  std::vector<Activation> activations;
  std::vector<float*> weights, biases;            // [G, in, out], [G, 1, out]
  std::vector<float*> grad_weights, grad_biases;  // same shapes
  std::vector<float*> exp_avg, exp_avg_sq;        // Adam moments, parameter order w0, b0, w1, ...
};

/// One member's part of a step: its batch (rows x widths.front() and rows x widths.back() floats,
/// contiguous) and its Adam step number after this update. rows == 0: the member sits it out.
struct MemberBatch {
  const float* x = nullptr;
  const float* target = nullptr;
  int64_t rows = 0;
  long step = 0;
};

/// True when this build has CBLAS, so the fast path exists.
bool cpu_fast_path_available();

/// One training step, one MemberBatch per member; writes the loss of each member that trained.
void cpu_train_step_mse(const CpuStackView& view, const std::vector<MemberBatch>& batches, const AdamOptions& options,
                        double* member_loss);

}  // namespace oneclass::nn
