#include "oneclass/bench/bench.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>

#include <torch/torch.h>

#include "bench/cluster.h"
#include "oneclass/bench/store.h"
#include "oneclass/data/datasets.h"
#include "oneclass/data/idx.h"
#include "oneclass/data/split.h"
#include "oneclass/detectors/registry.h"
#include "oneclass/engine/run.h"
#include "oneclass/error.h"
#include "oneclass/report/bench_report.h"
#include "oneclass/train/loop.h"
#include "oneclass/util/progress.h"
#include "oneclass/util/system_info.h"

namespace oneclass::bench {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// ---------------------------------------------------------------------------------------------
// Ctrl-C: the first one stops after the current step and writes the report of what is finished;
// a second one ends the process at once (finished jobs are already in the database either way).

std::atomic<bool> interrupt_requested{false};

extern "C" void on_interrupt(int) {
  interrupt_requested.store(true);
  std::signal(SIGINT, SIG_DFL);
}

struct Interrupted {};

void stop_if_interrupted() {
  if (interrupt_requested.load()) throw Interrupted{};
}

// ---------------------------------------------------------------------------------------------
// Running one stack of jobs

std::string host_name() {
  char name[256] = {};
  gethostname(name, sizeof name - 1);
  return name;
}

// A folder name from a model label: "mlp-ae(z=32)" -> "mlp-ae_z=32_".
std::string folder_name(const std::string& label) {
  std::string name = label;
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.' && c != '=') c = '_';
  }
  return name;
}

std::string artifacts_folder(const Job& job) {
  return "runs/" + job.dataset + "/" + folder_name(job.label) + "/class" + std::to_string(job.normal_class) +
         "-seed" + std::to_string(job.seed);
}

// What `oneclass run` would be given for this job.
RunConfig run_config_of(const Job& job, const BenchConfig& config) {
  RunConfig run;
  run.dataset = job.dataset;
  run.data_dir = config.data_dir;
  run.allow_download = config.allow_download;
  run.normal = std::to_string(job.normal_class);
  run.val_fraction = job.val_fraction;
  run.model = job.model;
  run.model_options = job.options;
  run.seed = job.seed;
  run.device = config.device;
  run.out_dir = (fs::path(config.out_dir) / artifacts_folder(job)).string();
  run.overwrite = true;
  run.progress = false;
  run.figures = config.keep_artifacts;
  return run;
}

JobResult failure(const Job& job, const std::string& error) {
  JobResult r;
  r.key = job.key();
  r.config = job.config();
  r.ok = false;
  r.error = error;
  r.host = host_name();
  return r;
}

// The data sets, each loaded once per process; one that cannot be loaded is not tried again.
class DatasetCache {
 public:
  explicit DatasetCache(const BenchConfig& config) : config_(config) {}
  const data::Dataset& get(const std::string& name) {
    if (const auto failed = errors_.find(name); failed != errors_.end()) throw Error(failed->second);
    auto it = loaded_.find(name);
    if (it == loaded_.end()) {
      try {
        it = loaded_.emplace(name, data::load_dataset({name, config_.data_dir, config_.allow_download, ""})).first;
      } catch (const std::exception& e) {
        errors_.emplace(name, e.what());
        throw;
      }
    }
    return it->second;
  }

 private:
  const BenchConfig& config_;
  std::map<std::string, data::Dataset> loaded_;
  std::map<std::string, std::string> errors_;
};

// One job's model and data while its stack trains.
struct Member {
  Job job;
  data::OneClassSplit split;
  std::unique_ptr<Detector> detector;
};

int64_t planned_steps(const Member& m) {
  const TrainPlan plan = m.detector->plan();
  if (plan.epochs == 0 || plan.batch_size == 0) return 0;
  return plan.epochs * ((m.split.train.size(0) + plan.batch_size - 1) / plan.batch_size);
}

