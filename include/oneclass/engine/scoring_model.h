#pragma once
// A trained run folder opened for scoring: what `oneclass score`, the C API, the Python package and
// `oneclass serve` share, so that an image gets the same score through each of them.
//
// Thread safety: after open, every const member may be called from several threads at once on
// one ScoringModel (the detector is in evaluation mode and scoring mutates no state).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

#include "oneclass/data/images.h"

namespace oneclass {

class Detector;

/// One image as the run's detector takes it, and what was done to get there.
struct PreparedImage {
  at::Tensor pixels;               // float [C, H, W] in [0, 1], on the CPU
  int width = 0, height = 0;       // as given
  int channels = 0;                // as given: samples per pixel, alpha counted
  std::vector<std::string> notes;  // conversions a user may want to know about (channels, size)
};

struct Verdict {
  double score = 0;
  bool flagged = false;  // score > threshold
  at::Tensor map;        // float [H, W] on the CPU, when asked for and the detector has maps
};

/// An image file read as a run (config.json's content) whose detector takes `shape` [C, H, W] reads
/// it: as its training images were read. Throws Error naming the file.
PreparedImage prepare_image_file(const std::string& path, const nlohmann::json& run_config,
                                 const std::vector<int64_t>& shape);

/// The same for decoded pixels (ScoringModel::prepare_pixels, and Python's Detector.fit, which
/// prepares its arrays as the run it saves will read them).
PreparedImage prepare_pixels_for_run(const data::PixelView& pixels, const std::string& name,
                                     const nlohmann::json& run_config, const std::vector<int64_t>& shape);

class ScoringModel {
 public:
  /// Opens `run_dir` (config.json and detector.pt of `oneclass run`, or of Python's
  /// Detector.save) on `device` ("auto", "cpu", "cuda[:N]"). Throws Error naming what is missing.
  static std::unique_ptr<ScoringModel> open(const std::string& run_dir, const std::string& device = "auto");
  ~ScoringModel();
  ScoringModel(const ScoringModel&) = delete;
  ScoringModel& operator=(const ScoringModel&) = delete;

  const std::string& run_dir() const { return run_dir_; }
  /// config.json as written by the run.
  const nlohmann::json& config() const { return config_; }
  /// metrics.json, or null when the folder has none.
  const nlohmann::json& metrics() const { return metrics_; }
  const std::string& detector_name() const;
  /// [C, H, W] the detector takes.
  const std::vector<int64_t>& input_shape() const;
  double threshold() const { return threshold_; }
  bool has_maps() const { return has_maps_; }
  /// One line on what it was trained on: "mnist, normal 1", "folder runs/demo-data, category wood".
  std::string trained_on() const;

  /// An image file read as the run's training images were read. Throws Error naming the file.
  PreparedImage prepare_file(const std::string& path) const;
  /// The same for the bytes of an image file (an upload); `name` names it in errors.
  PreparedImage prepare_encoded(const std::string& bytes, const std::string& name) const;
  /// The same for decoded pixels (grey, RGB or RGBA order).
  PreparedImage prepare_pixels(const data::PixelView& pixels, const std::string& name) const;

  /// Scores images [N, C, H, W] of input_shape() (float in [0, 1]). With `with_maps` (and a
  /// detector that has maps) each verdict carries its anomaly map.
  std::vector<Verdict> score(const at::Tensor& images, bool with_maps) const;
  /// Scores prepared images, in batches.
  std::vector<Verdict> score(const std::vector<PreparedImage>& images, bool with_maps) const;

 private:
  ScoringModel() = default;

  std::string run_dir_;
  nlohmann::json config_;
  nlohmann::json metrics_;
  double threshold_ = 0;
  bool has_maps_ = false;
  std::unique_ptr<Detector> detector_;
};

}  // namespace oneclass
