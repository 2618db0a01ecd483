// Time of one optimisation step of the seed autoencoder (784-256-128-64-128-256-784, batch 16,
// Adam), by implementation (fused CPU kernel vs LibTorch operations), thread count and stack size
// G (G networks trained together), plus this machine's single-thread fp32 matrix-product rate.
// Usage: bench_train_step [steps=400]
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include <torch/torch.h>

#include "nn/mlp_stack.h"
#include "oneclass/util/system_info.h"
#include "util/runtime_environment.h"

namespace {

oneclass::nn::MlpShape seed_shape() { return oneclass::nn::autoencoder_shape(784, {256, 128}, 64); }

double flops_per_member_step(const oneclass::nn::MlpShape& shape, int64_t batch) {
  double weights = 0;
  for (size_t l = 0; l + 1 < shape.widths.size(); ++l) weights += double(shape.widths[l] * shape.widths[l + 1]);
  // forward, weight gradient and input gradient: three products of 2 * batch * weights each
  // (the first layer needs no input gradient; counted anyway, as the usual 6 * N * params rule).
  return 6.0 * static_cast<double>(batch) * weights;
}

double microseconds_per_step(int64_t members, bool fast_path, int steps) {
  oneclass::nn::MlpStack stack(seed_shape(), members, c10::Device(c10::kCPU));
  std::vector<uint64_t> seeds(static_cast<size_t>(members));
  for (int64_t g = 0; g < members; ++g) seeds[static_cast<size_t>(g)] = static_cast<uint64_t>(g);
  stack.init_like_torch_linear(seeds);
  stack.set_optimizer({3e-4, 0.9, 0.999, 1e-8, 1e-5});
  stack.use_cpu_fast_path(fast_path);
  auto x = torch::rand({members, 16, 784}).mul_(2).sub_(1);
  for (int i = 0; i < 20; ++i) stack.train_step_mse(x, x);  // warm caches and allocator
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < steps; ++i) stack.train_step_mse(x, x);
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count() / steps;
}

// The straightforward port: torch::nn modules, autograd and torch::optim::Adam.
double microseconds_per_autograd_step(int steps) {
  torch::manual_seed(0);
  torch::nn::Sequential model(torch::nn::Linear(784, 256), torch::nn::ReLU(), torch::nn::Linear(256, 128),
                              torch::nn::ReLU(), torch::nn::Linear(128, 64), torch::nn::Linear(64, 128),
                              torch::nn::ReLU(), torch::nn::Linear(128, 256), torch::nn::ReLU(),
                              torch::nn::Linear(256, 784), torch::nn::Tanh());
  torch::optim::Adam optimizer(model->parameters(), torch::optim::AdamOptions(3e-4).weight_decay(1e-5));
  auto x = torch::rand({16, 784}).mul_(2).sub_(1);
  auto step = [&] {
    optimizer.zero_grad();
    auto loss = torch::mse_loss(model->forward(x), x);
    loss.backward();
    optimizer.step();
  };
  for (int i = 0; i < 20; ++i) step();
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < steps; ++i) step();
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count() / steps;
}

double matmul_gflops() {
  at::set_num_threads(1);
  auto a = torch::rand({1024, 1024}), b = torch::rand({1024, 1024}), c = torch::empty({1024, 1024});
  at::mm_out(c, a, b);
  const int reps = 10;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < reps; ++i) at::mm_out(c, a, b);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return 2.0 * 1024 * 1024 * 1024 * reps / seconds / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
  oneclass::reexec_with_tuned_environment(argv);  // BLAS and OpenMP settings, as the launcher sets them
  const int steps = argc > 1 ? std::atoi(argv[1]) : 400;
  oneclass::configure_threads(0);
  const int cores = at::get_num_threads();
  std::printf("# %s\n", oneclass::doctor_line(c10::Device(c10::kCPU)).c_str());
  const double peak = matmul_gflops();
  std::printf("# fp32 matrix product 1024^3, 1 thread: %.1f GFLOP/s\n", peak);
  const double flops = flops_per_member_step(seed_shape(), 16);
  std::printf("| implementation | threads | G | us/step | us per network-step | GFLOP/s | of 1-thread peak x threads |\n");
  std::printf("| --- | --- | --- | --- | --- | --- | --- |\n");
  for (int threads = 1; threads <= cores; ++threads) {
    at::set_num_threads(threads);
    const double autograd_us = microseconds_per_autograd_step(steps);
    std::printf("| LibTorch autograd + torch::optim::Adam | %d | 1 | %.0f | %.0f | %.1f | %.0f%% |\n", threads,
                autograd_us, autograd_us, flops / autograd_us / 1e3, 100.0 * flops / autograd_us / 1e3 / (peak * threads));
    for (int64_t members : {1, 10}) {
      for (bool fast : {true, false}) {
        const double us = microseconds_per_step(members, fast, members == 1 ? steps : steps / 4);
        const double gflops = flops * static_cast<double>(members) / us / 1e3;
        std::printf("| %s | %d | %lld | %.0f | %.0f | %.1f | %.0f%% |\n", fast ? "fused CPU kernel" : "LibTorch ops",
                    threads, static_cast<long long>(members), us, us / static_cast<double>(members), gflops,
                    100.0 * gflops / (peak * threads));
      }
    }
  }
  return 0;
}
