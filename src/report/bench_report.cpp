// The benchmark's report: statistics over seeds, then one table per data set rendered as Markdown
// and HTML, the same numbers as CSV and JSON, and a bar chart of AUROC per class.
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

#include "oneclass/error.h"
#include "oneclass/report/figures.h"
#include "oneclass/util/atomic_file.h"
#include "report/bench_report_internal.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace oneclass::report {
namespace {

// ---------------------------------------------------------------------------------------------
// Statistics

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

BenchSummary summarize_group(const GroupKey& key, const std::vector<const BenchRow*>& rows,
                             const std::set<int>& classes) {
  BenchSummary s;
  s.dataset = key.first;
  s.model = key.second;
  s.classes.assign(classes.begin(), classes.end());
  std::map<uint64_t, std::map<int, double>> by_seed;  // ordered: sums come out the same every time
  for (const BenchRow* r : rows) {
    by_seed[r->seed][r->normal_class] = r->auroc;
    s.jobs += 1;
    s.train_seconds += r->train_seconds;
  }
  for (int c : s.classes) {
    std::vector<double> values;
    for (const auto& [seed, per_class] : by_seed)
      if (auto it = per_class.find(c); it != per_class.end()) values.push_back(it->second);
    s.per_class.push_back(mean_std(values));
  }
  // A seed that missed a class would average easier or harder classes than the others.
  std::vector<double> seed_means;
  for (const auto& [seed, per_class] : by_seed) {
    if (per_class.size() != classes.size()) continue;
    double sum = 0;
    for (const auto& [c, auroc] : per_class) sum += auroc;
    seed_means.push_back(sum / static_cast<double>(per_class.size()));
  }
  s.overall = mean_std(seed_means);
  return s;
}

// ---------------------------------------------------------------------------------------------
// Text helpers

std::string fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

std::string percent(double fraction) { return fmt("%.1f", 100 * fraction); }

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

// RFC 4180: quoted when it holds a separator, a quote or a line break; quotes doubled.
std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
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

struct Cell {
  std::string text;
  std::string link;  // relative URL, or empty
  std::string title;  // tooltip of the link
};

struct TableRow {
  std::vector<Cell> cells;
  bool published = false;
};

struct DatasetTable {
  std::string dataset;
  std::vector<std::string> header;  // model, source, mean, then the classes
  std::vector<TableRow> rows;
  bool unverified = false, extra_data = false;  // which footnotes the rows need
};

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

std::vector<int> classes_of(const std::vector<const BenchSummary*>& ours) {
  std::set<int> classes;
  for (const auto* s : ours) classes.insert(s->classes.begin(), s->classes.end());
  return {classes.begin(), classes.end()};
}

TableRow our_row(const BenchSummary& s, const std::vector<int>& classes, const detail::CellLinks& links) {
  TableRow row;
  std::string source = "ours: " + plural(s.overall.n, "complete seed") + ", " + plural(s.jobs, "job") + ", " +
                       fmt("%.0f", s.train_seconds) + " s training";
  row.cells = {{s.model, "", ""}, {source, "", ""}, {percent_cell(s.overall), "", ""}};
  for (int c : classes) {
    auto at = std::find(s.classes.begin(), s.classes.end(), c);
    Cell cell{at == s.classes.end() ? "—" : percent_cell(s.per_class[at - s.classes.begin()]), "", ""};
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
  TableRow row{{{name, "", ""}, {source, "", ""}, {fmt("%.1f", p.mean_auroc), "", ""}}, true};
  for (int c : classes) {
    bool known = c >= 0 && static_cast<size_t>(c) < p.per_class.size();
    row.cells.push_back({known ? fmt("%.1f", p.per_class[c]) : "", "", ""});
  }
  return row;
}

DatasetTable dataset_table(const std::vector<BenchSummary>& summaries, const std::string& dataset,
                           const detail::CellLinks& links) {
  DatasetTable t;
  t.dataset = dataset;
  auto ours = ours_ranked(summaries, dataset);
  auto classes = classes_of(ours);
  t.header = {"model", "source", "mean"};
  for (int c : classes) t.header.push_back(std::to_string(c));
  for (const auto* s : ours) t.rows.push_back(our_row(*s, classes, links));
  for (const auto* p : published_ranked(dataset)) {
    t.rows.push_back(published_row(*p, classes));
    t.unverified |= !p->verified;
    t.extra_data |= p->extra_data;
  }
  return t;
}

std::vector<DatasetTable> all_tables(const std::vector<BenchSummary>& summaries, const detail::CellLinks& links) {
  std::vector<DatasetTable> tables;
  for (const auto& d : datasets_of(summaries)) tables.push_back(dataset_table(summaries, d, links));
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
  return f.dataset + ", " + f.model + ", class " + std::to_string(f.normal_class) + ", seed " +
         std::to_string(f.seed) + ": " + one_line(f.error);
}

const char* const kProtocol =
    "For each data set and each class c: train on class c only, then score the whole test set with c normal "
    "and every other class anomalous. AUROC in percent, mean ± sample standard deviation over seeds; "
    "\"mean\" averages the classes of one seed, over the seeds that finished every class.";

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
    per_class.push_back(entry);
  }
  return {{"dataset", s.dataset}, {"model", s.model}, {"overall", mean_std_json(s.overall)},
          {"per_class", per_class}, {"jobs", s.jobs}, {"train_seconds", s.train_seconds}};
}

