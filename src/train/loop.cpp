#include "oneclass/train/loop.h"

#include <chrono>
#include <cstdio>

#include <torch/torch.h>

#include "oneclass/error.h"
#include "oneclass/util/progress.h"

namespace oneclass::train {

History fit(Detector& detector, const at::Tensor& normal_images, const c10::Device& device,
            const LoopOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  const TrainPlan plan = detector.plan();
  const int64_t n = normal_images.size(0);
  if (n == 0) throw Error(detector.name() + ": no training images");
  auto images = normal_images.to(device);
  detector.begin_fit(images, FitContext{device, options.seed});

  History history;
  const int64_t batches_per_epoch = plan.batch_size > 0 ? (n + plan.batch_size - 1) / plan.batch_size : 0;
  ProgressBar bar("train " + detector.name(), plan.epochs * batches_per_epoch, options.progress && plan.epochs > 0);
  // Its own generator: the shuffling order depends on the seed alone, not on what ran before.
  auto generator = at::make_generator<at::CPUGeneratorImpl>(options.seed + 1);
  char status[96];
  for (int epoch = 1; epoch <= plan.epochs; ++epoch) {
    auto order = torch::randperm(n, generator, torch::kLong).to(device);
    double loss_sum = 0;
    for (int64_t b = 0; b < batches_per_epoch; ++b) {
      const int64_t first = b * plan.batch_size;
      const auto rows = order.narrow(0, first, std::min<int64_t>(plan.batch_size, n - first));
      loss_sum += detector.train_step(images.index_select(0, rows));
      ++history.steps;
      if (b % 64 == 0) {  // formatting costs little, but a step here is only ~1 ms
        std::snprintf(status, sizeof status, "epoch %d/%d loss %.5f", epoch, plan.epochs, loss_sum / double(b + 1));
      }
      bar.advance(1, status);
    }
    history.epoch_loss.push_back(loss_sum / static_cast<double>(batches_per_epoch));
    std::snprintf(status, sizeof status, "epoch %d/%d mean loss %.5f", epoch, plan.epochs, history.epoch_loss.back());
    bar.milestone(status);
  }
  detector.end_fit(images);
  history.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (plan.epochs > 0) bar.finish(std::to_string(history.steps) + " steps");
  return history;
}

}  // namespace oneclass::train
