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
#include <sstream>

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
// Ctrl-C: the first one stops the run at the next check (between stacks, and every 256 training
// steps) and writes the report of what is finished; a second one ends the process at once
// (finished jobs are already in the database either way).

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

// Readable, and unique through the job key (two labels may map to one folder name).
std::string artifacts_folder(const Job& job) {
  return "runs/" + job.dataset + "/" + folder_name(job.label) + "/class" + std::to_string(job.normal_class) +
         "-seed" + std::to_string(job.seed) + "-" + job.key();
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

JobResult measure(const Member& m, const BenchConfig& config, const train::History& history, int stack_size) {
  RunConfig run = run_config_of(m.job, config);
  // The figures need a threshold, which needs held-out normals.
  run.figures = run.figures && m.split.val.size(0) > 0;
  RunEvaluation evaluation = evaluate_run(run, *m.detector, m.split, history);
  // The job's share of its stack's training time (the stack trained its members at once).
  evaluation.metrics["train_seconds"] = history.seconds / stack_size;
  evaluation.metrics["stack_train_seconds"] = history.seconds;
  evaluation.metrics["stack_size"] = stack_size;
  JobResult r;
  r.key = m.job.key();
  r.config = m.job.config();
  r.ok = true;
  r.auroc = evaluation.metrics["auroc"].get<double>();
  r.auprc = evaluation.metrics["auprc"].get<double>();
  r.train_seconds = history.seconds / stack_size;
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
    fit_jobs.push_back({m.detector.get(), m.split.train, m.job.seed, m.split.labeled_anomalies});
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
      results.push_back(measure(members[i], config, histories[i], static_cast<int>(members.size())));
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
      torch::manual_seed(job.seed);  // as `oneclass run` does before building the detector
      auto detector = make_detector(job.model, job.options);
      options.labeled_anomalies = detector->labeled_anomalies_wanted();
      members.push_back({job, data::make_one_class_split(datasets.get(job.dataset), options), std::move(detector)});
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

// Starts a broadcast that carries rank 0's error instead of the job keys.
constexpr char kErrorMark[] = "\x01";

std::unique_ptr<ResultStore> open_store(const std::string& out_dir) {
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec) throw Error("cannot create benchmark folder " + out_dir + ": " + ec.message());
  return std::make_unique<ResultStore>((fs::path(out_dir) / "results.sqlite").string());
}

// A missing data set is a set-up error, not a job failure: say so before any work starts.
void check_datasets(const std::vector<Job>& jobs, const BenchConfig& config) {
  std::set<std::string> needed;
  for (const auto& job : jobs) needed.insert(job.dataset);
  for (const auto& name : needed) data::locate_dataset({name, config.data_dir, config.allow_download, ""});
}

// One bench process: its share of the stacks, and on rank 0 the database and the report.
class BenchRun {
 public:
  BenchRun(const BenchConfig& config, Cluster& cluster)
      : config_(config),
        cluster_(cluster),
        is_root_(cluster.rank() == 0),
        device_(resolve_device(config.device)),
        plan_(plan_with_device(config.plan, device_)) {
    for (const auto& job : plan_) keys_.push_back(job.key());
  }

  BenchOutcome run() {
    const auto start = Clock::now();
    share_pending_jobs();
    // Every rank checks the data sets of the stacks it will train (each host has its own copy).
    check_datasets(my_jobs(), config_);
    BenchProgress progress(static_cast<int>(pending_.size()), is_root_ && config_.progress);
    progress_ = &progress;
    if (is_root_) {
      std::fprintf(stderr, "bench: %d jobs planned, %d already finished, %d to run on %d process(es); results in %s\n",
                   outcome_.planned, outcome_.skipped, static_cast<int>(pending_.size()), cluster_.size(),
                   store_->path().c_str());
    }
    if (cluster_.size() == 1) std::signal(SIGINT, on_interrupt);
    try {
      train_my_stacks();
    } catch (const Interrupted&) {
      outcome_.interrupted = true;
    }
    std::signal(SIGINT, SIG_DFL);
    if (is_root_) {
      cluster_.receive_results([&](const JobResult& r) { store(r, false); }, /*until_all_done=*/true);
    } else {
      cluster_.send_done();
    }
    outcome_.wall_seconds = seconds_since(start);
    outcome_.is_rank0 = is_root_;
    if (is_root_) {
      progress.finish();
      if (outcome_.interrupted) {
        std::fprintf(stderr, "bench: interrupted; finished jobs are saved, run the same command to go on\n");
      }
      if (config_.report) write_report(config_, plan_, *store_, outcome_.wall_seconds, device_);
    }
    return outcome_;
  }

 private:
  static std::vector<Job> plan_with_device(PlanOptions options, const c10::Device& device) {
    options.device = device.is_cuda() ? "cuda" : device.str();
    return plan_jobs(options);
  }

  // Rank 0 reads what is finished and tells every rank what is left, as job keys (or its error,
  // so that no rank waits for work that will not come).
  void share_pending_jobs() {
    std::string pending_keys;
    if (is_root_) {
      try {
        store_ = open_store(config_.out_dir);
        pending_keys = unfinished_keys();
      } catch (const std::exception& e) {
        cluster_.broadcast(kErrorMark + std::string(e.what()));
        throw;
      }
    }
    pending_keys = cluster_.broadcast(pending_keys);
    if (pending_keys.rfind(kErrorMark, 0) == 0) throw Error("rank 0 stopped: " + pending_keys.substr(1));
    std::set<std::string> pending;
    std::stringstream lines(pending_keys);
    for (std::string key; std::getline(lines, key);) pending.insert(key);
    for (size_t i = 0; i < plan_.size(); ++i) {
      if (pending.count(keys_[i])) pending_.push_back(plan_[i]);
    }
    outcome_.planned = static_cast<int>(plan_.size());
    outcome_.skipped = outcome_.planned - static_cast<int>(pending_.size());
    for (const auto& job : pending_) description_[job.key()] = job.describe();
    // One member per thread by default on the CPU: larger stacks share the cache among more
    // networks and were slower here (roofline: 753 us per member-step with 2 members on 2 threads,
    // 818 with 10, 1015 with 20). On a GPU, larger stacks fill the device (not measured).
    const int per_thread = std::max(1, at::get_num_threads());
    const int size = config_.stack_size > 0 ? config_.stack_size : device_.is_cpu() ? per_thread : 16;
    stacks_ = stack_jobs(pending_, size);
  }

  std::string unfinished_keys() const {
    const auto done = store_->finished(keys_);
    const std::set<std::string> finished(done.begin(), done.end());
    std::string pending;
    for (const auto& key : keys_) {
      if (!finished.count(key)) pending += key + "\n";
    }
    return pending;
  }

  bool is_mine(size_t stack) const { return static_cast<int>(stack % cluster_.size()) == cluster_.rank(); }

  std::vector<Job> my_jobs() const {
    std::vector<Job> jobs;
    for (size_t i = 0; i < stacks_.size(); ++i) {
      if (is_mine(i)) jobs.insert(jobs.end(), stacks_[i].begin(), stacks_[i].end());
    }
    return jobs;
  }

  // Another bench process on the same folder may have finished some of these meanwhile.
  std::vector<Job> still_unfinished(const std::vector<Job>& stack) {
    if (!is_root_) return stack;
    std::vector<std::string> keys;
    for (const auto& job : stack) keys.push_back(job.key());
    const auto done = store_->finished(keys);
    std::vector<Job> left;
    for (const auto& job : stack) {
      if (std::find(done.begin(), done.end(), job.key()) == done.end()) left.push_back(job);
    }
    if (left.size() < stack.size()) {
      const int elsewhere = static_cast<int>(stack.size() - left.size());
      outcome_.skipped += elsewhere;
      progress_->finished_elsewhere(elsewhere);
    }
    return left;
  }

  void train_my_stacks() {
    DatasetCache datasets(config_);
    for (size_t i = 0; i < stacks_.size(); ++i) {
      if (!is_mine(i)) continue;
      stop_if_interrupted();  // stacks shorter than 256 steps (and knn's) never reach the check below
      const auto stack = still_unfinished(stacks_[i]);
      if (stack.empty()) continue;
      // Every few hundred steps: the bar moves, Ctrl-C is noticed, and rank 0 takes in the results
      // other ranks have sent meanwhile (stored after the stack, so that a database error is not
      // mistaken for a training failure of this stack).
      long calls = 0;
      std::vector<JobResult> received;
      const auto on_progress = [&](double fraction) {
        if (++calls % 256 != 0) return;
        stop_if_interrupted();
        if (!is_root_) return;
        progress_->training(fraction, static_cast<int>(stack.size()));
        cluster_.receive_results([&](const JobResult& r) { received.push_back(r); }, false);
      };
      auto results = run_stack(stack, config_, datasets, device_, on_progress);
      for (const auto& r : received) store(r, false);
      if (is_root_) progress_->stack_done(static_cast<int>(stack.size()));
      for (auto& r : results) {
        if (r.ok) r.metrics["rank"] = cluster_.rank();  // which process trained it (0 outside mpirun)
        if (is_root_) {
          store(r, true);
        } else {
          cluster_.send_result(r);
        }
      }
      if (is_root_) cluster_.receive_results([&](const JobResult& r) { store(r, false); }, false);
    }
  }

  void store(const JobResult& r, bool counted_by_training) {
    store_->put(r);
    r.ok ? ++outcome_.finished : ++outcome_.failed;
    progress_->job_done(r, description_[r.key], counted_by_training);
  }

  const BenchConfig& config_;
  Cluster& cluster_;
  const bool is_root_;
  const c10::Device device_;
  const std::vector<Job> plan_;
  std::vector<std::string> keys_;  // of plan_, in order
  std::unique_ptr<ResultStore> store_;  // rank 0 only
  std::vector<Job> pending_;
  std::vector<std::vector<Job>> stacks_;
  std::map<std::string, std::string> description_;  // key -> "mnist / mlp-ae / class 3 / seed 1"
  BenchProgress* progress_ = nullptr;
  BenchOutcome outcome_;
};

}  // namespace

BenchOutcome run_bench(const BenchConfig& config) {
  auto cluster = make_cluster();
  try {
    return BenchRun(config, *cluster).run();
  } catch (const std::exception& e) {
    // Under mpirun an error on one rank must not leave the others waiting for it.
    if (cluster->size() > 1) cluster->abort_all(e.what());
    throw;
  }
}

}  // namespace oneclass::bench