json row_json(const BenchRow& r) {
  return {{"dataset", r.dataset}, {"model", r.model}, {"normal_class", r.normal_class}, {"seed", r.seed},
          {"auroc", r.auroc}, {"auprc", r.auprc}, {"train_seconds", r.train_seconds}, {"artifacts", r.artifacts}};
}

json failure_json(const BenchFailure& f) {
  return {{"dataset", f.dataset}, {"model", f.model}, {"normal_class", f.normal_class}, {"seed", f.seed},
          {"error", f.error}};
}

json published_json(const PublishedResult& p) {
  return {{"method", p.method}, {"source", p.source}, {"dataset", p.dataset}, {"mean_auroc", p.mean_auroc},
          {"per_class", p.per_class}, {"extra_data", p.extra_data}, {"verified", p.verified}, {"note", p.note}};
}

// ---------------------------------------------------------------------------------------------
// HTML

const char* const kCss = R"(
:root{color-scheme:light}
body{margin:0 auto;max-width:72rem;padding:1rem;color:#1a1a1a;background:#fff;
 font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
h1{font-size:1.5rem;margin:.4rem 0 .6rem}
h2{font-size:1.2rem;margin:1.6rem 0 .5rem}
p,li{overflow-wrap:anywhere}
code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.85em}
.meta{color:#444;font-size:.9rem;padding-left:1.2rem}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch;border:1px solid #ddd;border-radius:4px}
table{border-collapse:collapse;font-size:.85rem;font-variant-numeric:tabular-nums;white-space:nowrap}
th,td{padding:.35rem .55rem;text-align:right;border-bottom:1px solid #eee}
th{background:#f4f4f4}
th:first-child,td:first-child{text-align:left;position:sticky;left:0;background:#fff}
th:first-child{background:#f4f4f4}
th:nth-child(2),td:nth-child(2){text-align:left;white-space:normal;min-width:11rem}
tr.pub td{color:#555;background:#fafafa}
tr:not(.pub)+tr.pub td{border-top:2px solid #bbb}
a{color:#0b5fb5}
.notes{font-size:.85rem;color:#444}
figure{margin:1.5rem 0}
img{display:block;max-width:100%;height:auto}
figcaption{font-size:.85rem;color:#444}
)";

std::string html_cell(const Cell& cell, const char* tag) {
  std::string text = detail::html_escape(cell.text);
  if (!cell.link.empty())
    text = "<a href=\"" + detail::html_escape(cell.link) + "\" title=\"" + detail::html_escape(cell.title) + "\">" +
           text + "</a>";
  return std::string("<") + tag + ">" + text + "</" + tag + ">";
}

std::string html_table(const DatasetTable& t) {
  std::string s = "<div class=\"scroll\"><table>\n<thead><tr>";
  for (const auto& h : t.header) s += html_cell({h, "", ""}, "th");
  s += "</tr></thead>\n<tbody>\n";
  for (const auto& row : t.rows) {
    s += row.published ? "<tr class=\"pub\">" : "<tr>";
    for (const auto& cell : row.cells) s += html_cell(cell, "td");
    s += "</tr>\n";
  }
  return s + "</tbody></table></div>\n";
}

std::string html_paragraphs(const std::vector<std::string>& lines, const char* css_class) {
  std::string s;
  for (const auto& line : lines)
    s += std::string("<p class=\"") + css_class + "\">" + detail::html_escape(line) + "</p>\n";
  return s;
}

std::string html_context(const BenchContext& context) {
  std::string s = "<ul class=\"meta\">\n";
  if (!context.command.empty()) s += "<li>Command: <code>" + detail::html_escape(context.command) + "</code></li>\n";
  if (!context.environment.empty()) s += "<li>Environment: " + detail::html_escape(context.environment) + "</li>\n";
  if (context.wall_seconds > 0) s += "<li>Wall time: " + fmt("%.0f", context.wall_seconds) + " s</li>\n";
  return s + "</ul>\n";
}

std::string html_figure(const std::string& png) {
  if (png.empty()) return "";
  return "<figure><img src=\"data:image/png;base64," + detail::base64_encode(png) +
         "\" alt=\"AUROC per normal class, one bar per model, error bars one standard deviation over seeds\">"
         "<figcaption>AUROC per normal class (mean ± standard deviation over seeds); also saved as "
         "<a href=\"per_class.png\">per_class.png</a>.</figcaption></figure>\n";
}

std::string html_failures(const std::vector<BenchFailure>& failures) {
  if (failures.empty()) return "";
  std::string s = "<h2>Failures (" + std::to_string(failures.size()) + ")</h2>\n<ul>\n";
  for (const auto& f : failures) s += "<li>" + detail::html_escape(failure_text(f)) + "</li>\n";
  return s + "</ul>\n";
}

// ---------------------------------------------------------------------------------------------
// Bar chart

std::vector<BarPanel> bar_panels(const std::vector<BenchSummary>& summaries) {
  std::vector<BarPanel> panels;
  for (const auto& dataset : datasets_of(summaries)) {
    BarPanel panel{dataset_title(dataset), "normal class (the only class seen in training)", "AUROC (%)", {}, {}};
    std::vector<const BenchSummary*> ours;
    for (const auto& s : summaries)
      if (s.dataset == dataset) ours.push_back(&s);
    std::vector<int> classes = classes_of(ours);
    for (int c : classes) panel.groups.push_back(std::to_string(c));
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
// Internal pieces (bench_report_internal.h)

namespace detail {

std::string base64_encode(const std::string& bytes) {
  static const char* const kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (size_t i = 0; i < bytes.size(); i += 3) {
    size_t n = std::min<size_t>(3, bytes.size() - i);
    uint32_t v = 0;
    for (size_t k = 0; k < 3; ++k) v = v << 8 | (k < n ? static_cast<unsigned char>(bytes[i + k]) : 0u);
    for (size_t k = 0; k < 4; ++k) out += k <= n ? kAlphabet[(v >> (18 - 6 * k)) & 63] : '=';
  }
  return out;
}

std::string html_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

CellLinks result_links(const std::vector<BenchRow>& rows, const std::string& bench_dir) {
  std::vector<const BenchRow*> by_seed;
  for (const auto& r : rows)
    if (!r.artifacts.empty()) by_seed.push_back(&r);
  std::stable_sort(by_seed.begin(), by_seed.end(),
                   [](const BenchRow* a, const BenchRow* b) { return a->seed < b->seed; });
  CellLinks links;
  for (const BenchRow* r : by_seed) {
    std::string folder = r->artifacts;
    while (folder.size() > 1 && folder.back() == '/') folder.pop_back();
    // A link to an image that was never drawn (figures off) would only lead to an error page.
    // emplace keeps the first entry of a cell: the lowest seed.
    if (!fs::exists(fs::path(bench_dir) / folder / "result.png")) continue;
    links.emplace(std::make_tuple(r->dataset, r->model, r->normal_class),
                  CellLink{url_path(folder + "/result.png"), r->seed});
  }
  return links;
}

std::string results_html(const std::vector<BenchSummary>& summaries, const std::vector<BenchFailure>& failures,
                         const BenchContext& context, const CellLinks& links, const std::string& png) {
  std::ostringstream s;
  s << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
    << "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    << "<title>oneclass benchmark</title>\n<style>" << kCss << "</style>\n</head>\n<body>\n"
    << "<h1>One-class benchmark</h1>\n"
    << html_context(context) << "<p>" << detail::html_escape(kProtocol)
    << (links.empty() ? "" : " A class's figure links to the result grid of one of its runs.") << "</p>\n";
  for (const auto& t : all_tables(summaries, links))
    s << "<h2>" << html_escape(dataset_title(t.dataset)) << "</h2>\n"
      << html_table(t) << html_paragraphs(footnotes(t), "notes");
  s << html_figure(png) << html_failures(failures) << "<p>" << html_escape(jobs_line(summaries, failures, context))
    << "</p>\n<p class=\"notes\">The same numbers: <a href=\"results.md\">results.md</a>, "
    << "<a href=\"results.csv\">results.csv</a>, <a href=\"results.json\">results.json</a>.</p>\n</body>\n</html>\n";
  return s.str();
}

}  // namespace detail

// ---------------------------------------------------------------------------------------------
// Public API

std::vector<BenchSummary> summarize(const std::vector<BenchRow>& rows) {
  check_unique_jobs(rows);
  std::map<std::string, std::set<int>> classes;  // per data set, over all its models
  std::map<GroupKey, std::vector<const BenchRow*>, GroupOrder> groups;
  for (const auto& r : rows) {
    classes[r.dataset].insert(r.normal_class);
    groups[{r.dataset, r.model}].push_back(&r);
  }
  std::vector<BenchSummary> summaries;
  for (const auto& [key, group] : groups) summaries.push_back(summarize_group(key, group, classes[key.first]));
  return summaries;
}

std::string results_markdown(const std::vector<BenchSummary>& summaries, const std::vector<BenchFailure>& failures,
                             const BenchContext& context) {
  std::string s = "# One-class benchmark\n\n" + std::string(kProtocol) + "\n\n";
  if (!context.command.empty()) s += "- Command: " + code_span(context.command) + "\n";
  if (!context.environment.empty()) s += "- Environment: " + markdown_text(context.environment) + "\n";
  if (context.wall_seconds > 0) s += "- Wall time: " + fmt("%.0f", context.wall_seconds) + " s\n";
  for (const auto& t : all_tables(summaries, {})) {
    s += "\n## " + markdown_text(dataset_title(t.dataset)) + "\n\n" + markdown_table(t);
    for (const auto& note : footnotes(t)) s += "\n" + note + "\n";
  }
  if (!failures.empty()) {
    s += "\n## Failures (" + std::to_string(failures.size()) + ")\n\n";
    for (const auto& f : failures) s += "- " + markdown_text(failure_text(f)) + "\n";
  }
  return s + "\n" + jobs_line(summaries, failures, context) + "\n";
}

std::string results_csv(const std::vector<BenchSummary>& summaries) {
  std::string csv = "dataset,model,class,auroc_mean,auroc_std,seeds\n";
  auto line = [&](const BenchSummary& s, const std::string& cls, const MeanStd& m) {
    csv += csv_field(s.dataset) + "," + csv_field(s.model) + "," + cls + "," +
           (m.n > 0 ? fmt("%.9g", m.mean) + "," + fmt("%.9g", m.std) : std::string(",")) + "," +
           std::to_string(m.n) + "\n";
  };
  for (const auto& s : summaries) {
    for (size_t i = 0; i < s.classes.size() && i < s.per_class.size(); ++i)
      line(s, std::to_string(s.classes[i]), s.per_class[i]);
    line(s, "all", s.overall);
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
