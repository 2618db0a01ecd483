// The benchmark report's statistics: per (data set, model), AUROC per class (or category) over
// seeds and the overall mean over the seeds that finished every class; the same for the pixel
// metrics of folder data sets.
#include "oneclass/report/bench_report.h"

#include <cmath>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <tuple>

#include "oneclass/error.h"
#include "report/bench_report_internal.h"

namespace oneclass::report {
namespace detail {

MeanStd mean_std(const std::vector<double>& values) {
  MeanStd m;
  m.n = static_cast<int>(values.size());
  if (values.empty()) return m;
  double sum = 0;
  for (double v : values) sum += v;
  m.mean = sum / m.n;
  if (m.n < 2) return m;
  double squares = 0;
  for (double v : values) squares += (v - m.mean) * (v - m.mean);
  m.std = std::sqrt(squares / (m.n - 1));
  return m;
}

// Known data sets in the order the benchmark runs them, then any other by name.
int dataset_rank(const std::string& dataset) {
  return dataset == "mnist" ? 0 : dataset == "fashion-mnist" ? 1 : 2;
}

bool dataset_before(const std::string& a, const std::string& b) {
  return std::make_pair(dataset_rank(a), a) < std::make_pair(dataset_rank(b), b);
}

std::string dataset_title(const std::string& dataset) {
  if (dataset == "mnist") return "MNIST";
  if (dataset == "fashion-mnist") return "Fashion-MNIST";
  return dataset;
}

using GroupKey = std::pair<std::string, std::string>;  // dataset, model

struct GroupOrder {
  bool operator()(const GroupKey& a, const GroupKey& b) const {
    if (a.first != b.first) return dataset_before(a.first, b.first);
    return a.second < b.second;
  }
};

// Two results for one job would count that job twice in the mean: the caller has a bug.
void check_unique_jobs(const std::vector<BenchRow>& rows) {
  std::set<std::tuple<std::string, std::string, int, uint64_t>> seen;
  for (const auto& r : rows) {
    if (seen.insert({r.dataset, r.model, r.normal_class, r.seed}).second) continue;
    throw Error("benchmark results: two results for data set " + r.dataset + ", model " + r.model + ", class " +
                std::to_string(r.normal_class) + ", seed " + std::to_string(r.seed) +
                "; report each job once");
  }
}

using Metric = std::function<std::optional<double>(const BenchRow&)>;

// One metric's statistics: per class over seeds, and the overall mean over the seeds that have it
// for every class (a seed that missed a class would average easier or harder classes than the others).
std::pair<std::vector<MeanStd>, MeanStd> metric_statistics(const std::vector<const BenchRow*>& rows,
                                                           const std::vector<int>& classes, const Metric& metric) {
  std::map<uint64_t, std::map<int, double>> by_seed;  // ordered: sums come out the same every time
  for (const BenchRow* r : rows) {
    if (const auto value = metric(*r)) by_seed[r->seed][r->normal_class] = *value;
  }
  std::vector<MeanStd> per_class;
  for (int c : classes) {
    std::vector<double> values;
    for (const auto& [seed, per_seed] : by_seed)
      if (auto it = per_seed.find(c); it != per_seed.end()) values.push_back(it->second);
    per_class.push_back(mean_std(values));
  }
  std::vector<double> seed_means;
  for (const auto& [seed, per_seed] : by_seed) {
    if (per_seed.size() != classes.size()) continue;
    double sum = 0;
    for (const auto& [c, value] : per_seed) sum += value;
    seed_means.push_back(sum / static_cast<double>(per_seed.size()));
  }
  return {per_class, mean_std(seed_means)};
}

BenchSummary summarize_group(const GroupKey& key, const std::vector<const BenchRow*>& rows,
                             const std::map<int, std::string>& classes) {
  BenchSummary s;
  s.dataset = key.first;
  s.model = key.second;
  for (const auto& [c, name] : classes) {
    s.classes.push_back(c);
    if (!name.empty()) s.class_names.push_back(name);
  }
  if (s.class_names.size() != s.classes.size()) s.class_names.clear();
  std::map<int, std::set<std::string>> class_revisions;
  for (const BenchRow* r : rows) {
    s.jobs += 1;
    s.train_seconds += r->train_seconds;
    s.flagged_jobs += r->training_flagged ? 1 : 0;
    const std::string revision = r->revision.empty() ? "unknown" : r->revision;
    s.revisions[revision] += 1;
    class_revisions[r->normal_class].insert(revision);
  }
  for (int c : s.classes) {
    const auto& revisions = class_revisions[c];
    s.per_class_revisions.emplace_back(revisions.begin(), revisions.end());
  }
  std::tie(s.per_class, s.overall) =
      metric_statistics(rows, s.classes, [](const BenchRow& r) -> std::optional<double> { return r.auroc; });
  std::tie(s.per_class_pixel_auroc, s.overall_pixel_auroc) =
      metric_statistics(rows, s.classes, [](const BenchRow& r) { return r.pixel_auroc; });
  std::tie(s.per_class_aupro, s.overall_aupro) =
      metric_statistics(rows, s.classes, [](const BenchRow& r) { return r.aupro; });
  return s;
}

}  // namespace detail

std::vector<BenchSummary> summarize(const std::vector<BenchRow>& rows) {
  detail::check_unique_jobs(rows);
  std::map<std::string, std::map<int, std::string>> classes;  // per data set, over all its models: class -> category
  std::map<detail::GroupKey, std::vector<const BenchRow*>, detail::GroupOrder> groups;
  for (const auto& r : rows) {
    classes[r.dataset][r.normal_class] = r.category;
    groups[{r.dataset, r.model}].push_back(&r);
  }
  std::vector<BenchSummary> summaries;
  for (const auto& [key, group] : groups) summaries.push_back(detail::summarize_group(key, group, classes[key.first]));
  return summaries;
}

}  // namespace oneclass::report
