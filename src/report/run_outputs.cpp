#include "oneclass/report/run_outputs.h"

#include <algorithm>
#include <cstdio>
#include <numeric>

#include <fmt/format.h>

#include "oneclass/error.h"

namespace oneclass::report {
namespace {

// Rows of one class, sorted by ascending score.
std::vector<int64_t> rows_by_score(const std::vector<double>& scores, const std::vector<int>& is_anomaly, int cls) {
  std::vector<int64_t> rows;
  for (size_t i = 0; i < scores.size(); ++i) {
    if (is_anomaly[i] == cls) rows.push_back(static_cast<int64_t>(i));
  }
  std::stable_sort(rows.begin(), rows.end(), [&](int64_t a, int64_t b) { return scores[a] < scores[b]; });
  return rows;
}

}  // namespace

std::vector<GridPick> pick_grid_columns(const std::vector<double>& scores, const std::vector<int>& is_anomaly,
                                        int columns) {
  const auto normals = rows_by_score(scores, is_anomaly, 0);
  const auto anomalies = rows_by_score(scores, is_anomaly, 1);
  if (normals.empty() || anomalies.empty() || columns < 2) {
    throw Error("result grid: needs normal and anomalous test images and at least 2 columns");
  }
  const int rest = columns - 2;
  const size_t typical = std::min<size_t>(rest / 2, normals.size() - 1);
  const size_t clearest = std::min<size_t>(rest - typical, anomalies.size() - 1);
  std::vector<GridPick> picks;
  for (size_t i = 0; i < typical; ++i) picks.push_back({normals[i], "typical normal"});
  picks.push_back({normals.back(), "hardest normal"});
  picks.push_back({anomalies.front(), "hardest anomaly"});
  for (size_t i = clearest; i-- > 0;) picks.push_back({anomalies[anomalies.size() - 1 - i], "clear anomaly"});
  return picks;
}

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

std::string scores_csv(const std::vector<ScoredRow>& rows) {
  const bool paths = std::any_of(rows.begin(), rows.end(), [](const ScoredRow& r) { return !r.path.empty(); });
  std::string csv = paths ? "index,label,is_anomaly,score,flagged,path\n" : "index,label,is_anomaly,score,flagged\n";
  for (const auto& row : rows) {
    csv += fmt::format("{},{},{},{:.9g},{}", row.index, row.label, row.is_anomaly, row.score, row.flagged ? 1 : 0);
    csv += paths ? "," + csv_field(row.path) + "\n" : "\n";
  }
  return csv;
}

std::string history_csv(const std::vector<double>& epoch_loss) {
  std::string csv = "epoch,loss\n";
  for (size_t i = 0; i < epoch_loss.size(); ++i) csv += fmt::format("{},{:.9g}\n", i + 1, epoch_loss[i]);
  return csv;
}

}  // namespace oneclass::report
