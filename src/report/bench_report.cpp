// The benchmark's report: the tables as Markdown, the same numbers as CSV and JSON, a bar chart of
// AUROC per class, and the files written. The statistics are in bench_summary.cpp, the table model
// in bench_tables.cpp, the HTML page in bench_html.cpp.
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
// Markdown text

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
