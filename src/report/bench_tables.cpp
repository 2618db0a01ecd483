// The benchmark report's table model, shared by its Markdown (bench_report.cpp) and HTML
// (bench_html.cpp) renderings: one table per data set (our models ranked, then the published
// figures), per category for folder data sets with pixel-metric tables after the first, their
// footnotes, the jobs line, and the cell texts.
#include <algorithm>
#include <cctype>
#include <set>
#include <tuple>

#include <fmt/format.h>

#include "report/bench_report_internal.h"

namespace oneclass::report::detail {

// ---------------------------------------------------------------------------------------------
// Text helpers

std::string percent(double fraction) { return fmt::format("{:.1f}", 100 * fraction); }

// "97.1 ± 0.4"; one seed has no spread to show, and no seed no value.
std::string percent_cell(const MeanStd& m) {
  if (m.n == 0) return "—";
  if (m.n == 1) return percent(m.mean);
  return percent(m.mean) + " ± " + percent(m.std);
}

std::string plural(int n, const std::string& word) { return std::to_string(n) + " " + word + (n == 1 ? "" : "s"); }

// Error messages may span lines; a table cell or list item may not.
std::string one_line(const std::string& text) {
  std::string out;
  for (char c : text) out += (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// Path characters other than unreserved ones and '/' are percent-encoded, so that a folder name
// with '#', '?', ':' or a space still links to that folder.
std::string url_path(const std::string& path) {
  static const char* const kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : path) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '/') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// One table per data set: our models (best overall mean first), then the published figures.

const char* const kUnverifiedNote =
    "† unverified: quoted or rerun by another paper, or not yet checked against the primary source.";
const char* const kExtraDataNote =
    "extra data: trained with more than the normal class's images (e.g. ImageNet-pretrained features); "
    "not comparable with training on class c alone.";

std::vector<std::string> datasets_of(const std::vector<BenchSummary>& summaries) {
  std::vector<std::string> datasets;
  for (const auto& s : summaries)
    if (std::find(datasets.begin(), datasets.end(), s.dataset) == datasets.end()) datasets.push_back(s.dataset);
  std::sort(datasets.begin(), datasets.end(), dataset_before);
  return datasets;
}

std::vector<const BenchSummary*> ours_ranked(const std::vector<BenchSummary>& summaries, const std::string& dataset) {
  std::vector<const BenchSummary*> ours;
  for (const auto& s : summaries)
    if (s.dataset == dataset) ours.push_back(&s);
  // Models without a complete seed have no overall mean: they go last.
  std::stable_sort(ours.begin(), ours.end(), [](const BenchSummary* a, const BenchSummary* b) {
    return std::make_tuple(a->overall.n == 0, -a->overall.mean, a->model) <
           std::make_tuple(b->overall.n == 0, -b->overall.mean, b->model);
  });
  return ours;
}

std::vector<const PublishedResult*> published_ranked(const std::string& dataset) {
  std::vector<const PublishedResult*> found;
  for (const auto& p : published_results())
    if (p.dataset == dataset) found.push_back(&p);
  // Best first; at equal figures a checked one before one quoted from another paper.
  std::stable_sort(found.begin(), found.end(), [](const PublishedResult* a, const PublishedResult* b) {
    return std::make_tuple(-a->mean_auroc, !a->verified, a->method) <
           std::make_tuple(-b->mean_auroc, !b->verified, b->method);
  });
  return found;
}

// "revision abc123" or, when the row mixes code versions, "revisions abc123 (30 jobs), def456 (20 jobs)".
std::string revisions_text(const std::map<std::string, int>& revisions) {
  if (revisions.size() == 1) return "revision " + revisions.begin()->first;
  std::string text = "revisions ";
  for (const auto& [revision, jobs] : revisions) {
    text += (text == "revisions " ? "" : ", ") + revision + " (" + plural(jobs, "job") + ")";
  }
  return text;
}

std::vector<int> classes_of(const std::vector<const BenchSummary*>& ours) {
  std::set<int> classes;
  for (const auto* s : ours) classes.insert(s->classes.begin(), s->classes.end());
  return {classes.begin(), classes.end()};
}

// A column's name: the category of a folder data set, else the class number.
std::string class_label(const std::vector<const BenchSummary*>& ours, int c) {
  for (const auto* s : ours) {
    auto at = std::find(s->classes.begin(), s->classes.end(), c);
    if (at != s->classes.end() && !s->class_names.empty()) return s->class_names[at - s->classes.begin()];
  }
  return std::to_string(c);
}

// The statistics a table shows.
const std::vector<MeanStd>& per_class_of(const BenchSummary& s, TableMetric metric) {
  return metric == TableMetric::kPixelAuroc ? s.per_class_pixel_auroc
         : metric == TableMetric::kAupro    ? s.per_class_aupro
                                            : s.per_class;
}
const MeanStd& overall_of(const BenchSummary& s, TableMetric metric) {
  return metric == TableMetric::kPixelAuroc ? s.overall_pixel_auroc
         : metric == TableMetric::kAupro    ? s.overall_aupro
                                            : s.overall;
}

TableRow our_row(const BenchSummary& s, const std::vector<int>& classes, const CellLinks& links, TableMetric metric) {
  TableRow row;
  std::string source = "ours: " + plural(s.overall.n, "complete seed") + ", " + plural(s.jobs, "job") + ", " +
                       fmt::format("{:.0f}", s.train_seconds) + " s training, " + revisions_text(s.revisions);
  // A collapsed GAN's AUROC is a number, but not a detector's: the table says how many there are.
  if (s.flagged_jobs > 0) source += ", " + plural(s.flagged_jobs, "job") + " flagged by training health";
  row.cells = {{s.model, "", ""}, {source, "", ""}, {percent_cell(overall_of(s, metric)), "", ""}};
  const auto& per_class = per_class_of(s, metric);
  for (int c : classes) {
    auto at = std::find(s.classes.begin(), s.classes.end(), c);
    Cell cell{at == s.classes.end() ? "—" : percent_cell(per_class[at - s.classes.begin()]), "", ""};
    if (auto link = links.find({s.dataset, s.model, c}); link != links.end()) {
      cell.link = link->second.url;
      cell.title = "result.png of seed " + std::to_string(link->second.seed);
    }
    row.cells.push_back(cell);
  }
  return row;
}

TableRow published_row(const PublishedResult& p, const std::vector<int>& classes) {
  std::string name = p.method + (p.extra_data ? " (extra data)" : "") + (p.verified ? "" : " †");
  // A note such as "rerun by Cheng et al. 2020" already names its source.
  std::string source = p.note.empty()                                ? p.source
                       : p.note.find(p.source) != std::string::npos ? p.note
                                                                     : p.source + "; " + p.note;
  TableRow row{{{name, "", ""}, {source, "", ""}, {fmt::format("{:.1f}", p.mean_auroc), "", ""}}, true};
  for (int c : classes) {
    bool known = c >= 0 && static_cast<size_t>(c) < p.per_class.size();
    row.cells.push_back({known ? fmt::format("{:.1f}", p.per_class[c]) : "", "", ""});
  }
  return row;
}

std::string table_title(const std::string& dataset, TableMetric metric) {
  switch (metric) {
    case TableMetric::kPixelAuroc: return dataset_title(dataset) + " — pixel AUROC";
    case TableMetric::kAupro: return dataset_title(dataset) + " — AUPRO (to 30 % FPR)";
    default: return dataset_title(dataset);
  }
}

DatasetTable dataset_table(const std::vector<BenchSummary>& summaries, const std::string& dataset,
                           const CellLinks& links, TableMetric metric) {
  DatasetTable t;
  t.dataset = dataset;
  t.title = table_title(dataset, metric);
  t.metric = metric;
  auto ours = ours_ranked(summaries, dataset);
  auto classes = classes_of(ours);
  t.header = {"model", "source", "mean"};
  for (int c : classes) t.header.push_back(class_label(ours, c));
  for (const auto* s : ours) t.rows.push_back(our_row(*s, classes, links, metric));
  if (metric != TableMetric::kImageAuroc) return t;  // the published figures are image AUROC
  for (const auto* p : published_ranked(dataset)) {
    t.rows.push_back(published_row(*p, classes));
    t.unverified |= !p->verified;
    t.extra_data |= p->extra_data;
  }
  return t;
}

bool has_pixel_metrics(const std::vector<BenchSummary>& summaries, const std::string& dataset) {
  for (const auto& s : summaries) {
    if (s.dataset != dataset) continue;
    for (const auto& m : s.per_class_pixel_auroc)
      if (m.n > 0) return true;
  }
  return false;
}

std::vector<DatasetTable> all_tables(const std::vector<BenchSummary>& summaries, const CellLinks& links) {
  std::vector<DatasetTable> tables;
  for (const auto& d : datasets_of(summaries)) {
    tables.push_back(dataset_table(summaries, d, links, TableMetric::kImageAuroc));
    if (!has_pixel_metrics(summaries, d)) continue;
    tables.push_back(dataset_table(summaries, d, links, TableMetric::kPixelAuroc));
    tables.push_back(dataset_table(summaries, d, links, TableMetric::kAupro));
  }
  return tables;
}

std::vector<std::string> footnotes(const DatasetTable& t) {
  std::vector<std::string> notes;
  if (t.unverified) notes.push_back(kUnverifiedNote);
  if (t.extra_data) notes.push_back(kExtraDataNote);
  return notes;
}

int jobs_finished(const std::vector<BenchSummary>& summaries) {
  int n = 0;
  for (const auto& s : summaries) n += s.jobs;
  return n;
}

std::string jobs_line(const std::vector<BenchSummary>& summaries, const std::vector<BenchFailure>& failures,
                      const BenchContext& context) {
  int finished = jobs_finished(summaries), failed = static_cast<int>(failures.size());
  std::string line = context.jobs_total > 0
                         ? "Finished " + std::to_string(finished) + " of " + plural(context.jobs_total, "planned job")
                         : "Finished " + plural(finished, "job");
  if (failed > 0) line += "; " + std::to_string(failed) + " failed";
  if (int left = context.jobs_total - finished - failed; context.jobs_total > 0 && left > 0)
    line += "; " + std::to_string(left) + " not run";
  return line + ".";
}

std::string failure_text(const BenchFailure& f) {
  const std::string task = f.category.empty() ? "class " + std::to_string(f.normal_class) : f.category;
  return f.dataset + ", " + f.model + ", " + task + ", seed " + std::to_string(f.seed) + ": " + one_line(f.error);
}

const char* const kProtocol =
    "For each data set and each class c: train on class c only, then score the whole test set with c normal "
    "and every other class anomalous. AUROC in percent, mean ± sample standard deviation over seeds; "
    "\"mean\" averages the classes of one seed, over the seeds that finished every class. A folder data set "
    "(folder:PATH) has categories instead of classes: train on a category's good images, test on its test images; "
    "with defect masks, pixel AUROC and AUPRO (to 30 % false-positive rate, MVTec AD's definition) get tables too.";

}  // namespace oneclass::report::detail
