#include "bench/stack_runner.h"

#include <algorithm>
#include <cctype>
#include <filesystem>

#include <torch/torch.h>

#include "bench/interrupt.h"
#include "oneclass/data/split.h"
#include "oneclass/engine/experiment.h"
#include "oneclass/engine/run.h"
#include "oneclass/error.h"
#include "oneclass/train/loop.h"
#include "oneclass/util/system_info.h"

namespace oneclass::bench {
namespace {

namespace fs = std::filesystem;

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
  const bool folder = is_folder_dataset(job.dataset);
  const std::string dataset = folder ? "folder-" + folder_name(folder_path(job.dataset)) : job.dataset;
  const std::string task = folder ? folder_name(job.category) : "class" + std::to_string(job.normal_class);
  return "runs/" + dataset + "/" + folder_name(job.label) + "/" + task + "-seed" + std::to_string(job.seed) + "-" +
         job.key();
}

// What `oneclass run` would be given for this job.
RunConfig run_config_of(const Job& job, const BenchConfig& config) {
  RunConfig run;
  run.dataset = job.dataset;
  if (is_folder_dataset(job.dataset)) {
    run.dataset = "folder";
    run.data_path = folder_path(job.dataset);
    run.category = job.category;
    run.image_size = job.image_size;
    run.channels = job.channels;
  } else {
    run.normal = std::to_string(job.normal_class);
  }
  run.data_dir = config.data_dir;
  run.allow_download = config.allow_download;
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

// A result names the code and the machine that made it.
JobResult result_of(const Job& job, nlohmann::json environment) {
  JobResult r;
  r.key = job.key();
  r.config = job.config();
  r.revision = source_revision();
  r.environment = std::move(environment);
  r.host = r.environment["host"].get<std::string>();
  return r;
}

JobResult failure(const Job& job, const c10::Device& device, const std::string& error) {
  JobResult r = result_of(job, environment_record(device));
  r.ok = false;
  r.error = error;
  return r;
}

// One job's model and data while its stack trains.
struct Member {
  Job job;
  data::OneClassSplit split;
  std::unique_ptr<Detector> detector;
  std::vector<data::SkippedFile> skipped;  // folder data: files left out, and why
};

// The experiment `oneclass run` would run for this job.
ExperimentSpec experiment_of(const Job& job) {
  ExperimentSpec spec;
  spec.normal = {job.normal_class};
  spec.val_fraction = job.val_fraction;
  spec.seed = job.seed;
  spec.model = job.model;
  spec.model_options = job.options;
  return spec;
}

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
  if (is_folder_dataset(m.job.dataset)) evaluation.metrics["skipped_files"] = skipped_files_json(m.skipped);
  // The job's share of its stack's training time (the stack trained its members at once).
  evaluation.metrics["train_seconds"] = history.seconds / stack_size;
  evaluation.metrics["stack_train_seconds"] = history.seconds;
  evaluation.metrics["stack_size"] = stack_size;
  JobResult r = result_of(m.job, evaluation.metrics["environment"]);  // the record evaluate_run made
  r.ok = true;
  r.auroc = evaluation.metrics["auroc"].get<double>();
  r.auprc = evaluation.metrics["auprc"].get<double>();
  r.train_seconds = history.seconds / stack_size;
  if (config.keep_artifacts) {
    prepare_run_folder(run);
    write_run_folder(run, *m.detector, m.split, history, evaluation);
    r.artifacts = artifacts_folder(m.job);  // its metrics.json keeps the environment
  }
  evaluation.metrics.erase("environment");  // stored in its own column
  r.metrics = evaluation.metrics;
  return r;
}

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
    if (members.size() == 1) return {failure(members[0].job, device, e.what())};
    // Find the culprit: train the members one by one.
    std::vector<JobResult> results;
    for (auto& m : members) {
      m.detector = make_seeded_detector(m.job.model, m.job.options, m.job.seed);
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
      results.push_back(failure(members[i].job, device, e.what()));
    }
  }
  return results;
}

}  // namespace

const data::Dataset& DatasetCache::get(const std::string& name) {
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
namespace {

// A labelled data set is read once and split per job; a folder category is read per job, as
// `oneclass run` reads it (its split depends on the seed, and it is read in a second or two).
PreparedExperiment prepare_job(const Job& job, const BenchConfig& config, DatasetCache& datasets) {
  if (!is_folder_dataset(job.dataset)) return prepare_experiment(experiment_of(job), datasets.get(job.dataset));
  RunConfig run = run_config_of(job, config);
  return prepare_run_data(run);
}

}  // namespace

// Splits the data and builds the detectors of one stack; jobs that cannot even start fail here.
std::vector<JobResult> run_stack(const std::vector<Job>& stack, const BenchConfig& config, DatasetCache& datasets,
                                 const c10::Device& device, const ProgressCallback& on_progress) {
  std::vector<JobResult> results;
  std::vector<Member> members;
  for (const auto& job : stack) {
    try {
      PreparedExperiment experiment = prepare_job(job, config, datasets);
      members.push_back({job, std::move(experiment.split), std::move(experiment.detector), std::move(experiment.skipped)});
    } catch (const std::exception& e) {
      results.push_back(failure(job, device, e.what()));
    }
  }
  if (!members.empty()) {
    for (auto& r : train_and_measure(members, config, device, on_progress)) results.push_back(std::move(r));
  }
  return results;
}

}  // namespace oneclass::bench
