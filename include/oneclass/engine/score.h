#pragma once
// `oneclass score RUN_DIR PATH...`: scores new images with a trained run. Needs only the run
// folder's config.json and detector.pt; no data set, no labels.
#include <string>
#include <vector>

namespace oneclass {

struct ScoreRequest {
  std::string run_dir;
  std::vector<std::string> inputs;  // image files and folders (searched recursively)
  std::string output_csv;           // empty = <run_dir>/scored.csv
  std::string device = "auto";
};

struct ScoreSummary {
  int scored = 0;
  int flagged = 0;
  std::vector<std::string> errors;  // one "path: reason" per file that could not be scored
  std::string output_csv;
};

/// Writes path,score,flagged for every readable image (atomically). A file that cannot be read is
/// reported in `errors` and the others are still scored. Throws Error for a bad run folder.
ScoreSummary score_images(const ScoreRequest& request);

}  // namespace oneclass
