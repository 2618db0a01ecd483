#include "oneclass/engine/score.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <set>

#include <torch/torch.h>

#include <fmt/format.h>

#include "oneclass/data/image_files.h"
#include "oneclass/data/images.h"
#include "oneclass/detectors/detector.h"
#include "oneclass/error.h"
#include "oneclass/report/run_outputs.h"
#include "oneclass/util/atomic_file.h"
#include "oneclass/util/system_info.h"

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

ImageForRun read_image_for_run(const std::string& path, const nlohmann::json& run_config,
                               const std::vector<int64_t>& shape) {
  const bool folder = run_config.value("dataset", "") == "folder";
  if (shape.size() != 3 || (folder && shape[1] != shape[2])) {
    throw Error(path + ": the run's detector takes " + c10::str(c10::IntArrayRef(shape)) + " images");
  }
  if (folder) {
    const auto file = data::read_image_file(path, {static_cast<int>(shape[0]), static_cast<int>(shape[1])});
    return {file.pixels, false, file.original_height, file.original_width};
  }
  if (shape[0] != 1) {
    throw Error(path + ": the run's detector takes " + c10::str(c10::IntArrayRef(shape)) +
                " images; runs on MNIST-format data score grey images");
  }
  const auto image = data::load_grayscale_image(path, static_cast<int>(shape[1]), static_cast<int>(shape[2]));
  return {image.pixels, image.resized, image.original_height, image.original_width};
}

namespace {

struct ScoredImage {
  std::string path;
  at::Tensor image;  // [C, H, W] as the detector saw it
  double score = 0;
  at::Tensor map;    // [H, W], with --maps
};

void prepare_maps_dir(const std::string& dir, Detector& detector, const std::vector<int64_t>& shape) {
  // One blank image tells whether the detector has maps, before any file is read.
  torch::NoGradGuard no_grad;
  if (!detector.anomaly_map(torch::zeros({0, shape[0], shape[1], shape[2]}).to(detector.device()))) {
    throw Error("--maps: " + detector.name() + " gives no anomaly maps; detectors with maps: see `oneclass models`");
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
    rows += report::csv_field(s.path) + fmt::format(",{:.9g},{},", s.score, s.score > threshold ? 1 : 0) +
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
  const fs::path run(request.run_dir);
  const std::string config_path = (run / "config.json").string();
  if (!fs::is_directory(run)) {
    throw Error(request.run_dir + ": no such folder; give the --out folder of a finished `oneclass run`");
  }
  nlohmann::json config;
  try {
    config = nlohmann::json::parse(read_file(config_path));
  } catch (const nlohmann::json::exception& e) {
    throw Error(config_path + ": not valid JSON (" + std::string(e.what()) + "); is " + request.run_dir +
                " a folder written by `oneclass run`?");
  }
  if (!config.contains("threshold") || !config["threshold"].is_number()) {
    throw Error(config_path + ": has no numeric 'threshold'; run `oneclass run` again to write it");
  }
  const double threshold = config["threshold"];
  const c10::Device device = resolve_device(request.device);
  auto detector = load_detector((run / "detector.pt").string(), device);
  const auto shape = detector->input_shape();  // [C, H, W]

  ScoreSummary summary;
  summary.output_csv = request.output_csv.empty() ? (run / "scored.csv").string() : request.output_csv;
  const bool with_maps = !request.maps_dir.empty();
  if (with_maps) prepare_maps_dir(request.maps_dir, *detector, shape);
  std::string csv = with_maps ? "path,score,flagged,map,overlay\n" : "path,score,flagged\n";
  std::vector<ScoredImage> scored;  // kept with maps: the heat maps share one scale
  bool warned_resize = false;
  torch::NoGradGuard no_grad;
  for (const auto& path : expand_image_inputs(request.inputs, summary.errors)) {
    try {
      const ImageForRun read = read_image_for_run(path, config, shape);
      if (read.resized && !warned_resize) {
        std::fprintf(stderr, "warning: %s is %dx%d; images are resized to the model's %lldx%lld\n", path.c_str(),
                     read.original_width, read.original_height, static_cast<long long>(shape[2]),
                     static_cast<long long>(shape[1]));
        warned_resize = true;
      }
      ScoredImage s{path, read.pixels, 0, {}};
      const auto batch = s.image.unsqueeze(0).to(device);
      s.score = detector->score(batch).item<double>();
      if (with_maps) s.map = detector->anomaly_map(batch)->squeeze(0).to(torch::kCPU);
      ++summary.scored;
      summary.flagged += s.score > threshold ? 1 : 0;
      if (with_maps) {
        scored.push_back(std::move(s));
      } else {
        csv += report::csv_field(path) + fmt::format(",{:.9g},{}\n", s.score, s.score > threshold ? 1 : 0);
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
