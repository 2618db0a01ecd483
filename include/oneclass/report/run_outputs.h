#pragma once
// Tables of a run (CSV) and the choice of images for the result grid.
#include <cstdint>
#include <string>
#include <vector>

namespace oneclass::report {

/// One column of result.png: which test image, and why it was chosen.
struct GridPick {
  int64_t row = 0;  // position in the scored test set
  std::string title;
};

/// Picks `columns` test images that tell the story of a run: the most typical normals (lowest
/// scores), the normal that looks most anomalous and the anomaly that looks most normal (the worst
/// mistake candidates on each side), and the most anomalous anomalies. Left to right by role.
/// requires: at least one normal and one anomaly; columns >= 2.
std::vector<GridPick> pick_grid_columns(const std::vector<double>& scores, const std::vector<int>& is_anomaly,
                                        int columns);

/// One CSV field as RFC 4180 writes it: quoted when it holds a separator, a quote or a line
/// break, with quotes doubled.
std::string csv_field(const std::string& text);

struct ScoredRow {
  int64_t index;   // position in the data set's test split
  int64_t label;
  int is_anomaly;
  double score;
  bool flagged;
  std::string path;  // folder data: the image file; empty for data sets of labelled arrays
};
/// "index,label,is_anomaly,score,flagged" and one line per row (scores with 9 significant digits);
/// a last column "path" when the rows have files (folder data).
std::string scores_csv(const std::vector<ScoredRow>& rows);

/// "epoch,loss" and one line per epoch.
std::string history_csv(const std::vector<double>& epoch_loss);

}  // namespace oneclass::report