JobResult measure(const Member& m, const BenchConfig& config, const train::History& history, double share) {
  const RunConfig run = run_config_of(m.job, config);
  RunEvaluation evaluation = evaluate_run(run, *m.detector, m.split, history);
  JobResult r;
  r.key = m.job.key();
  r.config = m.job.config();
  r.ok = true;
  r.auroc = evaluation.metrics["auroc"].get<double>();
  r.auprc = evaluation.metrics["auprc"].get<double>();
  r.train_seconds = history.seconds * share;
  r.host = host_name();
  if (config.keep_artifacts) {
    prepare_run_folder(run);
    write_run_folder(run, *m.detector, m.split, history, evaluation);
    r.artifacts = artifacts_folder(m.job);
  }
  evaluation.metrics.erase("environment");  // the report states it once
  r.metrics = evaluation.metrics;
  return r;
}

// Called during training with the fraction of the stack's training done so far.
using ProgressCallback = std::function<void(double)>;

// Trains `members` together and measures each; a failure is confined to the job that caused it.
std::vector<JobResult> train_and_measure(std::vector<Member>& members, const BenchConfig& config,
                                         const c10::Device& device, const ProgressCallback& on_progress) {
  std::vector<train::FitJob> fit_jobs;
  int64_t total_steps = 0, steps_done = 0;
  for (auto& m : members) {
    fit_jobs.push_back({m.detector.get(), m.split.train, m.job.seed});
    total_steps += planned_steps(m);
  }
  const auto on_steps = [&](long steps) {
    steps_done += steps;
    on_progress(static_cast<double>(steps_done) / static_cast<double>(std::max<int64_t>(total_steps, 1)));
  };
  std::vector<train::History> histories;
  try {
    histories = train::fit_together(fit_jobs, device, /*progress=*/false, on_steps);
  } catch (const Interrupted&) {
    throw;
  } catch (const std::exception& e) {
    if (members.size() == 1) return {failure(members[0].job, e.what())};
    // Find the culprit: train the members one by one.
    std::vector<JobResult> results;
    for (auto& m : members) {
      torch::manual_seed(m.job.seed);
      m.detector = make_detector(m.job.model, m.job.options);
      std::vector<Member> alone;
      alone.push_back(std::move(m));
      for (auto& r : train_and_measure(alone, config, device, on_progress)) results.push_back(std::move(r));
    }
    return results;
  }
  std::vector<JobResult> results;
  for (size_t i = 0; i < members.size(); ++i) {
    try {
      results.push_back(measure(members[i], config, histories[i], 1.0 / static_cast<double>(members.size())));
    } catch (const std::exception& e) {
      results.push_back(failure(members[i].job, e.what()));
    }
  }
  return results;
}

// Splits the data and builds the detectors of one stack; jobs that cannot even start fail here.
std::vector<JobResult> run_stack(const std::vector<Job>& stack, const BenchConfig& config, DatasetCache& datasets,
                                 const c10::Device& device, const ProgressCallback& on_progress) {
  std::vector<JobResult> results;
  std::vector<Member> members;
  for (const auto& job : stack) {
    try {
      data::SplitOptions options;
      options.normal = {job.normal_class};
      options.val_fraction = job.val_fraction;
      options.seed = job.seed;
      Member m{job, data::make_one_class_split(datasets.get(job.dataset), options), nullptr};
      torch::manual_seed(job.seed);  // as `oneclass run` does before building the detector
      m.detector = make_detector(job.model, job.options);
      members.push_back(std::move(m));
    } catch (const std::exception& e) {
      results.push_back(failure(job, e.what()));
    }
  }
  if (!members.empty()) {
    for (auto& r : train_and_measure(members, config, device, on_progress)) results.push_back(std::move(r));
  }
  return results;
}

// ---------------------------------------------------------------------------------------------
// Progress on rank 0: one bar over all pending jobs, one line per finished job.

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
    char line[512];
    if (r.ok) {
      std::snprintf(line, sizeof line, "[%d/%d] %s: AUROC %.4f (train %.1f s, %s)", done_, pending_, what.c_str(),
                    r.auroc, r.train_seconds, r.host.c_str());
    } else {
      std::snprintf(line, sizeof line, "[%d/%d] %s: FAILED: %s", done_, pending_, what.c_str(), r.error.c_str());
    }
    bar_.note(line);
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

