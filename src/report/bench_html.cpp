// The benchmark report as one self-contained HTML page (bar chart embedded, readable on a phone),
// with its encoders.
#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <sstream>

#include <fmt/format.h>

#include "report/bench_report_internal.h"

namespace fs = std::filesystem;

namespace oneclass::report::detail {
namespace {

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
  std::string text = html_escape(cell.text);
  if (!cell.link.empty())
    text = "<a href=\"" + html_escape(cell.link) + "\" title=\"" + html_escape(cell.title) + "\">" +
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
    s += std::string("<p class=\"") + css_class + "\">" + html_escape(line) + "</p>\n";
  return s;
}

std::string html_context(const BenchContext& context) {
  std::string s = "<ul class=\"meta\">\n";
  if (!context.command.empty()) s += "<li>Command: <code>" + html_escape(context.command) + "</code></li>\n";
  if (!context.environment.empty()) s += "<li>Environment: " + html_escape(context.environment) + "</li>\n";
  if (context.wall_seconds > 0) s += "<li>Wall time: " + fmt::format("{:.0f}", context.wall_seconds) + " s</li>\n";
  return s + "</ul>\n";
}

std::string html_figure(const std::string& png) {
  if (png.empty()) return "";
  return "<figure><img src=\"data:image/png;base64," + base64_encode(png) +
         "\" alt=\"AUROC per normal class, one bar per model, error bars one standard deviation over seeds\">"
         "<figcaption>AUROC per normal class (mean ± standard deviation over seeds); also saved as "
         "<a href=\"per_class.png\">per_class.png</a>.</figcaption></figure>\n";
}

std::string html_failures(const std::vector<BenchFailure>& failures) {
  if (failures.empty()) return "";
  std::string s = "<h2>Failures (" + std::to_string(failures.size()) + ")</h2>\n<ul>\n";
  for (const auto& f : failures) s += "<li>" + html_escape(failure_text(f)) + "</li>\n";
  return s + "</ul>\n";
}

// A folder data set's heat maps: per category, the result grid (inputs, heat-map overlays, defect
// outlines) of the model with the best image AUROC there among those whose runs were kept. Linked,
// not embedded: the grids of a few categories would make the page many megabytes.
std::string html_examples(const std::vector<BenchSummary>& summaries, const std::string& dataset, const CellLinks& links) {
  std::vector<const BenchSummary*> ours;
  for (const auto& s : summaries)
    if (s.dataset == dataset && !s.class_names.empty()) ours.push_back(&s);
  if (ours.empty()) return "";
  std::string figures;
  for (size_t i = 0; i < ours.front()->classes.size(); ++i) {
    const int c = ours.front()->classes[i];
    const BenchSummary* best = nullptr;
    for (const auto* s : ours) {
      if (!links.count({dataset, s->model, c}) || s->per_class[i].n == 0) continue;
      if (best == nullptr || s->per_class[i].mean > best->per_class[i].mean) best = s;
    }
    if (best == nullptr) continue;
    const auto& link = links.at({dataset, best->model, c});
    const std::string caption = ours.front()->class_names[i] + ": " + best->model + ", image AUROC " +
                                fmt::format("{:.1f}", 100 * best->per_class[i].mean) + " (seed " +
                                std::to_string(link.seed) + ")";
    figures += "<figure><img src=\"" + html_escape(link.url) + "\" loading=\"lazy\" alt=\"" + html_escape(caption) +
               "\"><figcaption>" + html_escape(caption) + "</figcaption></figure>\n";
  }
  if (figures.empty()) {
    return "<p class=\"notes\">No result grid to show: run the benchmark with --keep-artifacts (and gnuplot installed, "
           "and held-out images to set a threshold) to see each category's heat maps here.</p>\n";
  }
  return "<h2>" + html_escape(dataset_title(dataset)) + " — heat maps of the best model per category</h2>\n" +
         "<p class=\"notes\">Each grid: test images with their score against the threshold, the heat-map overlay, "
         "and the defect outline where there is a mask.</p>\n" + figures;
}

}  // namespace

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
    << html_context(context) << "<p>" << html_escape(kProtocol)
    << (links.empty() ? "" : " A class's figure links to the result grid of one of its runs.") << "</p>\n";
  const auto tables = all_tables(summaries, links);
  for (size_t i = 0; i < tables.size(); ++i) {
    const auto& t = tables[i];
    s << "<h2>" << html_escape(t.title) << "</h2>\n" << html_table(t) << html_paragraphs(footnotes(t), "notes");
    // After a data set's last table, its heat maps.
    if (i + 1 == tables.size() || tables[i + 1].dataset != t.dataset) s << html_examples(summaries, t.dataset, links);
  }
  s << html_figure(png) << html_failures(failures) << "<p>" << html_escape(jobs_line(summaries, failures, context))
    << "</p>\n<p class=\"notes\">The same numbers: <a href=\"results.md\">results.md</a>, "
    << "<a href=\"results.csv\">results.csv</a>, <a href=\"results.json\">results.json</a>.</p>\n</body>\n</html>\n";
  return s.str();
}

}  // namespace oneclass::report::detail
