#pragma once
// `oneclass bench`: the one-class benchmark. For each data set, model, normal class and seed:
// train on that class's training images only (a held-out share of them calibrates a threshold),
// test on the whole test set with every other class as anomalies. Results go to a SQLite
// database in the benchmark folder, one transaction per job; a re-run skips finished jobs.
// Jobs of one model are trained together as stacks (Detector::train_together), and under
// `mpirun` the stacks are shared out over the ranks, whose results rank 0 stores.
// Outputs: results.sqlite, results.md / .csv / .json, per_class.png, report.html, and with
// keep_artifacts a run folder per job (runs/<dataset>/<model>/class<c>-seed<s>/).
#include <string>
#include <vector>

#include "oneclass/bench/jobs.h"

namespace oneclass::bench {

/// What a re-run does with finished jobs that another source revision made (JobResult::revision).
enum class StaleResults {
  refuse,  // stop before any work and say how many there are and which flags decide (the default)
  rerun,   // train them again; the new results replace the old rows (--rerun-stale)
  keep,    // count them as finished; the report lists the revisions of each cell (--keep-stale)
};

struct BenchConfig {
  PlanOptions plan;
  std::string data_dir;          // as `run --data-dir`
  bool allow_download = true;
  std::string out_dir = "runs/bench";
  int stack_size = 0;            // jobs trained at once as one stack (--jobs); 0 = one per CPU thread
                                 // (16 on a GPU)
  std::string device = "auto";
  bool keep_artifacts = false;   // write each job's run folder (scores, detector, figures)
  StaleResults stale = StaleResults::refuse;
  bool progress = true;
  bool report = true;            // write the tables, figure and HTML page at the end
  std::string command;           // the command line, for the report
};

struct BenchOutcome {
  int planned = 0;    // jobs in the plan
  int skipped = 0;    // already finished before this run (by this revision, or kept with --keep-stale)
  int stale = 0;      // of those, or of the rerun ones: made by another source revision
  int finished = 0;   // finished by this run
  int failed = 0;     // failed in this run (the others of the plan were not run: interrupted)
  bool interrupted = false;  // stopped by Ctrl-C (finished jobs are saved)
  bool is_rank0 = true;      // false on the other ranks of an MPI job
  double wall_seconds = 0;
};

/// Processes of this MPI job on this machine (1 outside mpirun): they share its cores.
int local_process_count();

/// Runs the benchmark (on every rank when launched by mpirun). Returns what happened; the caller's
/// exit status is non-zero when a job of the plan has no finished result.
BenchOutcome run_bench(const BenchConfig& config);

}  // namespace oneclass::bench
