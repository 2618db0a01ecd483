// How close the benchmark's training comes to what this machine can do.
//   bench_roofline [Google Benchmark flags]
// Measures, on every core (BLAS single-threaded in each, as in training):
//   - the compute roof: fp32 products, 1024^3 and the training's own shape (16x784 by 784x256);
//   - the memory roof: a streaming pass shaped like Adam (read 4 arrays, write 3) over a working set
//     as large as a stack of G seed autoencoders;
//   - the benchmark's training step on a stack of G = 2 and G = 10 seed autoencoders;
//   - the convolution roof of the LeNet-type networks (src/nn/lenet.h): every convolution layer of
//     the LeNet autoencoder for 28x28 grey and 256x256 colour images, forward and backward (weight
//     gradient, and input gradient for all but the first), with LibTorch's kernels in the plain and
//     channels-last layouts and with oneclass's own (src/nn/conv_kernel.h), on large batches with
//     all cores;
//   - conv-ae's training step at both sizes, on all cores (as `oneclass run` trains), with either
//     set of kernels;
// then prints which fraction of each roof the training reaches, and what that rate implies for the
// MNIST benchmark of the seed autoencoder (10 classes x 5 seeds, 10 epochs).
#include <algorithm>
#include <cstdio>
#include <optional>
#include <vector>

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include "bench_main.h"
#include "nn/adam.h"
#include "nn/conv.h"
#include "nn/lenet.h"
#include "seed_shape.h"
#include "step_flops.h"

