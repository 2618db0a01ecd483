#include "oneclass/engine/score.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>

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

at::Tensor read_image_for_run(const std::string& path, const nlohmann::json& run_config,
                              const std::vector<int64_t>& shape) {
  const bool folder = run_config.value("dataset", "") == "folder";
  if (shape.size() != 3 || (folder && shape[1] != shape[2])) {
    throw Error(path + ": the run's detector takes " + c10::str(c10::IntArrayRef(shape)) + " images");
  }
  if (folder) {
    return data::read_image_file(path, {static_cast<int>(shape[0]), static_cast<int>(shape[1])}).pixels;
  }
  if (shape[0] != 1) {
    throw Error(path + ": the run's detector takes " + c10::str(c10::IntArrayRef(shape)) +
                " images; runs on MNIST-format data score grey images");
  }
  return data::load_grayscale_image(path, static_cast<int>(shape[1]), static_cast<int>(shape[2])).pixels;
}

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
  std::string csv = "path,score,flagged\n";
  torch::NoGradGuard no_grad;
  for (const auto& path : expand_image_inputs(request.inputs, summary.errors)) {
    try {
      const at::Tensor image = read_image_for_run(path, config, shape);
      const double score = detector->score(image.unsqueeze(0).to(device)).item<double>();
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
