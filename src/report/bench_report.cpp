// The benchmark's report: one table per data set (our models, then the published figures) as
// Markdown, the same numbers as CSV and JSON, a bar chart of AUROC per class, and the files
// written. The statistics are in bench_summary.cpp, the HTML page in bench_html.cpp.
#include "oneclass/report/bench_report.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>
#include <system_error>
#include <tuple>

#include <fmt/format.h>

#include "oneclass/error.h"
#include "oneclass/report/figures.h"
#include "oneclass/report/run_outputs.h"
#include "oneclass/util/atomic_file.h"
#include "report/bench_report_internal.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace oneclass::report {
namespace detail {

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

std::string markdown_text(const std::string& text) {
  std::string out;
  for (char c : one_line(text)) {
    if (c == '\\' || c == '|' || c == '<' || c == '`' || c == '*') out += '\\';
    out += c;
  }
  return out;
}

// A Markdown code span that survives backticks inside the text: the fence is one longer than the
// longest run of backticks in it.
std::string code_span(const std::string& text) {
  size_t longest = 0, run = 0;
  for (char c : text) longest = std::max(longest, run = c == '`' ? run + 1 : 0);
  std::string fence(longest + 1, '`');
  std::string pad = !text.empty() && (text.front() == '`' || text.back() == '`') ? " " : "";
  return fence + pad + one_line(text) + pad + fence;
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

}  // namespace detail

namespace {

using namespace detail;

// ---------------------------------------------------------------------------------------------
// Markdown

std::string markdown_table(const DatasetTable& t) {
  std::string s = "|", rule = "|";
  for (size_t i = 0; i < t.header.size(); ++i) {
    s += " " + markdown_text(t.header[i]) + " |";
    rule += i < 2 ? " --- |" : " ---: |";  // names left, numbers right
  }
  s += "\n" + rule + "\n";
  for (const auto& row : t.rows) {
    s += "|";
    for (const auto& cell : row.cells) s += " " + markdown_text(cell.text) + " |";
    s += "\n";
  }
  return s;
}

// ---------------------------------------------------------------------------------------------
// JSON

json mean_std_json(const MeanStd& m) {
  return {{"mean", m.n > 0 ? json(m.mean) : json(nullptr)}, {"std", m.n > 0 ? json(m.std) : json(nullptr)}, {"n", m.n}};
}

json summary_json(const BenchSummary& s) {
  json per_class = json::array();
  for (size_t i = 0; i < s.classes.size() && i < s.per_class.size(); ++i) {
    json entry = mean_std_json(s.per_class[i]);
    entry["class"] = s.classes[i];
    if (i < s.class_names.size()) entry["category"] = s.class_names[i];
    if (i < s.per_class_pixel_auroc.size() && s.per_class_pixel_auroc[i].n > 0) {
      entry["pixel_auroc"] = mean_std_json(s.per_class_pixel_auroc[i]);
      entry["aupro"] = mean_std_json(s.per_class_aupro[i]);
    }
    if (i < s.per_class_revisions.size()) entry["revisions"] = s.per_class_revisions[i];
    per_class.push_back(entry);
  }
  json out = {{"dataset", s.dataset}, {"model", s.model}, {"overall", mean_std_json(s.overall)},
              {"per_class", per_class}, {"jobs", s.jobs}, {"train_seconds", s.train_seconds},
              {"revisions", s.revisions}};
  if (s.overall_pixel_auroc.n > 0) {
    out["overall_pixel_auroc"] = mean_std_json(s.overall_pixel_auroc);
    out["overall_aupro"] = mean_std_json(s.overall_aupro);
  }
  return out;
}

json row_json(const BenchRow& r) {
  json out = {{"dataset", r.dataset}, {"model", r.model}, {"normal_class", r.normal_class}, {"seed", r.seed},
              {"auroc", r.auroc}, {"auprc", r.auprc}, {"train_seconds", r.train_seconds}, {"artifacts", r.artifacts},
              {"revision", r.revision}};
  if (!r.category.empty()) out["category"] = r.category;
  if (r.pixel_auroc) out["pixel_auroc"] = *r.pixel_auroc;
  if (r.aupro) out["aupro"] = *r.aupro;
  return out;
}

json failure_json(const BenchFailure& f) {
  json out = {{"dataset", f.dataset}, {"model", f.model}, {"normal_class", f.normal_class}, {"seed", f.seed},
              {"error", f.error}};
  if (!f.category.empty()) out["category"] = f.category;
  return out;
}

json published_json(const PublishedResult& p) {
  return {{"method", p.method}, {"source", p.source}, {"dataset", p.dataset}, {"mean_auroc", p.mean_auroc},
          {"per_class", p.per_class}, {"extra_data", p.extra_data}, {"verified", p.verified}, {"note", p.note}};
}

// ---------------------------------------------------------------------------------------------
// Bar chart

std::vector<BarPanel> bar_panels(const std::vector<BenchSummary>& summaries) {
  std::vector<BarPanel> panels;
  for (const auto& dataset : datasets_of(summaries)) {
    std::vector<const BenchSummary*> ours;
    for (const auto& s : summaries)
      if (s.dataset == dataset) ours.push_back(&s);
    const bool categories = !ours.empty() && !ours.front()->class_names.empty();
    BarPanel panel{dataset_title(dataset),
                   categories ? "category (trained on its good images)" : "normal class (the only class seen in training)",
                   "image AUROC (%)", {}, {}};
    std::vector<int> classes = classes_of(ours);
    for (int c : classes) panel.groups.push_back(class_label(ours, c));
    panel.groups.push_back("mean");
    auto add = [](BarSeries& series, const MeanStd& m) {
      series.value.push_back(m.n > 0 ? 100 * m.mean : NAN);
      series.error.push_back(m.n > 1 ? 100 * m.std : NAN);  // one seed: no error bar
    };
    for (const auto* s : ours) {
      BarSeries series{s->model, {}, {}};
      for (int c : classes) {
        auto at = std::find(s->classes.begin(), s->classes.end(), c);
        add(series, at == s->classes.end() ? MeanStd{} : s->per_class[at - s->classes.begin()]);
      }
      add(series, s->overall);
      panel.series.push_back(series);
    }
    panels.push_back(panel);
  }
  return panels;
}

// Draws per_class.png and returns its bytes, or "" when it was not drawn. A figure left by an
// earlier report is removed first, so that the page never shows bars that disagree with its tables.
std::string draw_per_class(const std::vector<BenchSummary>& summaries, const std::string& png_path) {
  std::error_code ignored;
  fs::remove(png_path, ignored);
  if (summaries.empty()) return "";
  if (!figures_available()) {
    std::fprintf(stderr, "%s\n", figures_status().c_str());
    return "";
  }
  try {
    FigureSet figures;
    figures.add_bench_bars(png_path, "One-class benchmark: AUROC per normal class, mean ± std over seeds",
                           bar_panels(summaries));
    figures.render();
    return read_file(png_path);
  } catch (const Error& error) {
    std::fprintf(stderr, "warning: per_class.png not drawn: %s\n", error.what());
    return "";
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Public API


std::string results_markdown(const std::vector<BenchSummary>& summaries, const std::vector<BenchFailure>& failures,
                             const BenchContext& context) {
  std::string s = "# One-class benchmark\n\n" + std::string(kProtocol) + "\n\n";
  if (!context.command.empty()) s += "- Command: " + code_span(context.command) + "\n";
  if (!context.environment.empty()) s += "- Environment: " + markdown_text(context.environment) + "\n";
  if (context.wall_seconds > 0) s += "- Wall time: " + fmt::format("{:.0f}", context.wall_seconds) + " s\n";
  for (const auto& t : all_tables(summaries, {})) {
    s += "\n## " + markdown_text(t.title) + "\n\n" + markdown_table(t);
    for (const auto& note : footnotes(t)) s += "\n" + note + "\n";
  }
  if (!failures.empty()) {
    s += "\n## Failures (" + std::to_string(failures.size()) + ")\n\n";
    for (const auto& f : failures) s += "- " + markdown_text(failure_text(f)) + "\n";
  }
  return s + "\n" + jobs_line(summaries, failures, context) + "\n";
}

std::string results_csv(const std::vector<BenchSummary>& summaries) {
  std::string csv = "dataset,model,class,auroc_mean,auroc_std,seeds,revisions\n";
  auto line = [&](const BenchSummary& s, const std::string& cls, const MeanStd& m,
                  const std::vector<std::string>& revisions) {
    std::string joined;
    for (const auto& revision : revisions) joined += (joined.empty() ? "" : " ") + revision;
    csv += csv_field(s.dataset) + "," + csv_field(s.model) + "," + cls + "," +
           (m.n > 0 ? fmt::format("{:.9g}", m.mean) + "," + fmt::format("{:.9g}", m.std) : std::string(",")) + "," +
           std::to_string(m.n) + "," + csv_field(joined) + "\n";
  };
  for (const auto& s : summaries) {
    for (size_t i = 0; i < s.classes.size() && i < s.per_class.size(); ++i)
      line(s, i < s.class_names.size() ? csv_field(s.class_names[i]) : std::to_string(s.classes[i]), s.per_class[i],
           i < s.per_class_revisions.size() ? s.per_class_revisions[i] : std::vector<std::string>{});
    std::vector<std::string> all;
    for (const auto& [revision, jobs] : s.revisions) all.push_back(revision);
    line(s, "all", s.overall, all);
  }
  return csv;
}

json results_json(const std::vector<BenchSummary>& summaries, const std::vector<BenchRow>& rows,
                  const std::vector<BenchFailure>& failures, const BenchContext& context) {
  json out;
  out["about"] = "oneclass one-class benchmark. AUROC of our models as fractions in [0, 1]; published figures in "
                 "percent. std is the sample standard deviation over seeds; overall averages the classes per seed, "
                 "over the seeds that finished every class.";
  out["context"] = {{"command", context.command}, {"environment", context.environment},
                    {"wall_seconds", context.wall_seconds}, {"jobs_total", context.jobs_total},
                    {"jobs_finished", rows.size()}, {"jobs_failed", failures.size()}};
  out["summaries"] = json::array();
  for (const auto& s : summaries) out["summaries"].push_back(summary_json(s));
  out["rows"] = json::array();
  for (const auto& r : rows) out["rows"].push_back(row_json(r));
  out["failures"] = json::array();
  for (const auto& f : failures) out["failures"].push_back(failure_json(f));
  out["published"] = json::array();
  for (const auto& p : published_results()) out["published"].push_back(published_json(p));
  return out;
}

void write_bench_report(const std::string& out_dir, const std::vector<BenchRow>& rows,
                        const std::vector<BenchFailure>& failures, const BenchContext& context) {
  const std::vector<BenchSummary> summaries = summarize(rows);
  const fs::path out(out_dir);
  // The tables first, so that nothing computed is lost if the figure cannot be drawn.
  write_file_atomic((out / "results.md").string(), results_markdown(summaries, failures, context));
  write_file_atomic((out / "results.csv").string(), results_csv(summaries));
  write_file_atomic((out / "results.json").string(), results_json(summaries, rows, failures, context).dump(2) + "\n");
  std::string png = draw_per_class(summaries, (out / "per_class.png").string());
  write_file_atomic((out / "report.html").string(),
                    detail::results_html(summaries, failures, context, detail::result_links(rows, out_dir), png));
}

}  // namespace oneclass::report
