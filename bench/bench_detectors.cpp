// Training and scoring throughput of every registered detector, at MNIST's size and at the folder
// data sets' 256x256 colour.
//   bench_detectors [Google Benchmark flags]   (e.g. --benchmark_filter=Train/conv-ae)
// Images: the training images of MNIST's digit 8 (from $ONECLASS_DATA_DIR or the user cache, as
// `oneclass run` finds them) as 1x28x28, and the same digits resized to 3x256x256 (bilinear, the
// grey value in each channel). Speed does not depend on what the pixels show, except for the
// detectors whose cost follows their data (ocsvm's support vectors), which see real digits.
//   BM_Train/<model>/side:<28|256>: a fit with the detector's default options except the epoch
//     count, which is fixed small (kTrainEpochs; deep-svdd and deep-sad: that many of pretraining
//     and of training), on kTrainImages[side] images. Counters: train_images_per_s = epochs x
//     images / fit seconds (the fit as `oneclass run` times it: set-up, steps and end of fit), and
//     for the detectors trained by LibTorch's operators FLOPS = multiply-adds x 2 of the
//     convolutions and matrix products of a training step (step_flops.h) x steps / seconds.
//     Detectors that learn in one pass (knn, pca, ...) report their fit the same way, epochs = 1.
//   BM_Score/<model>/side:<28|256>: scores kScoreImages[side] images with a detector fitted as
//     above; images_per_s. Detectors that take other images than the training set's size skip.
//   .../kernels:libtorch: the same for a detector whose networks convolve, on LibTorch's kernels
//     instead of oneclass's own (src/nn/own_kernels.h), to compare the two in one run
//     (bench/compare_speed.py REPORT.json prints them side by side).
// Every report starts with the build, machine, LibTorch, BLAS and thread record (bench_main.h).
#include <cmath>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include <torch/csrc/autograd/profiler_legacy.h>
#include <torch/torch.h>

#include "bench_main.h"
#include "step_flops.h"
#include "oneclass/data/idx.h"
#include "oneclass/detectors/registry.h"
#include "oneclass/train/loop.h"

