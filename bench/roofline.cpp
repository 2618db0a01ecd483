// How close the benchmark's training comes to what this machine can do. Prints:
//   - the compute roof: fp32 matrix-product GFLOP/s (1024^3, all threads), and the rate of the
//     training's own product shapes (batch 16);
//   - the memory roof: GB/s of a streaming pass shaped like Adam (read 4 arrays, write 3) over a
//     working set as large as the benchmark's stack;
//   - the benchmark's training: a stack of G seed autoencoders (784-256-128-64-..., batch 16, Adam),
//     member-steps per second, and the fraction of each roof it reaches; the time this implies for
//     the MNIST benchmark of the seed autoencoder (10 classes x 5 seeds, 10 epochs).
// Usage: roofline [G=10] [steps=200]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include <torch/torch.h>

#include "nn/adam.h"
#include "nn/mlp_stack.h"
#include "oneclass/util/system_info.h"
#include "util/runtime_environment.h"
#include "oneclass/util/clock.h"

namespace {

using oneclass::Clock;
using oneclass::seconds_since;

oneclass::nn::MlpShape seed_shape() { return oneclass::nn::autoencoder_shape(784, {256, 128}, 64); }

int64_t parameter_count(const oneclass::nn::MlpShape& shape) {
  int64_t n = 0;
  for (size_t l = 0; l + 1 < shape.widths.size(); ++l) n += shape.widths[l] * shape.widths[l + 1] + shape.widths[l + 1];
  return n;
}

// Forward, weight gradient and input gradient: three products of 2 * batch * weights each.
double flops_per_member_step(const oneclass::nn::MlpShape& shape, int64_t batch) {
  double weights = 0;
  for (size_t l = 0; l + 1 < shape.widths.size(); ++l) weights += double(shape.widths[l] * shape.widths[l + 1]);
  return 6.0 * static_cast<double>(batch) * weights;
}

// Bytes per parameter per step that no implementation of this step avoids when the model does not
// fit in the core's cache: the forward and the input-gradient pass read the weights (4 + 4), the
// weight gradient is written and read back (4 + 4), Adam reads weight, first and second moment
// (12) and writes them (12).
constexpr double kBytesPerParameterStep = 40;

// fp32 products C[m, n] = A[m, k] B[k, n]: every thread runs its own (BLAS is single-threaded
// here, as in training), and the rate is their sum.
double gemm_gflops(int64_t m, int64_t n, int64_t k, int reps, int threads) {
  double seconds = 0;
#pragma omp parallel num_threads(threads)
  {
    auto a = torch::rand({m, k}), b = torch::rand({k, n}), c = torch::empty({m, n});
    at::mm_out(c, a, b);
#pragma omp barrier
#pragma omp master
    seconds = -std::chrono::duration<double>(Clock::now().time_since_epoch()).count();
    for (int i = 0; i < reps; ++i) at::mm_out(c, a, b);
#pragma omp barrier
#pragma omp master
    seconds += std::chrono::duration<double>(Clock::now().time_since_epoch()).count();
  }
  return 2.0 * double(m) * double(n) * double(k) * reps * threads / seconds / 1e9;
}

// Adam's update over `params` floats per thread-slice, all threads: GB/s of traffic (28 B/param).
double adam_stream_gbps(int64_t params, int reps) {
  std::vector<float> p(params, 0.1f), g(params, 0.01f), m(params, 0.0f), v(params, 0.0f);
  const auto c = oneclass::nn::adam_step_constants({3e-4, 0.9, 0.999, 1e-8, 1e-5}, 10);
  auto pass = [&] {
    at::parallel_for(0, params, /*grain_size=*/1 << 16, [&](int64_t begin, int64_t end) {
      oneclass::nn::adam_update_range(p.data(), g.data(), m.data(), v.data(), begin, end, c);
    });
  };
  pass();
  const auto start = Clock::now();
  for (int i = 0; i < reps; ++i) pass();
  return 28.0 * double(params) * reps / seconds_since(start) / 1e9;
}

// Member-steps per second of a stack of `members` seed autoencoders, as the benchmark trains them.
double member_steps_per_second(int64_t members, int steps) {
  oneclass::nn::MlpStack stack(seed_shape(), members, c10::Device(c10::kCPU));
  std::vector<uint64_t> seeds;
  for (int64_t g = 0; g < members; ++g) seeds.push_back(static_cast<uint64_t>(g));
  stack.init_like_torch_linear(seeds);
  stack.set_optimizer({3e-4, 0.9, 0.999, 1e-8, 1e-5});
  std::vector<at::Tensor> xs;
  for (int64_t g = 0; g < members; ++g) xs.push_back(torch::rand({16, 784}).mul_(2).sub_(1));
  for (int i = 0; i < 10; ++i) stack.train_step_mse(xs, xs);  // warm caches and allocator
  const auto start = Clock::now();
  for (int i = 0; i < steps; ++i) stack.train_step_mse(xs, xs);
  return double(members) * steps / seconds_since(start);
}

}  // namespace

int main(int argc, char** argv) {
  oneclass::reexec_with_tuned_environment(argv);  // BLAS and OpenMP settings, as the launcher sets them
  const int64_t members = argc > 1 ? std::atoll(argv[1]) : 10;
  const int steps = argc > 2 ? std::atoi(argv[2]) : 200;
  oneclass::configure_threads(0);
  const int threads = at::get_num_threads();
  std::printf("# %s\n", oneclass::doctor_line(c10::Device(c10::kCPU)).c_str());
  const auto shape = seed_shape();
  const int64_t params = parameter_count(shape);

  const double peak_gflops = gemm_gflops(1024, 1024, 1024, 10, threads);
  const double peak_gflops_1 = gemm_gflops(1024, 1024, 1024, 10, 1);
  const double batch16_gflops = gemm_gflops(16, 256, 784, 4000, threads);
  const double stream_gbps = adam_stream_gbps(members * params, 20);
  std::printf("compute roof: fp32 1024^3 product %.1f GFLOP/s on %d threads (%.1f on 1); "
              "training shape 16x784 by 784x256: %.1f GFLOP/s on %d threads\n",
              peak_gflops, threads, peak_gflops_1, batch16_gflops, threads);
  std::printf("memory roof: Adam-shaped stream over %.0f MB (G=%lld stack): %.1f GB/s on %d threads\n",
              28.0 * double(members * params) / 1e6, static_cast<long long>(members), stream_gbps, threads);

  // The benchmark's training.
  const double rate = member_steps_per_second(members, steps);
  const double gflops = rate * flops_per_member_step(shape, 16) / 1e9;
  const double gbps = rate * kBytesPerParameterStep * double(params) / 1e9;
  std::printf("training: G=%lld stack, %d threads: %.0f member-steps/s (%.0f us each) = %.1f GFLOP/s (%.0f%% of the "
              "compute roof), >= %.1f GB/s (%.0f%% of the memory roof)\n",
              static_cast<long long>(members), threads, rate, 1e6 / rate, gflops, 100.0 * gflops / peak_gflops, gbps,
              100.0 * gbps / stream_gbps);
  // MNIST: 10 classes, 90 % of each class's training images trained on, batch 16, 10 epochs, 5 seeds.
  const double member_steps = 5.0 * 10 * (54000.0 / 10 / 16 + 0.5) * 10;
  std::printf("MNIST benchmark of the seed autoencoder (~%.0f member-steps): %.0f s of training at this rate; the "
              "memory roof alone allows no less than %.0f s\n",
              member_steps, member_steps / rate,
              member_steps * kBytesPerParameterStep * double(params) / (stream_gbps * 1e9));
  return 0;
}
