#include "oneclass/engine/score.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include <torch/torch.h>

#include <fmt/format.h>

#include "oneclass/data/images.h"
#include "oneclass/detectors/detector.h"
#include "oneclass/error.h"
#include "oneclass/report/run_outputs.h"
#include "oneclass/util/atomic_file.h"
#include "oneclass/util/system_info.h"

namespace oneclass {
namespace {

namespace fs = std::filesystem;

// Image files named on the command line, and those found (recursively, sorted) in named folders.
std::vector<std::string> expand_inputs(const std::vector<std::string>& inputs, std::vector<std::string>& errors) {
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
  if (shape.size() != 3 || shape[0] != 1) {
    throw Error(request.run_dir + ": its detector takes " + c10::str(c10::IntArrayRef(shape)) +
                " images; `oneclass score` reads grayscale images only so far");
  }

  ScoreSummary summary;
  summary.output_csv = request.output_csv.empty() ? (run / "scored.csv").string() : request.output_csv;
  std::string csv = "path,score,flagged\n";
  bool warned_resize = false;
  torch::NoGradGuard no_grad;
  for (const auto& path : expand_inputs(request.inputs, summary.errors)) {
    try {
      auto image = data::load_grayscale_image(path, static_cast<int>(shape[1]), static_cast<int>(shape[2]));
      if (image.resized && !warned_resize) {
        std::fprintf(stderr, "warning: %s is %dx%d; images are resized to the model's %lldx%lld\n", path.c_str(),
                     image.original_width, image.original_height, static_cast<long long>(shape[2]),
                     static_cast<long long>(shape[1]));
        warned_resize = true;
      }
      const double score = detector->score(image.pixels.unsqueeze(0).to(device)).item<double>();
      const bool flagged = score > threshold;
      const std::string fields = fmt::format(",{:.9g},{}\n", score, flagged ? 1 : 0);
      csv += report::csv_field(path) + fields;
      ++summary.scored;
      summary.flagged += flagged ? 1 : 0;
    } catch (const Error& e) {
      summary.errors.push_back(e.what());
    } catch (const c10::Error& e) {  // one bad file must not stop the others
      summary.errors.push_back(path + ": " + e.what_without_backtrace());
    }
  }
  write_file_atomic(summary.output_csv, csv);
  return summary;
}

}  // namespace oneclass
