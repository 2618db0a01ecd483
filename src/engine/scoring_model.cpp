#include "oneclass/engine/scoring_model.h"

#include <filesystem>

#include <torch/torch.h>

#include <fmt/format.h>

#include "oneclass/data/image_files.h"
#include "oneclass/detectors/detector.h"
#include "oneclass/error.h"
#include "oneclass/util/atomic_file.h"
#include "oneclass/util/system_info.h"

namespace oneclass {

namespace fs = std::filesystem;

namespace {

// Images per detector call. One: an image's score then never depends on the images it came with
// (a BLAS kernel may sum in another order for another batch size), so that the CLI, the C API,
// Python and the service agree to the last bit, and concurrent requests score as sequential ones.
constexpr int64_t kScoreBatch = 1;

nlohmann::json read_json(const std::string& path, const std::string& run_dir) {
  try {
    return nlohmann::json::parse(read_file(path));
  } catch (const nlohmann::json::exception& e) {
    throw Error(path + ": not valid JSON (" + std::string(e.what()) + "); is " + run_dir +
                " a folder written by `oneclass run`?");
  }
}

// How a run's images are read: as its training images were. Folder data: the centre square resized
// to the side, in the run's channels. MNIST-format data: grey, resized to H x W. Arrays (Python's
// Detector.fit): grey ones as MNIST's, square colour ones as folder data's.
bool reads_as_folder_data(const nlohmann::json& config, const std::vector<int64_t>& shape) {
  const std::string dataset = config.value("dataset", "");
  return dataset == "folder" || (dataset == "arrays" && shape[0] == 3);
}

void check_shape_readable(const nlohmann::json& config, const std::vector<int64_t>& shape, const std::string& name) {
  const std::string what = c10::str(c10::IntArrayRef(shape));
  if (shape.size() != 3) throw Error(name + ": the run's detector takes " + what + " images");
  if (reads_as_folder_data(config, shape)) {
    if (shape[1] != shape[2]) {
      throw Error(name + ": the run's detector takes " + what + " images, which no image file is read as; "
                  "give it arrays of that shape (Python: oneclass.load(...).score)");
    }
  } else if (shape[0] != 1) {
    throw Error(name + ": the run's detector takes " + what +
                " images; runs on MNIST-format data score grey images");
  }
}

// Float samples must be finite and in [0, 1]: a NaN would score NaN, which no threshold flags.
void check_float_pixels(const data::PixelView& pixels, const std::string& name) {
  data::check_pixel_view(pixels, name);  // before the samples are read
  if (!pixels.is_float) return;
  const int64_t stride = pixels.stride != 0 ? pixels.stride / 4 : int64_t{pixels.width} * pixels.channels;
  const auto samples = torch::from_blob(const_cast<void*>(pixels.data), {pixels.height, int64_t{pixels.width} * pixels.channels},
                                        {stride, 1}, torch::kFloat);
  if (!samples.isfinite().all().item<bool>() || samples.min().item<float>() < 0 || samples.max().item<float>() > 1) {
    throw Error(name + ": float pixels must be finite and in [0, 1] (divide 8-bit samples by 255)");
  }
}

std::string size_note(int width, int height, const std::vector<int64_t>& shape, bool folder) {
  if (width == shape[2] && height == shape[1]) return "";
  return fmt::format("resized from {}x{} to {}x{}{}", width, height, shape[2], shape[1],
                     folder && width != height ? " (centre square)" : "");
}

}  // namespace

ScoringModel::~ScoringModel() = default;

std::unique_ptr<ScoringModel> ScoringModel::open(const std::string& run_dir, const std::string& device) {
  const fs::path run(run_dir);
  if (!fs::is_directory(run)) {
    throw Error(run_dir + ": no such folder; give the --out folder of a finished `oneclass run`");
  }
  std::unique_ptr<ScoringModel> model(new ScoringModel());
  model->run_dir_ = run_dir;
  model->config_ = read_json((run / "config.json").string(), run_dir);
  if (!model->config_.contains("threshold") || !model->config_["threshold"].is_number()) {
    throw Error((run / "config.json").string() + ": has no numeric 'threshold'; run `oneclass run` again to write it");
  }
  model->threshold_ = model->config_["threshold"].get<double>();
  const std::string metrics_path = (run / "metrics.json").string();
  if (fs::exists(metrics_path)) model->metrics_ = read_json(metrics_path, run_dir);
  model->detector_ = load_detector((run / "detector.pt").string(), resolve_device(device));
  const auto& shape = model->detector_->input_shape();
  check_shape_readable(model->config_, shape, run_dir);
  torch::NoGradGuard no_grad;
  model->has_maps_ = model->detector_->anomaly_map(torch::zeros({0, shape[0], shape[1], shape[2]})
                                                       .to(model->detector_->device()))
                         .has_value();
  return model;
}

const std::string& ScoringModel::detector_name() const { return detector_->name(); }

const std::vector<int64_t>& ScoringModel::input_shape() const { return detector_->input_shape(); }

std::string ScoringModel::trained_on() const {
  const std::string dataset = config_.value("dataset", "");
  if (dataset == "folder") {
    return fmt::format("folder {}, category {}", config_.value("data", ""), config_.value("category", ""));
  }
  if (dataset == "arrays") return fmt::format("{} arrays (Python)", config_.value("n_images", 0));
  return fmt::format("{}, normal {}", dataset, config_.value("normal", ""));
}

namespace {

PreparedImage prepared(const nlohmann::json& config, const std::vector<int64_t>& shape, int width, int height,
                       int channels, at::Tensor pixels) {
  PreparedImage image{std::move(pixels), width, height, channels, {}};
  if (channels != shape[0]) {
    image.notes.push_back(fmt::format("converted from {} to {} channel{}", channels, shape[0], shape[0] > 1 ? "s" : ""));
  }
  const std::string resized = size_note(width, height, shape, reads_as_folder_data(config, shape));
  if (!resized.empty()) image.notes.push_back(resized);
  return image;
}

PreparedImage prepare_encoded_image(const std::string& bytes, const std::string& name, const nlohmann::json& config,
                                    const std::vector<int64_t>& shape) {
  check_shape_readable(config, shape, name);
  if (reads_as_folder_data(config, shape)) {
    auto file = data::decode_image_file(bytes, name, {static_cast<int>(shape[0]), static_cast<int>(shape[1])});
    return prepared(config, shape, file.original_width, file.original_height, file.stored_channels,
                    std::move(file.pixels));
  }
  auto image = data::decode_grayscale_image(bytes, name, static_cast<int>(shape[1]), static_cast<int>(shape[2]));
  return prepared(config, shape, image.original_width, image.original_height, image.original_channels,
                  std::move(image.pixels));
}

}  // namespace

PreparedImage prepare_image_file(const std::string& path, const nlohmann::json& run_config,
                                 const std::vector<int64_t>& shape) {
  return prepare_encoded_image(data::read_image_bytes(path), path, run_config, shape);
}

PreparedImage ScoringModel::prepare_file(const std::string& path) const {
  return prepare_image_file(path, config_, input_shape());
}

PreparedImage ScoringModel::prepare_encoded(const std::string& bytes, const std::string& name) const {
  return prepare_encoded_image(bytes, name, config_, input_shape());
}

PreparedImage prepare_pixels_for_run(const data::PixelView& pixels, const std::string& name,
                                     const nlohmann::json& run_config, const std::vector<int64_t>& shape) {
  check_shape_readable(run_config, shape, name);
  check_float_pixels(pixels, name);
  if (reads_as_folder_data(run_config, shape)) {
    auto file = data::convert_pixels(pixels, name, {static_cast<int>(shape[0]), static_cast<int>(shape[1])});
    return prepared(run_config, shape, pixels.width, pixels.height, pixels.channels, std::move(file.pixels));
  }
  auto image = data::grayscale_pixels(pixels, name, static_cast<int>(shape[1]), static_cast<int>(shape[2]));
  return prepared(run_config, shape, pixels.width, pixels.height, pixels.channels, std::move(image.pixels));
}

PreparedImage ScoringModel::prepare_pixels(const data::PixelView& pixels, const std::string& name) const {
  return prepare_pixels_for_run(pixels, name, config_, input_shape());
}

std::vector<Verdict> ScoringModel::score(const at::Tensor& images, bool with_maps) const {
  torch::NoGradGuard no_grad;  // per thread: each caller's thread needs its own
  const bool maps = with_maps && has_maps_;
  std::vector<Verdict> verdicts;
  verdicts.reserve(static_cast<size_t>(images.size(0)));
  for (int64_t start = 0; start < images.size(0); start += kScoreBatch) {
    const auto batch = images.narrow(0, start, std::min(kScoreBatch, images.size(0) - start)).to(detector_->device());
    const auto scores = detector_->score(batch).to(torch::kCPU).contiguous();
    at::Tensor batch_maps;
    if (maps) batch_maps = detector_->anomaly_map(batch)->to(torch::kCPU, torch::kFloat).contiguous();
    const auto* values = scores.data_ptr<double>();
    for (int64_t i = 0; i < scores.size(0); ++i) {
      verdicts.push_back({values[i], values[i] > threshold_, maps ? batch_maps[i] : at::Tensor()});
    }
  }
  if (images.size(0) == 0) detector_->score(images.to(detector_->device()));  // the shape check of an empty batch
  return verdicts;
}

std::vector<Verdict> ScoringModel::score(const std::vector<PreparedImage>& images, bool with_maps) const {
  if (images.empty()) return {};
  std::vector<at::Tensor> pixels;
  pixels.reserve(images.size());
  for (const auto& image : images) pixels.push_back(image.pixels);
  return score(torch::stack(pixels), with_maps);
}

}  // namespace oneclass
