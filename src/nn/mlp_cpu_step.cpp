#include "nn/mlp_cpu_step.h"

#include "oneclass/config.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <functional>

#include <torch/torch.h>

#include "nn/mlp_stack.h"

#ifdef ONECLASS_HAVE_OPENBLAS
#include <cblas.h>
#endif
#ifdef _OPENMP
#include <omp.h>
#endif

namespace oneclass::nn {

#ifdef ONECLASS_HAVE_OPENBLAS
namespace {

struct Range {
  int64_t begin, end;
  int64_t size() const { return end - begin; }
};

// Row-major C[M, N] = op(A) op(B) (beta = 0) with the leading dimensions of the full matrices.
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b,
          int64_t ldb, float* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
              static_cast<int>(m), static_cast<int>(n), static_cast<int>(k), 1.0f, a, static_cast<int>(lda), b,
              static_cast<int>(ldb), 0.0f, c, static_cast<int>(ldc));
}

// Adds the bias to each row of a [rows, width] block and applies the activation.
void bias_and_activate(float* z, const float* bias, int64_t rows, int64_t width, Activation activation) {
  for (int64_t i = 0; i < rows; ++i) {
    float* row = z + i * width;
    for (int64_t c = 0; c < width; ++c) row[c] += bias[c];
    if (activation == Activation::kRelu) {
      for (int64_t c = 0; c < width; ++c) row[c] = std::max(row[c], 0.0f);
    }
  }
  if (activation == Activation::kTanh) {
    // LibTorch's vectorised tanh; the scalar libm one would cost more than the matrix products.
    at::from_blob(z, {rows * width}, at::kFloat).tanh_();
  }
}

// grad_z = grad_a * activation'(.), computed from the layer's output a (all [n] elements).
void activation_backward(float* grad, const float* a, int64_t n, Activation activation) {
  if (activation == Activation::kRelu) {
    for (int64_t i = 0; i < n; ++i) grad[i] = a[i] > 0.0f ? grad[i] : 0.0f;
  } else if (activation == Activation::kTanh) {
    for (int64_t i = 0; i < n; ++i) grad[i] *= 1.0f - a[i] * a[i];
  }
}

// Per-member scratch: every layer's output and two ping-pong gradient buffers.
struct Scratch {
  std::vector<std::vector<float>> outputs;  // outputs[l] = output of layer l, [B, widths[l + 1]]
  std::vector<float> grad[2];
  Scratch(const std::vector<int64_t>& widths, int64_t batch) {
    for (size_t l = 1; l < widths.size(); ++l) outputs.emplace_back(static_cast<size_t>(batch * widths[l]));
    const int64_t widest = *std::max_element(widths.begin(), widths.end());
    grad[0].resize(static_cast<size_t>(batch * widest));
    grad[1].resize(static_cast<size_t>(batch * widest));
  }
};

// This thread's scratch for networks of these widths and batches of up to `batch` images, kept
// from step to step (allocating and zeroing it every step showed up in profiles).
Scratch& thread_scratch(const std::vector<int64_t>& widths, int64_t batch) {
  thread_local std::unique_ptr<Scratch> scratch;
  thread_local std::vector<int64_t> scratch_widths;
  thread_local int64_t scratch_batch = 0;
  if (!scratch || scratch_widths != widths || scratch_batch < batch) {
    scratch = std::make_unique<Scratch>(widths, batch);
    scratch_widths = widths;
    scratch_batch = batch;
  }
  return *scratch;
}

// Adam on rows [rows.begin, rows.end) of layer l's weights of member g, and on its bias when the
// range starts at row 0.
void adam_layer(const CpuStackView& s, int64_t g, size_t l, Range rows, const AdamStepConstants& c) {
  const int64_t in = s.widths[l], out = s.widths[l + 1];
  const int64_t wo = g * in * out, bo = g * out;
  adam_update_range(s.weights[l] + wo, s.grad_weights[l] + wo, s.exp_avg[2 * l] + wo, s.exp_avg_sq[2 * l] + wo,
                    rows.begin * out, rows.end * out, c);
  if (rows.begin == 0) {
    adam_update_range(s.biases[l] + bo, s.grad_biases[l] + bo, s.exp_avg[2 * l + 1] + bo,
                      s.exp_avg_sq[2 * l + 1] + bo, 0, out, c);
  }
}

// Forward and backward of member g. `gradient_ready(l)` is called as soon as layer l's weight
// gradient is complete and its weights will not be read again in this step, so the optimiser can
// update layer l while the backward pass goes on. Returns the sum of squared errors.
double forward_backward(const CpuStackView& s, int64_t g, const MemberBatch& member, Scratch& scratch,
                        const std::function<void(size_t)>& gradient_ready) {
  const size_t layers = s.widths.size() - 1;
  const float* x = member.x;
  const float* target = member.target;
  const int64_t batch = member.rows;
  auto input_of = [&](size_t l) { return l == 0 ? x : scratch.outputs[l - 1].data(); };
  for (size_t l = 0; l < layers; ++l) {
    const int64_t in = s.widths[l], out = s.widths[l + 1];
    float* z = scratch.outputs[l].data();
    gemm(false, false, batch, out, in, input_of(l), in, s.weights[l] + g * in * out, out, z, out);
    bias_and_activate(z, s.biases[l] + g * out, batch, out, s.activations[l]);
  }
  // Mean squared error over the member's batch; its gradient enters the last activation.
  const int64_t d = s.widths.back();
  const float scale = 2.0f / static_cast<float>(batch * d);
  const float* y = scratch.outputs[layers - 1].data();
  float* grad = scratch.grad[layers % 2].data();
  double squared_error = 0;
  for (int64_t i = 0; i < batch * d; ++i) {
    const float diff = y[i] - target[i];
    squared_error += static_cast<double>(diff) * diff;
    grad[i] = scale * diff;
  }
  activation_backward(grad, y, batch * d, s.activations[layers - 1]);

  for (size_t l = layers; l-- > 0;) {
    const int64_t in = s.widths[l], out = s.widths[l + 1];
    const float* grad_z = scratch.grad[(l + 1) % 2].data();
    gemm(true, false, in, out, batch, input_of(l), in, grad_z, out, s.grad_weights[l] + g * in * out, out);
    float* grad_bias = s.grad_biases[l] + g * out;
    std::fill(grad_bias, grad_bias + out, 0.0f);
    for (int64_t i = 0; i < batch; ++i) {
      for (int64_t c = 0; c < out; ++c) grad_bias[c] += grad_z[i * out + c];
    }
    if (l > 0) {
      float* grad_in = scratch.grad[l % 2].data();
      gemm(false, true, batch, in, out, grad_z, out, s.weights[l] + g * in * out, out, grad_in, in);
      activation_backward(grad_in, scratch.outputs[l - 1].data(), batch * in, s.activations[l - 1]);
    }
    gradient_ready(l);
  }
  return squared_error;
}

