#pragma once
// Pieces of the benchmark report that tests check on their own: the compiled-in published figures
// and their parser, the HTML page and its encoders. Not part of the public API.
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "oneclass/report/bench_report.h"

namespace oneclass::report::detail {

/// The text of data/published_auroc.json as it was when the build was configured (generated
/// source: cmake/published_auroc.cpp.in).
std::string_view published_auroc_json();

/// Parses and checks a published-figures file ({"results": [entry, ...]}). Throws Error naming the
/// entry (position, method, dataset) for a missing or mistyped field, an unknown dataset, a value
/// outside (0, 100], per_class neither empty nor 10 values, or a mean that the per-class values
/// (rounded to one decimal each) cannot produce.
std::vector<PublishedResult> parse_published_results(const std::string& json_text, const std::string& origin);

/// Standard base64 (RFC 4648, with '=' padding).
std::string base64_encode(const std::string& bytes);

/// Text safe inside HTML elements and quoted attributes: & < > " ' become entities.
std::string html_escape(const std::string& text);

/// A per-class table cell's link to one job's result.png.
struct CellLink {
  std::string url;  // relative to the benchmark folder, percent-encoded
  uint64_t seed = 0;
};
/// Keyed by (dataset, model, class).
using CellLinks = std::map<std::tuple<std::string, std::string, int>, CellLink>;

/// For each (dataset, model, class), the job with the lowest seed whose artifacts folder holds a
/// result.png under `bench_dir`; the URL is relative to bench_dir and percent-encoded.
CellLinks result_links(const std::vector<BenchRow>& rows, const std::string& bench_dir);

/// The self-contained report page. `png` is per_class.png's bytes (embedded as a data URI), or
/// empty when there is no figure.
std::string results_html(const std::vector<BenchSummary>& summaries, const std::vector<BenchFailure>& failures,
                         const BenchContext& context, const CellLinks& links, const std::string& png);

}  // namespace oneclass::report::detail
