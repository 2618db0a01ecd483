#include "oneclass/train/loop.h"

#include <chrono>
#include <cmath>
#include <cstdio>

#include <torch/torch.h>

#include <fmt/format.h>

#include "oneclass/error.h"
#include "oneclass/util/clock.h"
#include "oneclass/util/random_streams.h"
#include "oneclass/util/progress.h"

namespace oneclass::train {
namespace {

// One detector's place in its epochs: which images its next batch takes.
class BatchSchedule {
 public:
  BatchSchedule(at::Tensor images, const TrainPlan& plan, uint64_t seed)
      : images_(std::move(images)),
        batch_size_(plan.batch_size),
        epochs_(plan.epochs),
        batches_per_epoch_(plan.batch_size > 0 ? (images_.size(0) + plan.batch_size - 1) / plan.batch_size : 0),
        // Its own generator: the order depends on the seed alone, not on what ran before.
        generator_(random_stream(seed, RandomStream::batch_order)) {}

  int64_t total_steps() const { return epochs_ * batches_per_epoch_; }
  bool finished() const { return step_ >= total_steps(); }
  int epoch() const { return static_cast<int>(step_ / batches_per_epoch_) + 1; }  // of the next batch

  at::Tensor next_batch() {
    const int64_t n = images_.size(0), b = step_ % batches_per_epoch_;
    if (b == 0) order_ = torch::randperm(n, generator_, torch::kLong).to(images_.device());
    ++step_;
    const int64_t first = b * batch_size_;
    return images_.index_select(0, order_.narrow(0, first, std::min<int64_t>(batch_size_, n - first)));
  }

  /// Adds the loss of the batch just taken; true when it closed an epoch.
  bool record(double loss, History& history) {
    loss_sum_ += loss;
    ++history.steps;
    if (step_ % batches_per_epoch_ != 0) return false;
    history.epoch_loss.push_back(loss_sum_ / static_cast<double>(batches_per_epoch_));
    loss_sum_ = 0;
    return true;
  }
  double running_loss() const { return loss_sum_ / static_cast<double>((step_ - 1) % batches_per_epoch_ + 1); }