namespace {

using oneclass::Detector;

constexpr int kTrainEpochs = 2;
const std::map<int64_t, int64_t> kTrainImages = {{28, 5851}, {256, 128}};  // all of MNIST's 8s; a folder class
const std::map<int64_t, int64_t> kScoreImages = {{28, 4096}, {256, 64}};

// MNIST's digit 8 (training set), float [N, 1, 28, 28] in [0, 1], read once.
const at::Tensor& mnist_eights() {
  static const at::Tensor images = [] {
    const auto mnist = oneclass::data::load_dataset({"mnist", "", /*allow_download=*/false, ""});
    const auto rows = mnist.train.labels.eq(8).nonzero().squeeze(1);
    return mnist.train.images.index_select(0, rows).unsqueeze(1).to(torch::kFloat).div_(255);
  }();
  return images;
}

// `count` images of side 28 (grey) or 256 (colour), cycling through the eights.
at::Tensor bench_images(int64_t side, int64_t count) {
  const auto& eights = mnist_eights();
  auto images = eights.index_select(0, torch::arange(count, torch::kLong).remainder(eights.size(0)));
  if (side == 28) return images.contiguous();
  namespace F = torch::nn::functional;
  images = F::interpolate(images, F::InterpolateFuncOptions().size(std::vector<int64_t>{side, side})
                                      .mode(torch::kBilinear).align_corners(false));
  return images.expand({count, 3, side, side}).contiguous();
}

nlohmann::json bench_options(const std::string& model) {
  const nlohmann::json defaults = oneclass::make_detector(model)->options();
  nlohmann::json options = nlohmann::json::object();
  if (defaults.contains("epochs")) options["epochs"] = kTrainEpochs;
  if (defaults.contains("pretrain_epochs")) options["pretrain_epochs"] = kTrainEpochs;
  return options;
}

int epochs_of(const Detector& detector) { return std::max(1, detector.plan().epochs); }

std::unique_ptr<Detector> fitted(const std::string& model, const at::Tensor& images, double* seconds) {
  auto detector = oneclass::make_detector(model, bench_options(model));
  oneclass::train::LoopOptions loop;
  loop.progress = false;  // default options: no detector asks for labelled anomalies
  const auto history = oneclass::train::fit(*detector, images, c10::Device(c10::kCPU), loop);
  if (seconds != nullptr) *seconds = history.seconds;
  return detector;
}

// Whether a detector's training runs convolutions: LibTorch's profiler sees them when they run on
// LibTorch's kernels. Those detectors are also timed on LibTorch's kernels, to compare.
bool trains_convolutions(const std::string& model) {
  using namespace torch::autograd::profiler;
  const oneclass::bench::OnLibTorchKernels libtorch_kernels;
  enableProfilerLegacy(ProfilerConfig(ProfilerState::CPU));
  try {
    fitted(model, torch::rand({16, 1, 28, 28}), nullptr);
  } catch (const std::exception&) {  // a detector that wants more images convolves nothing here
  }
  bool convolves = false;
  for (auto& thread_events : disableProfilerLegacy()) {
    for (auto& event : thread_events) convolves = convolves || std::string(event.name()) == "aten::conv2d";
  }
  return convolves;
}

// The kernels a benchmark runs on: oneclass's own (the default) or LibTorch's.
enum class Kernels { own, libtorch };

void BM_Train(benchmark::State& state, const std::string& model, int64_t side, Kernels kernels) {
  std::optional<oneclass::bench::OnLibTorchKernels> libtorch_kernels;
  if (kernels == Kernels::libtorch) libtorch_kernels.emplace();
  const auto images = bench_images(side, kTrainImages.at(side));
  for (auto _ : state) {
    double seconds = 0;
    std::unique_ptr<Detector> detector;
    try {
      detector = fitted(model, images, &seconds);
    } catch (const std::exception& e) {
      state.SkipWithError(e.what());
      return;
    }
    state.SetIterationTime(seconds);
    const int epochs = epochs_of(*detector);
    state.counters["train_images_per_s"] = double(epochs) * double(images.size(0)) / seconds;
    state.counters["epochs"] = epochs;
    state.counters["images"] = double(images.size(0));
    const auto plan = detector->plan();
    if (plan.epochs > 0) state.counters["batch"] = plan.batch_size;
    const double step_flops = oneclass::bench::flops_per_step(model, bench_options(model), images);
    if (step_flops > 0) {
      const double steps = double(plan.epochs) * std::ceil(double(images.size(0)) / plan.batch_size);
      state.counters["FLOPS"] = benchmark::Counter(step_flops * steps / seconds, benchmark::Counter::kDefaults,
                                                   benchmark::Counter::kIs1000);
    }
  }
}

void BM_Score(benchmark::State& state, const std::string& model, int64_t side, Kernels kernels) {
  std::optional<oneclass::bench::OnLibTorchKernels> libtorch_kernels;
  if (kernels == Kernels::libtorch) libtorch_kernels.emplace();
  std::unique_ptr<Detector> detector;
  try {
    detector = fitted(model, bench_images(side, kTrainImages.at(side)), nullptr);
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  const auto images = bench_images(side, kScoreImages.at(side));
  detector->score(images.narrow(0, 0, 8));  // warm the allocator and the kernels' caches
  for (auto _ : state) benchmark::DoNotOptimize(detector->score(images));
  state.counters["images_per_s"] = benchmark::Counter(double(images.size(0)) * double(state.iterations()),
                                                      benchmark::Counter::kIsRate);
}

void register_benchmarks() {
  for (const auto& entry : oneclass::detector_registry()) {
    const bool convolutional = trains_convolutions(entry.name);
    for (const int64_t side : {28, 256}) {
      for (const auto kernels : {Kernels::own, Kernels::libtorch}) {
        if (kernels == Kernels::libtorch && !convolutional) continue;
        const std::string suffix =
            entry.name + "/side:" + std::to_string(side) + (kernels == Kernels::libtorch ? "/kernels:libtorch" : "");
        benchmark::RegisterBenchmark(("BM_Train/" + suffix).c_str(), BM_Train, entry.name, side, kernels)
            ->Iterations(1)
            ->UseManualTime()
            ->Unit(benchmark::kSecond);
        benchmark::RegisterBenchmark(("BM_Score/" + suffix).c_str(), BM_Score, entry.name, side, kernels)
            ->MinTime(1.0)
            ->UseRealTime()
            ->Unit(benchmark::kMillisecond);
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  register_benchmarks();
  return oneclass::bench::run_benchmarks(argc, argv);
}