// ---------------------------------------------------------------------------------------------
// The report, from everything the database holds for this plan.

void write_report(const BenchConfig& config, const std::vector<Job>& plan, const ResultStore& store,
                  double wall_seconds, const c10::Device& device) {
  std::vector<std::string> keys;
  for (const auto& job : plan) keys.push_back(job.key());
  const auto stored = store.get(keys);
  std::vector<report::BenchRow> rows;
  std::vector<report::BenchFailure> failures;
  for (const auto& job : plan) {
    const auto it = stored.find(job.key());
    if (it == stored.end()) continue;
    const JobResult& r = it->second;
    if (r.ok) {
      rows.push_back({job.dataset, job.label, job.normal_class, job.seed, r.auroc, r.auprc, r.train_seconds,
                      r.artifacts});
    } else {
      failures.push_back({job.dataset, job.label, job.normal_class, job.seed, r.error});
    }
  }
  report::BenchContext context{config.command, doctor_line(device), wall_seconds, static_cast<int>(plan.size())};
  report::write_bench_report(config.out_dir, rows, failures, context);
}

std::vector<Job> without_finished(const std::vector<Job>& jobs, const ResultStore& store) {
  std::vector<std::string> keys;
  for (const auto& job : jobs) keys.push_back(job.key());
  const auto done = store.finished(keys);
  std::vector<Job> left;
  for (const auto& job : jobs) {
    if (std::find(done.begin(), done.end(), job.key()) == done.end()) left.push_back(job);
  }
  return left;
}

// Starts a broadcast that carries rank 0's error instead of the job keys.
constexpr char kErrorMark[] = "\x01";

std::unique_ptr<ResultStore> open_store(const std::string& out_dir) {
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec) throw Error("cannot create benchmark folder " + out_dir + ": " + ec.message());
  return std::make_unique<ResultStore>((fs::path(out_dir) / "results.sqlite").string());
}

// The keys of the plan's jobs without a finished result, one per line.
std::string unfinished_keys(const std::vector<Job>& plan, const ResultStore& store) {
  std::vector<std::string> keys;
  for (const auto& job : plan) keys.push_back(job.key());
  const auto done = store.finished(keys);
  const std::set<std::string> finished(done.begin(), done.end());
  std::string pending;
  for (const auto& key : keys) {
    if (!finished.count(key)) pending += key + "\n";
  }
  return pending;
}

// A missing data set is a set-up error, not a job failure: say so before any work starts.
void check_datasets(const std::vector<Job>& plan, const std::string& pending_keys, const BenchConfig& config) {
  std::set<std::string> needed;
  for (const auto& job : plan) {
    if (pending_keys.find(job.key() + "\n") != std::string::npos) needed.insert(job.dataset);
  }
  for (const auto& name : needed) data::locate_dataset({name, config.data_dir, config.allow_download, ""});
}

}  // namespace

