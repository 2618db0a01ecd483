#include "oneclass/engine/score.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <set>

#include <torch/torch.h>

#include <fmt/format.h>

#include "oneclass/data/image_files.h"
#include "oneclass/data/images.h"
#include "oneclass/engine/scoring_model.h"
#include "oneclass/error.h"
#include "oneclass/report/run_outputs.h"
#include "oneclass/util/atomic_file.h"

namespace oneclass {

namespace fs = std::filesystem;

std::vector<std::string> expand_image_inputs(const std::vector<std::string>& inputs, std::vector<std::string>& errors) {
  std::vector<std::string> files;
  for (const auto& input : inputs) {
    std::error_code ec;
    if (fs::is_directory(input, ec)) {
      std::vector<std::string> found;
      const auto options = fs::directory_options::skip_permission_denied;
      for (fs::recursive_directory_iterator it(input, options, ec), end; !ec && it != end; it.increment(ec)) {
        std::error_code type_error;
        if (it->is_regular_file(type_error) && data::has_image_extension(it->path().string())) {
          found.push_back(it->path().string());
        }
      }
      if (ec) errors.push_back(input + ": cannot list folder (" + ec.message() + ")");
      if (found.empty() && !ec) errors.push_back(input + ": folder holds no image files (.png, .jpg, ...)");
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else {
      files.push_back(input);  // a missing or unreadable file is reported when it is loaded
    }
  }
  return files;
}

namespace {

struct ScoredImage {
  std::string path;
  at::Tensor image;  // [C, H, W] as the detector saw it
  double score = 0;
  at::Tensor map;    // [H, W], with --maps
};

void prepare_maps_dir(const std::string& dir, const ScoringModel& model) {
  if (!model.has_maps()) {
    throw Error("--maps: " + model.detector_name() + " gives no anomaly maps; detectors with maps: see `oneclass models`");
  }
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error("--maps " + dir + ": cannot create the folder (" + ec.message() + ")");
}

// "runs/demo/wood/test/hole/000.png" -> "runs_demo_wood_test_hole_000.png"; a name already taken
// (two paths that differ only where '/' and '_' meet) gets "-2", "-3", ...
std::string map_name(const std::string& path, std::set<std::string>& taken) {
  std::string name = fs::path(path).lexically_normal().string();
  while (!name.empty() && (name.front() == '/' || name.front() == '.')) name.erase(0, 1);
  std::replace(name.begin(), name.end(), '/', '_');
  if (name.empty()) name = "image";
  std::string unique = name;
  for (int n = 2; !taken.insert(unique).second; ++n) unique = name + "-" + std::to_string(n);
  return unique;
}

// The maps and overlays of every scored image, on one colour scale; returns their CSV rows.
std::string write_maps(const std::string& dir, const std::vector<ScoredImage>& scored, double threshold,
                       ScoreSummary& summary) {
  for (const auto& s : scored) summary.map_max = std::max(summary.map_max, s.map.max().item<double>());
  std::string rows;
  std::set<std::string> taken;
  for (const auto& s : scored) {
    const std::string name = map_name(s.path, taken);
    const std::string map_file = (fs::path(dir) / (name + "_map.tiff")).string();
    const std::string overlay_file = (fs::path(dir) / (name + "_overlay.png")).string();
    bool written = true;
    try {
      data::write_float_tiff(map_file, s.map);
      data::write_heat_map_overlay(overlay_file, s.image, s.map, summary.map_max);
    } catch (const Error& e) {  // the scores are still written
      summary.errors.push_back(e.what());
      written = false;
    }
    rows += report::csv_field(s.path) + fmt::format(",{},{},", s.score, s.score > threshold ? 1 : 0) +
            (written ? report::csv_field(map_file) + "," + report::csv_field(overlay_file) : ",") + "\n";
  }
  const nlohmann::json scale = {{"overlay_colours", "inferno, 0 to map_max"}, {"map_max", summary.map_max},
                                {"maps", "32-bit float TIFF, the detector's own map values"},
                                {"images", scored.size()}};
  write_file_atomic((fs::path(dir) / "maps.json").string(), scale.dump(2) + "\n");
  return rows;
}

}  // namespace

ScoreSummary score_images(const ScoreRequest& request) {
  const auto model = ScoringModel::open(request.run_dir, request.device);
  const double threshold = model->threshold();
  ScoreSummary summary;
  summary.output_csv =
      request.output_csv.empty() ? (fs::path(request.run_dir) / "scored.csv").string() : request.output_csv;
  const bool with_maps = !request.maps_dir.empty();
  if (with_maps) prepare_maps_dir(request.maps_dir, *model);
  std::string csv = with_maps ? "path,score,flagged,map,overlay\n" : "path,score,flagged\n";
  std::vector<ScoredImage> scored;  // kept with maps: the heat maps share one scale
  bool warned_resize = false;
  for (const auto& path : expand_image_inputs(request.inputs, summary.errors)) {
    try {
      const PreparedImage image = model->prepare_file(path);
      const auto& shape = model->input_shape();
      const bool resized = image.width != shape[2] || image.height != shape[1];
      // Camera images are always resized to the model's square; a resized MNIST-format image is a
      // warning sign (a digit drawn at another size).
      if (resized && !warned_resize && model->config().value("dataset", "") != "folder") {
        std::fprintf(stderr, "warning: %s is %dx%d; images are resized to the model's %lldx%lld\n", path.c_str(),
                     image.width, image.height, static_cast<long long>(shape[2]), static_cast<long long>(shape[1]));
        warned_resize = true;
      }
      const Verdict verdict = model->score({image}, with_maps).front();
      ++summary.scored;
      summary.flagged += verdict.flagged ? 1 : 0;
      if (with_maps) {
        scored.push_back({path, image.pixels, verdict.score, verdict.map});
      } else {
        // Shortest exact form: the score read back is the score computed, to the last bit.
        csv += report::csv_field(path) + fmt::format(",{},{}\n", verdict.score, verdict.flagged ? 1 : 0);
      }
    } catch (const Error& e) {
      summary.errors.push_back(e.what());
    } catch (const c10::Error& e) {  // one bad file must not stop the others
      summary.errors.push_back(path + ": " + e.what_without_backtrace());
    }
  }
  if (with_maps) csv += write_maps(request.maps_dir, scored, threshold, summary);
  write_file_atomic(summary.output_csv, csv);
  return summary;
}

}  // namespace oneclass
