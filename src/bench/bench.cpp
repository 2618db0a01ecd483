// `oneclass bench` on one process: which jobs are left (resume, revisions), this rank's share of
// the stacks, storing each result, and on rank 0 the report. A stack's training and measuring is
// in stack_runner.cpp, the MPI exchange in cluster.cpp.
#include "oneclass/bench/bench.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include <torch/torch.h>

#include "bench/cluster.h"
#include "bench/interrupt.h"
#include "bench/bench_progress.h"
#include "bench/stack_runner.h"
#include "oneclass/bench/store.h"
#include "oneclass/data/datasets.h"
#include "oneclass/data/image_files.h"
#include "oneclass/error.h"
#include "oneclass/report/bench_report.h"
#include "oneclass/util/clock.h"
#include "oneclass/util/system_info.h"

namespace oneclass::bench {
namespace {

namespace fs = std::filesystem;

// ---------------------------------------------------------------------------------------------
// The report, from everything the database holds for this plan.

// A metric of a job's metrics.json, when it is there and a number (pixel metrics may be null).
std::optional<double> number_in(const nlohmann::json& metrics, const char* name) {
  if (!metrics.is_object() || !metrics.contains(name) || !metrics[name].is_number()) return std::nullopt;
  return metrics[name].get<double>();
}

// Whether the job's training_health (a GAN's) found a problem.
bool training_flagged(const nlohmann::json& metrics) {
  if (!metrics.is_object() || !metrics.contains("training_health")) return false;
  const auto& health = metrics["training_health"];
  return health.is_object() && health.contains("ok") && health["ok"].is_boolean() && !health["ok"].get<bool>();
}

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
                      r.artifacts, r.revision, job.category, number_in(r.metrics, "pixel_auroc"),
                      number_in(r.metrics, "aupro"), training_flagged(r.metrics)});
    } else {
      failures.push_back({job.dataset, job.label, job.normal_class, job.seed, r.error, job.category});
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
  for (const auto& job : jobs) {
    if (!is_folder_dataset(job.dataset)) {
      needed.insert(job.dataset);
    } else if (!data::image_files_supported()) {  // its categories were found when planning
      throw Error("--datasets " + job.dataset + ": " + data::image_files_status());
    }
  }
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
      if (outcome_.stale > 0) {
        std::fprintf(stderr, "bench: %d finished job(s) were made by other source revisions: %s\n", outcome_.stale,
                     config_.stale == StaleResults::keep ? "kept (--keep-stale)" : "rerun (--rerun-stale)");
      }
    }
    if (cluster_.size() == 1) catch_interrupts();
    try {
      train_my_stacks();
    } catch (const Interrupted&) {
      outcome_.interrupted = true;
    }
    release_interrupts();
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

  // Which stored results count as finished: any (--keep-stale), or only this revision's.
  std::optional<std::string> counted_revision() const {
    if (config_.stale == StaleResults::keep) return std::nullopt;
    return std::string(source_revision());
  }

  // Finished jobs made by other source revisions are never reused silently: with neither
  // --rerun-stale nor --keep-stale the run stops here, before any work, and says what it found.
  std::string unfinished_keys() {
    std::map<std::string, int> stale_by_revision;
    std::set<std::string> finished;
    for (const auto& [key, result] : store_->get(keys_)) {
      if (!result.ok) continue;
      if (same_code(result.revision, source_revision())) {
        finished.insert(key);
        continue;
      }
      ++stale_by_revision[result.revision];
      ++outcome_.stale;
      if (config_.stale == StaleResults::keep) finished.insert(key);
    }
    if (!stale_by_revision.empty() && config_.stale == StaleResults::refuse) {
      throw Error(stale_message(stale_by_revision));
    }
    std::string pending;
    for (const auto& key : keys_) {
      if (!finished.count(key)) pending += key + "\n";
    }
    return pending;
  }

  static std::string stale_message(const std::map<std::string, int>& stale_by_revision) {
    std::string counts;
    int total = 0;
    for (const auto& [revision, count] : stale_by_revision) {
      counts += (counts.empty() ? "" : ", ") + std::to_string(count) + " by revision " + revision;
      total += count;
    }
    const std::string current = source_revision();
    const std::string unknown = current == "unknown" ? " (built outside a git checkout, so no row can be matched to it)"
                                                     : "";
    return std::to_string(total) + " finished job(s) of this plan were made by other code (" + counts +
           "; this is revision " + current + unknown +
           "); rerun them with --rerun-stale, or keep them with --keep-stale (the report then lists the revisions "
           "of each table row)";
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
    const auto done = store_->finished(keys, counted_revision());
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