int thread_count() { return std::max(1, at::get_num_threads()); }
int thread_index() {
#ifdef _OPENMP
  return omp_get_thread_num();
#else
  return 0;
#endif
}
// Threads actually running the current parallel region: OpenMP may start fewer than asked
// (OMP_THREAD_LIMIT, nesting, or a build without OpenMP).
int team_size() {
#ifdef _OPENMP
  return omp_get_num_threads();
#else
  return 1;
#endif
}

// One network on two threads: thread 0 runs the forward and backward passes; thread 1 applies
// Adam to each layer as soon as thread 0 has finished with it; the first layer, whose gradient
// comes last, is updated by both. (Splitting every matrix product by columns instead was slower
// here: the halved products run less efficiently and the threads meet at every layer.)
double train_one_member_pipelined(const CpuStackView& s, int64_t g, const MemberBatch& batch,
                                  const AdamStepConstants& adam) {
  const size_t layers = s.widths.size() - 1;
  std::vector<std::atomic<bool>> ready(layers);
  for (auto& flag : ready) flag.store(false, std::memory_order_relaxed);
  Scratch& scratch = thread_scratch(s.widths, batch.rows);
  double squared_error = 0;
  const Range first_rows{0, s.widths[0]};
  const int64_t middle = first_rows.end / 2;
#pragma omp parallel num_threads(2)
  {
    if (team_size() < 2) {  // no second thread after all: update each layer in place
      squared_error = forward_backward(s, g, batch, scratch,
                                       [&](size_t l) { adam_layer(s, g, l, {0, s.widths[l]}, adam); });
    } else if (thread_index() == 0) {
      squared_error = forward_backward(s, g, batch, scratch,
                                       [&](size_t l) { ready[l].store(true, std::memory_order_release); });
      adam_layer(s, g, 0, {0, middle}, adam);
    } else {
      for (size_t l = layers; l-- > 0;) {
        while (!ready[l].load(std::memory_order_acquire)) {
#if defined(__x86_64__)
          __builtin_ia32_pause();
#endif
        }
        adam_layer(s, g, l, l == 0 ? Range{middle, first_rows.end} : Range{0, s.widths[l]}, adam);
      }
    }
  }
  return squared_error;
}

}  // namespace

bool cpu_fast_path_available() { return true; }

void cpu_train_step_mse(const CpuStackView& s, const std::vector<MemberBatch>& batches, const AdamOptions& options,
                        double* member_loss) {
  TORCH_CHECK(static_cast<int64_t>(batches.size()) == s.members, "cpu_train_step_mse: one batch per member");
  const int64_t d_out = s.widths.back();
  std::vector<int64_t> active;  // members that train this step
  int64_t widest_batch = 0;
  for (int64_t g = 0; g < s.members; ++g) {
    if (batches[g].rows == 0) continue;
    active.push_back(g);
    widest_batch = std::max(widest_batch, batches[g].rows);
  }
  const auto per_member = [&](int64_t g) { return static_cast<double>(batches[g].rows * d_out); };
  if (active.size() == 1 && thread_count() >= 2) {
    const int64_t g = active[0];
    const auto adam = adam_step_constants(options, batches[g].step);
    member_loss[g] = train_one_member_pipelined(s, g, batches[g], adam) / per_member(g);
    return;
  }
  // Each thread trains whole members, updating each layer while its gradient is still in cache.
  const int threads = static_cast<int>(std::min<int64_t>(thread_count(), static_cast<int64_t>(active.size())));
  if (threads == 0) return;
#pragma omp parallel num_threads(threads)
  {
    Scratch& scratch = thread_scratch(s.widths, widest_batch);
    for (size_t i = thread_index(); i < active.size(); i += team_size()) {
      const int64_t g = active[i];
      const auto adam = adam_step_constants(options, batches[g].step);
      const auto update_now = [&](size_t l) { adam_layer(s, g, l, {0, s.widths[l]}, adam); };
      member_loss[g] = forward_backward(s, g, batches[g], scratch, update_now) / per_member(g);
    }
  }
}

#else  // no CBLAS in this build: MlpStack uses LibTorch operations instead.

bool cpu_fast_path_available() { return false; }
void cpu_train_step_mse(const CpuStackView&, const std::vector<MemberBatch>&, const AdamOptions&, double*) {
  TORCH_CHECK(false, "cpu_train_step_mse: built without CBLAS");
}

#endif

}  // namespace oneclass::nn
