#pragma once
// `oneclass score RUN_DIR PATH...`: scores new images with a trained run. Needs only the run
// folder's config.json and detector.pt; no data set, no labels.
#include <cstdint>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

namespace oneclass {

struct ScoreRequest {
  std::string run_dir;
  std::vector<std::string> inputs;  // image files and folders (searched recursively)
  std::string output_csv;           // empty = <run_dir>/scored.csv
  std::string device = "auto";
  /// When set, each image's anomaly map is written here: <name>_map.tiff (32-bit float, the map's
  /// own values) and <name>_overlay.png (the image under a heat map from 0 to the largest map value
  /// of this call, which maps.json records). <name> is the image's path with '/' turned into '_'
  /// ("-2", "-3" added when two paths give one name).
  std::string maps_dir;
};

struct ScoreSummary {
  int scored = 0;
  int flagged = 0;
  std::vector<std::string> errors;  // one "path: reason" per file that could not be scored
  std::string output_csv;
  double map_max = 0;               // with maps_dir: the heat maps' top of scale
};

/// Image files named in `inputs`, and those found (recursively, sorted) in named folders; a folder
/// that cannot be listed or holds no image adds a line to `errors`.
std::vector<std::string> expand_image_inputs(const std::vector<std::string>& inputs, std::vector<std::string>& errors);

/// Writes path,score,flagged (and map,overlay with maps_dir) for every readable image (atomically). A file that cannot be read is
/// reported in `errors` and the others are still scored. Throws Error for a bad run folder.
ScoreSummary score_images(const ScoreRequest& request);

}  // namespace oneclass