BenchSummary run_bench(const BenchConfig& config) {
  const auto start = Clock::now();
  auto cluster = make_cluster();
  const bool is_root = cluster->rank() == 0;
  const c10::Device device = resolve_device(config.device);
  const std::vector<Job> plan = plan_jobs(config.plan);

  // Rank 0 reads what is finished and tells every rank what is left, as job keys (or its error,
  // so that no rank waits for work that will not come).
  std::unique_ptr<ResultStore> store;
  std::string pending_keys;
  if (is_root) {
    try {
      store = open_store(config.out_dir);
      pending_keys = unfinished_keys(plan, *store);
      check_datasets(plan, pending_keys, config);
    } catch (const std::exception& e) {
      cluster->broadcast(kErrorMark + std::string(e.what()));
      throw;
    }
  }
  pending_keys = cluster->broadcast(pending_keys);
  if (pending_keys.rfind(kErrorMark, 0) == 0) throw Error("rank 0 stopped: " + pending_keys.substr(1));
  std::vector<Job> pending;
  for (const auto& job : plan) {
    if (pending_keys.find(job.key() + "\n") != std::string::npos) pending.push_back(job);
  }

  BenchSummary summary;
  summary.planned = static_cast<int>(plan.size());
  summary.skipped = summary.planned - static_cast<int>(pending.size());
  BenchProgress progress(static_cast<int>(pending.size()), is_root && config.progress);
  if (is_root) {
    std::fprintf(stderr, "bench: %d jobs planned, %d already finished, %d to run on %d process(es); results in %s\n",
                 summary.planned, summary.skipped, static_cast<int>(pending.size()), cluster->size(),
                 store->path().c_str());
  }
  std::map<std::string, std::string> description;  // key -> "mnist / mlp-ae / class 3 / seed 1"
  for (const auto& job : pending) description[job.key()] = job.describe();
  auto store_result = [&](const JobResult& r, bool counted_by_training) {
    store->put(r);
    r.ok ? ++summary.finished : ++summary.failed;
    progress.job_done(r, description[r.key], counted_by_training);
  };

  if (cluster->size() == 1) std::signal(SIGINT, on_interrupt);
  bool interrupted = false;
  DatasetCache datasets(config);
  // One member per thread by default: larger stacks share the cache among more networks and were
  // slower here (roofline: 753 us per member-step with 2 members on 2 threads, 818 with 10, 1015
  // with 20).
  const int stack_size = config.stack_size > 0 ? config.stack_size : std::max(1, at::get_num_threads());
  const auto stacks = stack_jobs(pending, stack_size);
  try {
    for (size_t i = 0; i < stacks.size(); ++i) {
      if (static_cast<int>(i % static_cast<size_t>(cluster->size())) != cluster->rank()) continue;
      stop_if_interrupted();  // stacks shorter than 256 steps (and knn's) never reach the check below
      // Another bench process on the same folder may have finished some of these meanwhile.
      const auto stack = is_root ? without_finished(stacks[i], *store) : stacks[i];
      if (stack.size() < stacks[i].size()) {
        const int elsewhere = static_cast<int>(stacks[i].size() - stack.size());
        summary.skipped += elsewhere;
        progress.stack_done(elsewhere);  // their share of the bar
      }
      if (stack.empty()) continue;
      // Every few hundred steps: the bar moves, Ctrl-C is noticed, and rank 0 stores the results
      // other ranks have sent meanwhile.
      long calls = 0;
      const auto on_progress = [&](double fraction) {
        if (++calls % 256 != 0) return;
        stop_if_interrupted();
        if (!is_root) return;
        progress.training(fraction, static_cast<int>(stack.size()));
        cluster->receive_results([&](const JobResult& r) { store_result(r, false); }, false);
      };
      auto results = run_stack(stack, config, datasets, device, on_progress);
      if (is_root) progress.stack_done(static_cast<int>(stack.size()));
      for (auto& r : results) {
        if (r.ok) r.metrics["rank"] = cluster->rank();  // which process trained it (0 outside mpirun)
        if (is_root) {
          store_result(r, true);
        } else {
          cluster->send_result(r);
        }
      }
      if (is_root) cluster->receive_results([&](const JobResult& r) { store_result(r, false); }, false);
    }
  } catch (const Interrupted&) {
    interrupted = true;
  }
  std::signal(SIGINT, SIG_DFL);
  if (!is_root) {
    cluster->send_done();
  } else {
    cluster->receive_results([&](const JobResult& r) { store_result(r, false); }, true);
  }
  summary.wall_seconds = seconds_since(start);
  if (is_root) {
    progress.finish();
    if (interrupted) std::fprintf(stderr, "bench: interrupted; finished jobs are saved, run the same command to go on\n");
    if (config.report) write_report(config, plan, *store, summary.wall_seconds, device);
  }
  summary.interrupted = interrupted;
  summary.is_rank0 = is_root;
  return summary;
}

}  // namespace oneclass::bench
