#pragma once
// Pieces of the benchmark report shared by its files (bench_summary.cpp, bench_report.cpp,
// bench_html.cpp) and checked by tests on their own: the statistics' helpers, the table model,
// the compiled-in published figures and their parser, the HTML page and its encoders. Not part of
// the public API.
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "oneclass/report/bench_report.h"
#include "oneclass/util/base64.h"

namespace oneclass::report::detail {

/// The text of data/published_auroc.json as it was when the build was configured (generated
/// source: cmake/published_auroc.cpp.in).
std::string_view published_auroc_json();

/// Parses and checks a published-figures file ({"results": [entry, ...]}). Throws Error naming the
/// entry (position, method, dataset) for a missing or mistyped field, an unknown dataset, a value
/// outside (0, 100], per_class neither empty nor 10 values, or a mean that the per-class values
/// (rounded to one decimal each) cannot produce.
std::vector<PublishedResult> parse_published_results(const std::string& json_text, const std::string& origin);

// ---------------------------------------------------------------------------------------------
// Statistics (bench_summary.cpp)

/// Mean and sample standard deviation of `values`.
MeanStd mean_std(const std::vector<double>& values);
/// MNIST, then Fashion-MNIST, then other data sets by name.
bool dataset_before(const std::string& a, const std::string& b);
/// "MNIST", "Fashion-MNIST", else the name.
std::string dataset_title(const std::string& dataset);

// ---------------------------------------------------------------------------------------------
// The tables (bench_tables.cpp), rendered as Markdown in bench_report.cpp and as HTML in
// bench_html.cpp

/// Percent-encodes a relative path for a link (unreserved characters and '/' stay).
std::string url_path(const std::string& path);
/// The protocol in two sentences, for the report's heading.
extern const char* const kProtocol;

struct Cell {
  std::string text;
  std::string link;  // relative URL, or empty
  std::string title;  // tooltip of the link
};

struct TableRow {
  std::vector<Cell> cells;
  bool published = false;
};

/// What a table shows: image AUROC (every data set), or a pixel metric (folder data with masks).
enum class TableMetric { kImageAuroc, kPixelAuroc, kAupro };

struct DatasetTable {
  std::string dataset;
  std::string title;                // "MNIST", or "folder:data — pixel AUROC"
  TableMetric metric = TableMetric::kImageAuroc;
  std::vector<std::string> header;  // model, source, mean, then the classes (or categories)
  std::vector<TableRow> rows;
  bool unverified = false, extra_data = false;  // which footnotes the rows need
};

/// A per-class table cell's link to one job's result.png.
struct CellLink {
  std::string url;  // relative to the benchmark folder, percent-encoded
  uint64_t seed = 0;
};
/// Keyed by (dataset, model, class).
using CellLinks = std::map<std::tuple<std::string, std::string, int>, CellLink>;

/// The data sets of `summaries` in report order (dataset_before).
std::vector<std::string> datasets_of(const std::vector<BenchSummary>& summaries);
/// Every class (column) any of `ours` has, sorted.
std::vector<int> classes_of(const std::vector<const BenchSummary*>& ours);
/// A column's name: the category of a folder data set, else the class number.
std::string class_label(const std::vector<const BenchSummary*>& ours, int c);
/// `text` on one line: line breaks and tabs become spaces (a table cell or list item is one line).
std::string one_line(const std::string& text);

/// One table per data set, in the data sets' order; a data set with pixel metrics has two more
/// (pixel AUROC, AUPRO) right after its first.
std::vector<DatasetTable> all_tables(const std::vector<BenchSummary>& summaries, const CellLinks& links);
/// The footnotes a table's rows need.
std::vector<std::string> footnotes(const DatasetTable& t);
/// "Finished 20 of 20 planned jobs; 1 failed."
std::string jobs_line(const std::vector<BenchSummary>& summaries, const std::vector<BenchFailure>& failures,
                      const BenchContext& context);
/// One failure on one line.
std::string failure_text(const BenchFailure& f);

// ---------------------------------------------------------------------------------------------
// The HTML page (bench_html.cpp)

using oneclass::base64_encode;  // util/base64.h

/// Text safe inside HTML elements and quoted attributes: & < > " ' become entities.
std::string html_escape(const std::string& text);

/// For each (dataset, model, class), the job with the lowest seed whose artifacts folder holds a
/// result.png under `bench_dir`; the URL is relative to bench_dir and percent-encoded.
CellLinks result_links(const std::vector<BenchRow>& rows, const std::string& bench_dir);

/// The self-contained report page. `png` is per_class.png's bytes (embedded as a data URI), or
/// empty when there is no figure.
std::string results_html(const std::vector<BenchSummary>& summaries, const std::vector<BenchFailure>& failures,
                         const BenchContext& context, const CellLinks& links, const std::string& png);

}  // namespace oneclass::report::detail
