#pragma once
// What `oneclass bench` shows on rank 0: one bar over all pending jobs, one line per finished job.
#include <string>

#include <fmt/format.h>

#include "oneclass/bench/store.h"
#include "oneclass/util/progress.h"

namespace oneclass::bench {

class BenchProgress {
 public:
  BenchProgress(int pending, bool enabled)
      : pending_(pending), bar_("bench", static_cast<long>(pending) * kUnitsPerJob, enabled) {}

  // Training progress of this process's current stack: `fraction` of `jobs` jobs' work.
  void training(double stack_fraction, int stack_jobs) {
    const long target = static_cast<long>(stack_fraction * stack_jobs * kUnitsPerJob);
    if (target > stack_units_) {
      bar_.advance(target - stack_units_, status());
      stack_units_ = target;
    }
  }
  // The rest of the stack's share of the bar (training reports progress only every few steps).
  void stack_done(int stack_jobs) {
    const long share = static_cast<long>(stack_jobs) * kUnitsPerJob;
    if (share > stack_units_) bar_.advance(share - stack_units_, status());
    stack_units_ = 0;
  }

  void job_done(const JobResult& r, const std::string& what, bool counted_by_training) {
    ++done_;
    if (!r.ok) ++failed_;
    if (!counted_by_training) bar_.advance(kUnitsPerJob, status());
    bar_.note(r.ok ? fmt::format("[{}/{}] {}: AUROC {:.4f} (train {:.1f} s, {})", done_, pending_, what, r.auroc,
                                 r.train_seconds, r.host)
                   : fmt::format("[{}/{}] {}: FAILED: {}", done_, pending_, what, r.error));
  }

  // Jobs another process finished meanwhile: they count as done here.
  void finished_elsewhere(int jobs) {
    done_ += jobs;
    bar_.advance(static_cast<long>(jobs) * kUnitsPerJob, status());
  }

  void finish() { bar_.finish(std::to_string(done_) + "/" + std::to_string(pending_) + " jobs"); }

 private:
  static constexpr long kUnitsPerJob = 1000;
  std::string status() const {
    return std::to_string(done_) + "/" + std::to_string(pending_) + " jobs" +
           (failed_ ? ", " + std::to_string(failed_) + " failed" : "");
  }
  int pending_, done_ = 0, failed_ = 0;
  long stack_units_ = 0;
  ProgressBar bar_;
};

}  // namespace oneclass::bench