 private:
  at::Tensor images_;
  int64_t batch_size_;
  int epochs_;
  int64_t batches_per_epoch_;
  at::Generator generator_;
  at::Tensor order_;
  int64_t step_ = 0;
  double loss_sum_ = 0;
};

// Steps a lone detector through its schedule, with a progress line per epoch.
void fit_alone(Detector& detector, BatchSchedule& schedule, History& history, ProgressBar& bar,
               const std::function<void(long)>& on_steps) {
  const int epochs = detector.plan().epochs;
  std::string status;
  while (!schedule.finished()) {
    const int epoch = schedule.epoch();
    const bool closed = schedule.record(detector.train_step(schedule.next_batch()), history);
    if (on_steps) on_steps(1);
    if (closed) {
      status = fmt::format("epoch {}/{} mean loss {:.5f}", epoch, epochs, history.epoch_loss.back());
      bar.advance(1, status);
      bar.milestone(status);
    } else {
      if (history.steps % 64 == 1) {  // formatting costs little, but a step here is only ~1 ms
        status = fmt::format("epoch {}/{} loss {:.5f}", epoch, epochs, schedule.running_loss());
      }
      bar.advance(1, status);
    }
  }
}

// Steps every detector of a group at once until the last one has finished its schedule.
void fit_as_group(TrainGroup& group, std::vector<BatchSchedule>& schedules, std::vector<History>& histories,
                  ProgressBar& bar, const std::function<void(long)>& on_steps) {
  std::vector<at::Tensor> batches(schedules.size());
  for (bool any = true; any;) {
    any = false;
    for (size_t i = 0; i < schedules.size(); ++i) {
      batches[i] = schedules[i].finished() ? at::Tensor() : schedules[i].next_batch();
      any = any || batches[i].defined();
    }
    if (!any) break;
    const std::vector<double> losses = group.train_step(batches);
    long stepped = 0;
    for (size_t i = 0; i < schedules.size(); ++i) {
      if (!batches[i].defined()) continue;
      schedules[i].record(losses[i], histories[i]);
      ++stepped;
    }
    bar.advance(1, "");
    if (on_steps) on_steps(stepped);
  }
  group.finish();
}

// The labelled anomalies a detector asked for, on its device; an error when they do not match.
at::Tensor labeled_anomalies_for(const Detector& detector, const FitJob& job, const c10::Device& device) {
  const int64_t wanted = detector.labeled_anomalies_wanted();
  const int64_t given = job.labeled_anomalies.defined() ? job.labeled_anomalies.size(0) : 0;
  if (given != wanted) {
    throw Error(detector.name() + ": expects " + std::to_string(wanted) + " labelled anomalies, was given " +
                std::to_string(given) + (wanted == 0 ? " (only semi-supervised detectors such as deep-sad use them)" : ""));
  }
  return wanted > 0 ? job.labeled_anomalies.to(device) : at::Tensor();
}

// How a detector made of detectors (the ensemble) fits its members: as lone fits, without progress.
std::function<void(Detector&, const at::Tensor&, uint64_t)> fit_member_on(const c10::Device& device) {
  return [device](Detector& member, const at::Tensor& images, uint64_t seed) {
    LoopOptions options;
    options.seed = seed;
    options.progress = false;
    fit(member, images, device, options);
  };
}

}  // namespace

History fit(Detector& detector, const at::Tensor& normal_images, const c10::Device& device,
            const LoopOptions& options) {
  return fit_together({{&detector, normal_images, options.seed, options.labeled_anomalies}}, device, options.progress)
      .front();
}

std::vector<History> fit_together(const std::vector<FitJob>& jobs, const c10::Device& device, bool progress,
                                  const std::function<void(long)>& on_steps) {
  const auto start = Clock::now();
  if (jobs.empty()) return {};
  const TrainPlan plan = jobs.front().detector->plan();
  std::vector<BatchSchedule> schedules;
  std::vector<Detector*> detectors;
  for (const auto& job : jobs) {
    Detector& detector = *job.detector;
    if (job.normal_images.size(0) == 0) throw Error(detector.name() + ": no training images");
    auto images = job.normal_images.to(device);
    FitContext context{device, job.seed, labeled_anomalies_for(detector, job, device), fit_member_on(device)};
    detector.begin_fit(images, context);
    schedules.emplace_back(images, plan, job.seed);
    detectors.push_back(&detector);
  }
  std::vector<History> histories(jobs.size());
  std::unique_ptr<TrainGroup> group;
  if (jobs.size() > 1) group = detectors.front()->train_together(detectors);

  int64_t steps = 0;  // progress units: one per step of the group, or of each detector alone
  for (const auto& schedule : schedules) {
    steps = group ? std::max(steps, schedule.total_steps()) : steps + schedule.total_steps();
  }
  const std::string what = jobs.size() > 1 ? std::to_string(jobs.size()) + " x " + detectors.front()->name()
                                           : detectors.front()->name();
  ProgressBar bar("train " + what, steps, progress && steps > 0);
  if (group) {
    fit_as_group(*group, schedules, histories, bar, on_steps);
  } else {
    for (size_t i = 0; i < jobs.size(); ++i) fit_alone(*detectors[i], schedules[i], histories[i], bar, on_steps);
  }
  for (size_t i = 0; i < jobs.size(); ++i) detectors[i]->end_fit(jobs[i].normal_images.to(device));
  const double seconds = seconds_since(start);
  for (auto& history : histories) history.seconds = seconds;
  if (steps > 0) bar.finish(std::to_string(steps) + " steps");
  return histories;
}

}  // namespace oneclass::train
