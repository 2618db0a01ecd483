#pragma once
// The benchmark's outputs, written to the benchmark folder from its finished jobs:
//   results.md    per-class mean ± std over seeds and the overall mean, per (dataset, model),
//                 with the published figures of reference methods beside ours; a folder data set
//                 has one column per category, and tables of pixel AUROC and AUPRO when it has masks
//   results.csv   one row per (dataset, model, class), plus an "all" row per (dataset, model)
//   results.json  the same, plus the published figures and the run's environment
//   per_class.png grouped bars (one group per class, one bar per model) with error bars (gnuplot)
//   report.html   one page (the bar chart embedded, no network needed, readable on a
//                 phone); each per-class cell links to one job's result.png when artifacts were kept,
//                 and a folder data set shows the heat maps of its best model on each category
// Every file is written atomically. AUROC values are fractions in [0, 1]; tables print percent.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace oneclass::report {

/// One finished job of the benchmark.
struct BenchRow {
  std::string dataset;      // "mnist", "fashion-mnist", "folder:PATH"
  std::string model;        // display label: registry name plus options that differ from the defaults
  int normal_class = 0;     // folder data: the category's column
  uint64_t seed = 0;
  double auroc = 0;         // in [0, 1]
  double auprc = 0;
  double train_seconds = 0;
  std::string artifacts;    // folder of the job's run (relative to the benchmark folder), or empty
  std::string revision;     // source revision of the code that made it
  std::string category;     // folder data: the category of column normal_class ("" otherwise)
  std::optional<double> pixel_auroc, aupro;  // folder data with masks
  bool training_flagged = false;  // its training_health found a problem (a GAN that collapsed)
};

/// One job that failed, for the report's failure list.
struct BenchFailure {
  std::string dataset, model;
  int normal_class = 0;
  uint64_t seed = 0;
  std::string error;
  std::string category;  // folder data
};

/// A published result of a reference method (data/published_auroc.json, compiled in).
struct PublishedResult {
  std::string method;
  std::string source;             // paper and venue, where the figure comes from
  std::string dataset;            // "mnist" or "fashion-mnist"
  double mean_auroc = 0;          // percent
  std::vector<double> per_class;  // percent, 10 values, or empty when not published
  bool extra_data = false;        // e.g. ImageNet-pretrained features
  bool verified = true;           // false: quoted by a later paper, not checked in the primary source
  std::string note;
};

/// The compiled-in published figures, in file order. Parsed and checked on first use; a malformed
/// entry throws Error naming it (a bug in data/published_auroc.json, caught by the unit tests).
const std::vector<PublishedResult>& published_results();

/// Mean and sample standard deviation (n - 1; 0 when n == 1) over seeds.
struct MeanStd {
  double mean = 0, std = 0;
  int n = 0;
};

/// The statistics behind the tables, for one (dataset, model).
struct BenchSummary {
  std::string dataset, model;
  std::vector<int> classes;           // sorted; every class any model finished on this dataset, so
                                      // that all summaries of a dataset share their columns
  std::vector<std::string> class_names;  // aligned with `classes`: the categories of a folder data
                                         // set; empty for labelled data sets (the class is its name)
  std::vector<MeanStd> per_class;     // AUROC over seeds, aligned with `classes` (n = 0: no job finished)
  MeanStd overall;                    // per seed: mean over classes; then mean ± std over seeds
                                      // (only seeds that finished every class count)
  // The same statistics of the pixel metrics (folder data with masks; n = 0 where no job had them).
  std::vector<MeanStd> per_class_pixel_auroc, per_class_aupro;
  MeanStd overall_pixel_auroc, overall_aupro;
  int jobs = 0;
  double train_seconds = 0;           // summed over jobs
  int flagged_jobs = 0;               // jobs whose training_health found a problem
  std::map<std::string, int> revisions;                    // source revision -> jobs it made
  std::vector<std::vector<std::string>> per_class_revisions;  // aligned with `classes`, sorted
};

/// One summary per (dataset, model): datasets MNIST, Fashion-MNIST, then others by name; models by
/// name. Throws Error when one (dataset, model, class, seed) appears twice.
std::vector<BenchSummary> summarize(const std::vector<BenchRow>& rows);

/// What the report says about how it was made.
struct BenchContext {
  std::string command;       // the command line that produced it
  std::string environment;   // machine, LibTorch, BLAS, threads (doctor_line)
  double wall_seconds = 0;   // of the run that finished last
  int jobs_total = 0;        // jobs in the benchmark's plan
};

/// Heading, command and environment; per dataset one table: our models (best overall mean first),
/// then the published figures for that dataset (best first; † unverified, "(extra data)" marked);
/// then the failures and how many of the planned jobs finished.
std::string results_markdown(const std::vector<BenchSummary>& summaries, const std::vector<BenchFailure>& failures,
                             const BenchContext& context);
/// "dataset,model,class,auroc_mean,auroc_std,seeds": per summary one line per class, then "all"
/// (the overall mean). Fractions with 9 significant digits; mean and std empty where seeds = 0.
std::string results_csv(const std::vector<BenchSummary>& summaries);
/// {"about", "context", "summaries", "rows", "failures", "published"}; means without a seed are null.
nlohmann::json results_json(const std::vector<BenchSummary>& summaries, const std::vector<BenchRow>& rows,
                            const std::vector<BenchFailure>& failures, const BenchContext& context);

/// Writes results.md, results.csv, results.json, per_class.png (when gnuplot is available; a
/// figure failure is a warning on stderr) and report.html into `out_dir`, creating it. A
/// per_class.png from an earlier call is removed when no new one is drawn. A per-class cell of the
/// page links to <artifacts>/result.png of the lowest seed whose artifacts folder (relative to
/// out_dir) holds one.
void write_bench_report(const std::string& out_dir, const std::vector<BenchRow>& rows,
                        const std::vector<BenchFailure>& failures, const BenchContext& context);

}  // namespace oneclass::report
