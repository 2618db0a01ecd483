#pragma once
// Running one stack of benchmark jobs: the members' experiments are prepared as `oneclass run`
// prepares one, trained together in one call per step, and each is measured exactly as `run`
// measures (engine/run.h). A failure stays with the job that caused it.
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <c10/core/Device.h>

#include "oneclass/bench/bench.h"
#include "oneclass/bench/store.h"
#include "oneclass/data/idx.h"

namespace oneclass::bench {

// The data sets, each loaded once per process; one that cannot be loaded is not tried again.
class DatasetCache {
 public:
  explicit DatasetCache(const BenchConfig& config) : config_(config) {}
  /// The data set `name`; its loading error again when it could not be loaded before.
  const data::Dataset& get(const std::string& name);

 private:
  const BenchConfig& config_;
  std::map<std::string, data::Dataset> loaded_;
  std::map<std::string, std::string> errors_;
};


// Called during training with the fraction of the stack's training done so far.
using ProgressCallback = std::function<void(double)>;

/// Trains the jobs of `stack` (one data set, model and options) together and measures each: one
/// result per job, finished or failed. Throws Interrupted when Ctrl-C was pressed.
std::vector<JobResult> run_stack(const std::vector<Job>& stack, const BenchConfig& config, DatasetCache& datasets,
                                 const c10::Device& device, const ProgressCallback& on_progress);

}  // namespace oneclass::bench
