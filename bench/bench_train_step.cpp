// One optimisation step of the seed autoencoder (batch 16, Adam) by implementation, LibTorch
// thread count and stack size G (G networks trained together), and this machine's single-thread
// fp32 matrix-product rate to compare with.
//   bench_train_step [Google Benchmark flags, e.g. --benchmark_filter=Fused --benchmark_format=json]
// Counters: network_steps (per second), FLOPS (6 x batch x weights per network-step, per second).
#include <thread>

#include <torch/torch.h>

#include "bench_main.h"
#include "seed_shape.h"

namespace {

using oneclass::bench::flops_per_network_step;
using oneclass::bench::kSeedBatch;
using oneclass::bench::seed_shape;

constexpr int kWarmUpSteps = 20;  // caches and the allocator

void count_network_steps(benchmark::State& state, int64_t members) {
  const double steps = static_cast<double>(state.iterations() * members);
  state.counters["network_steps"] = benchmark::Counter(steps, benchmark::Counter::kIsRate);
  state.counters["FLOPS"] = benchmark::Counter(steps * flops_per_network_step(seed_shape(), kSeedBatch),
                                               benchmark::Counter::kIsRate, benchmark::Counter::kIs1000);
}

// Our implementation: args G, fused (1 = the CBLAS kernel of src/nn/mlp_cpu_step.cpp, 0 = the same
// hand-written backward pass in LibTorch operations), threads.
void BM_StackStep(benchmark::State& state) {
  const int64_t members = state.range(0);
  at::set_num_threads(static_cast<int>(state.range(2)));
  auto stack = oneclass::bench::seed_stack(members);
  stack.use_cpu_fast_path(state.range(1) != 0);
  const auto x = torch::rand({members, kSeedBatch, 784}).mul_(2).sub_(1);
  for (int i = 0; i < kWarmUpSteps; ++i) stack.train_step_mse(x, x);
  for (auto _ : state) benchmark::DoNotOptimize(stack.train_step_mse(x, x));
  count_network_steps(state, members);
}

// The straightforward port: torch::nn modules, autograd and torch::optim::Adam. Arg: threads.
void BM_AutogradStep(benchmark::State& state) {
  at::set_num_threads(static_cast<int>(state.range(0)));
  torch::manual_seed(0);
  torch::nn::Sequential model(torch::nn::Linear(784, 256), torch::nn::ReLU(), torch::nn::Linear(256, 128),
                              torch::nn::ReLU(), torch::nn::Linear(128, 64), torch::nn::Linear(64, 128),
                              torch::nn::ReLU(), torch::nn::Linear(128, 256), torch::nn::ReLU(),
                              torch::nn::Linear(256, 784), torch::nn::Tanh());
  torch::optim::Adam optimizer(model->parameters(), torch::optim::AdamOptions(3e-4).weight_decay(1e-5));
  const auto x = torch::rand({kSeedBatch, 784}).mul_(2).sub_(1);
  auto step = [&] {
    optimizer.zero_grad();
    auto loss = torch::mse_loss(model->forward(x), x);
    loss.backward();
    optimizer.step();
  };
  for (int i = 0; i < kWarmUpSteps; ++i) step();
  for (auto _ : state) step();
  count_network_steps(state, 1);
}

// The yardstick: a 1024^3 fp32 product on one thread.
void BM_MatrixProduct1024(benchmark::State& state) {
  at::set_num_threads(1);
  const auto a = torch::rand({1024, 1024}), b = torch::rand({1024, 1024});
  auto c = torch::empty({1024, 1024});
  at::mm_out(c, a, b);
  for (auto _ : state) at::mm_out(c, a, b);
  state.counters["FLOPS"] = benchmark::Counter(2.0 * 1024 * 1024 * 1024 * static_cast<double>(state.iterations()),
                                               benchmark::Counter::kIsRate, benchmark::Counter::kIs1000);
}

int cores() { return static_cast<int>(std::max(1u, std::thread::hardware_concurrency())); }

void every_thread_count(benchmark::internal::Benchmark* b) {
  for (int threads = 1; threads <= cores(); ++threads) b->Arg(threads);
}

void every_stack_and_thread_count(benchmark::internal::Benchmark* b) {
  for (int threads = 1; threads <= cores(); ++threads) {
    for (int64_t members : {1, 10}) {
      for (int fused : {1, 0}) b->Args({members, fused, threads});
    }
  }
}

}  // namespace

BENCHMARK(BM_MatrixProduct1024)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_AutogradStep)->ArgName("threads")->Apply(every_thread_count)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_StackStep)
    ->ArgNames({"G", "fused", "threads"})
    ->Apply(every_stack_and_thread_count)
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

int main(int argc, char** argv) { return oneclass::bench::run_benchmarks(argc, argv); }