namespace {

using oneclass::bench::counter_of;
using oneclass::bench::Runs;
using oneclass::bench::seed_shape;

// Bytes per parameter per step that no implementation of this step avoids when the model does not
// fit in the core's cache: the forward and the input-gradient pass read the weights (4 + 4), the
// weight gradient is written and read back (4 + 4), Adam reads weight, first and second moment
// (12) and writes them (12).
constexpr double kBytesPerParameterStep = 40;
// Adam's own pass: reads weight, gradient and both moments, writes weight and moments.
constexpr double kAdamBytesPerParameter = 28;

// Products C[m, n] = A[m, k] B[k, n] on every thread at once, each on its own matrices, `reps` per
// iteration. Args: m, n, k, reps.
void BM_ProductEveryCore(benchmark::State& state) {
  const int64_t m = state.range(0), n = state.range(1), k = state.range(2), reps = state.range(3);
  const int threads = at::get_num_threads();
  std::vector<at::Tensor> a(threads), b(threads), c(threads);
  for (int t = 0; t < threads; ++t) {
    a[t] = torch::rand({m, k});
    b[t] = torch::rand({k, n});
    c[t] = torch::empty({m, n});
  }
  auto products = [&] {
#pragma omp parallel for num_threads(threads) schedule(static, 1)
    for (int t = 0; t < threads; ++t) {
      for (int64_t r = 0; r < reps; ++r) at::mm_out(c[t], a[t], b[t]);
    }
  };
  products();
  for (auto _ : state) products();
  const double flops = 2.0 * double(m) * double(n) * double(k) * double(reps) * threads;
  state.counters["FLOPS"] = benchmark::Counter(flops * double(state.iterations()), benchmark::Counter::kIsRate,
                                               benchmark::Counter::kIs1000);
}

// Adam's fused update over the parameters of a stack of G seed autoencoders, split over the cores.
// Arg: G.
void BM_AdamStream(benchmark::State& state) {
  const int64_t params = state.range(0) * oneclass::bench::parameter_count(seed_shape());
  std::vector<float> p(params, 0.1f), g(params, 0.01f), m(params, 0.0f), v(params, 0.0f);
  const auto c = oneclass::nn::adam_step_constants(oneclass::bench::seed_adam(), 10);
  auto pass = [&] {
    at::parallel_for(0, params, /*grain_size=*/1 << 16, [&](int64_t begin, int64_t end) {
      oneclass::nn::adam_update_range(p.data(), g.data(), m.data(), v.data(), begin, end, c);
    });
  };
  pass();
  for (auto _ : state) pass();
  state.SetBytesProcessed(static_cast<int64_t>(kAdamBytesPerParameter * double(params)) * state.iterations());
}

// The benchmark's training step: a stack of G seed autoencoders, a batch of its own for each, as
// `oneclass bench` trains them (without the batch assembly of the training loop). Arg: G.
void BM_TrainStack(benchmark::State& state) {
  const int64_t members = state.range(0);
  auto stack = oneclass::bench::seed_stack(members);
  std::vector<at::Tensor> xs;
  for (int64_t g = 0; g < members; ++g) xs.push_back(torch::rand({oneclass::bench::kSeedBatch, 784}).mul_(2).sub_(1));
  for (int i = 0; i < 10; ++i) stack.train_step_mse(xs, xs);  // warm caches and allocator
  for (auto _ : state) benchmark::DoNotOptimize(stack.train_step_mse(xs, xs));
  const double member_steps = double(members) * double(state.iterations());
  const auto shape = seed_shape();
  state.counters["member_steps"] = benchmark::Counter(member_steps, benchmark::Counter::kIsRate);
  state.counters["FLOPS"] =
      benchmark::Counter(member_steps * oneclass::bench::flops_per_network_step(shape, oneclass::bench::kSeedBatch),
                         benchmark::Counter::kIsRate, benchmark::Counter::kIs1000);
  state.counters["min_bytes_per_second"] =
      benchmark::Counter(member_steps * kBytesPerParameterStep * double(oneclass::bench::parameter_count(shape)),
                         benchmark::Counter::kIsRate, benchmark::Counter::kIs1024);
}

// One convolution layer of the LeNet networks: 5x5, padding 2, no bias, `size` x `size` maps.
struct ConvLayer {
  int64_t in = 0, out = 0, size = 0;
  bool input_gradient = true;  // false for the first layer, whose input is the image
};

// The LeNet autoencoder's convolutions for images of `channels` x `side` x `side`, in the order the
// network runs them (encoder stages, then the decoder's, deepest first; see lenet.h).
std::vector<ConvLayer> lenet_autoencoder_layers(int64_t channels, int64_t side) {
  const auto stage = oneclass::nn::lenet_stage_channels({{channels, side, side}, 32, 8});
  std::vector<ConvLayer> layers{{channels, stage[0], side, false}};
  for (size_t s = 1; s < stage.size(); ++s) layers.push_back({stage[s - 1], stage[s], side >> s, true});
  for (size_t s = stage.size() - 1; s >= 1; --s) layers.push_back({stage[s], stage[s - 1], side >> s, true});
  layers.push_back({stage[0], channels, side, true});
  return layers;
}

double layer_flops(const ConvLayer& layer, int64_t batch) {
  const double forward = 2.0 * double(batch * layer.in * layer.out * 25 * layer.size * layer.size);
  return forward * (layer.input_gradient ? 3.0 : 2.0);
}

// Large batches, so that the roof is what the kernels reach with work enough for every core.
int64_t roof_batch(int64_t side) { return side <= 32 ? 512 : 32; }

// Which convolution kernels a benchmark runs: LibTorch's in either layout, or oneclass's own
// (src/nn/conv_kernel.h, which want the plain layout).
enum Kernels : int64_t { kLibTorchPlain = 0, kLibTorchChannelsLast = 1, kOwn = 2 };

// Every layer of the LeNet autoencoder for `side` (28: grey, else colour), forward and backward on
// a batch of roof_batch(side), with LibTorch's threads (all cores), as training runs them.
// Args: side, kernels.
void BM_ConvRoof(benchmark::State& state) {
  const int64_t side = state.range(0), channels = side <= 32 ? 1 : 3, batch = roof_batch(side);
  const auto kernels = static_cast<Kernels>(state.range(1));
  const auto format = kernels == kLibTorchChannelsLast ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous;
  const auto layers = lenet_autoencoder_layers(channels, side);
  struct Tensors { at::Tensor input, weight, grad_output; };
  std::vector<Tensors> work;
  for (const auto& l : layers) {
    work.push_back({torch::rand({batch, l.in, l.size, l.size}).contiguous(format).requires_grad_(l.input_gradient),
                    torch::rand({l.out, l.in, 5, 5}).contiguous(format).requires_grad_(),
                    torch::rand({batch, l.out, l.size, l.size}).contiguous(format)});
  }
  auto passes = [&] {
    for (size_t i = 0; i < layers.size(); ++i) {
      const auto& w = work[i];
      if (kernels == kOwn) {  // forward, then the same gradients through autograd
        const auto y = oneclass::nn::same_conv(w.input, w.weight);
        if (layers[i].input_gradient) {
          benchmark::DoNotOptimize(torch::autograd::grad({y}, {w.input, w.weight}, {w.grad_output}));
        } else {
          benchmark::DoNotOptimize(torch::autograd::grad({y}, {w.weight}, {w.grad_output}));
        }
        continue;
      }
      at::NoGradGuard no_grad;
      benchmark::DoNotOptimize(at::conv2d(w.input, w.weight, {}, 1, 2));
      benchmark::DoNotOptimize(at::convolution_backward(w.grad_output, w.input, w.weight, c10::nullopt, {1, 1}, {2, 2},
                                                        {1, 1}, false, {0, 0}, 1, {layers[i].input_gradient, true, false}));
    }
  };
  passes();
  for (auto _ : state) passes();
  double flops = 0;
  for (const auto& l : layers) flops += layer_flops(l, batch);
  state.counters["FLOPS"] = benchmark::Counter(flops * double(state.iterations()), benchmark::Counter::kIsRate,
                                               benchmark::Counter::kIs1000);
}

// conv-ae's training step (default options) on a batch of 128 images of `side`, on all cores, with
// LibTorch's kernels (0) or oneclass's own (1). Args: side, own.
void BM_ConvAeStep(benchmark::State& state) {
  const int64_t side = state.range(0), channels = side <= 32 ? 1 : 3;
  std::optional<oneclass::bench::OnLibTorchKernels> libtorch_kernels;
  if (state.range(1) == 0) libtorch_kernels.emplace();
  const auto images = torch::rand({128, channels, side, side});
  auto detector = oneclass::make_detector("conv-ae");
  detector->begin_fit(images, oneclass::FitContext{});
  for (int i = 0; i < 2; ++i) detector->train_step(images);
  for (auto _ : state) benchmark::DoNotOptimize(detector->train_step(images));
  // The convolutions' FLOPs (the linear layers add under 2 %), counted from their shapes: at
  // 256x256 the profiler cannot watch a whole batch (step_flops.h).
  double flops = 0;
  for (const auto& layer : lenet_autoencoder_layers(channels, side)) flops += layer_flops(layer, 128);
  state.counters["FLOPS"] = benchmark::Counter(flops * double(state.iterations()), benchmark::Counter::kIsRate,
                                               benchmark::Counter::kIs1000);
  state.counters["images_per_s"] = benchmark::Counter(128.0 * double(state.iterations()), benchmark::Counter::kIsRate);
}

// MNIST: 10 classes, 90 % of each class's training images trained on, batch 16, 10 epochs, 5 seeds.
constexpr double kMnistBenchmarkMemberSteps = 5.0 * 10 * (54000.0 / 10 / 16 + 0.5) * 10;

void print_roofline(const Runs& runs) {
  const double compute_roof = counter_of(runs, "BM_ProductEveryCore/m:1024/", "FLOPS");
  const double parameters = double(oneclass::bench::parameter_count(seed_shape()));
  for (const int64_t members : {2, 10}) {
    const std::string name = "BM_TrainStack/G:" + std::to_string(members) + "/";
    const double rate = counter_of(runs, name, "member_steps");
    const double flops = counter_of(runs, name, "FLOPS");
    const double bytes = counter_of(runs, name, "min_bytes_per_second");
    const double memory_roof = counter_of(runs, "BM_AdamStream/G:" + std::to_string(members) + "/", "bytes_per_second");
    if (rate <= 0 || compute_roof <= 0 || memory_roof <= 0) continue;  // not selected, or failed
    std::printf("training, G=%lld: %.0f%% of the compute roof, >= %.0f%% of the memory roof; the MNIST benchmark "
                "of the seed autoencoder (~%.0f member-steps) takes %.0f s of training at this rate, and no less than "
                "%.0f s at the memory roof\n",
                static_cast<long long>(members), 100.0 * flops / compute_roof, 100.0 * bytes / memory_roof,
                kMnistBenchmarkMemberSteps, kMnistBenchmarkMemberSteps / rate,
                kMnistBenchmarkMemberSteps * kBytesPerParameterStep * parameters / memory_roof);
  }
  for (const int64_t side : {28, 256}) {
    const std::string size = "/side:" + std::to_string(side) + "/";
    const double plain = counter_of(runs, "BM_ConvRoof" + size + "kernels:0/", "FLOPS");
    const double last = counter_of(runs, "BM_ConvRoof" + size + "kernels:1/", "FLOPS");
    const double own = counter_of(runs, "BM_ConvRoof" + size + "kernels:2/", "FLOPS");
    for (const int64_t own_kernels : {0, 1}) {
      const double step = counter_of(runs, "BM_ConvAeStep" + size + "own:" + std::to_string(own_kernels) + "/", "FLOPS");
      const double roof = own_kernels ? own : std::max(plain, last);
      if (step <= 0 || roof <= 0 || compute_roof <= 0) continue;
      std::printf("conv-ae training, %lldx%lld, %s kernels: %.1f GFLOP/s, %.0f%% of the convolution roof at its layer "
                  "shapes (%.1f GFLOP/s, %s) and %.0f%% of the compute roof\n",
                  static_cast<long long>(side), static_cast<long long>(side), own_kernels ? "own" : "LibTorch's",
                  step / 1e9, 100.0 * step / roof, roof / 1e9,
                  own_kernels ? "own kernels" : (last >= plain ? "LibTorch's, channels-last" : "LibTorch's, plain layout"),
                  100.0 * step / compute_roof);
    }
    if (own > 0 && compute_roof > 0) {
      std::printf("convolutions alone, %lldx%lld: own kernels %.1f GFLOP/s (%.0f%% of the compute roof), LibTorch's %.1f "
                  "(plain) and %.1f (channels-last)\n",
                  static_cast<long long>(side), static_cast<long long>(side), own / 1e9, 100.0 * own / compute_roof,
                  plain / 1e9, last / 1e9);
    }
  }
}

}  // namespace

BENCHMARK(BM_ProductEveryCore)
    ->ArgNames({"m", "n", "k", "reps"})
    ->Args({1024, 1024, 1024, 1})
    ->Args({16, 256, 784, 100})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_AdamStream)->ArgName("G")->Arg(2)->Arg(10)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_TrainStack)->ArgName("G")->Arg(2)->Arg(10)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_ConvRoof)
    ->ArgNames({"side", "kernels"})
    ->ArgsProduct({{28, 256}, {kLibTorchPlain, kLibTorchChannelsLast, kOwn}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_ConvAeStep)
    ->ArgNames({"side", "own"})
    ->ArgsProduct({{28, 256}, {0, 1}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

int main(int argc, char** argv) { return oneclass::bench::run_benchmarks(argc, argv, print_roofline); }
