#include "oneclass/detectors/detector.h"

#include <filesystem>

#include <torch/torch.h>

#include "oneclass/detectors/registry.h"
#include "oneclass/error.h"
#include "oneclass/util/atomic_file.h"

namespace oneclass {
namespace {

constexpr const char* kMagic = "oneclass-detector";
constexpr int64_t kFormatVersion = 1;

std::string read_string(torch::serialize::InputArchive& archive, const std::string& key, const std::string& path) {
  c10::IValue value;
  if (!archive.try_read(key, value) || !value.isString()) {
    throw Error(path + ": not a oneclass detector file (no '" + key + "' entry); give the detector.pt of a run folder");
  }
  return value.toStringRef();
}

}  // namespace

void save_detector(const Detector& detector, const std::string& path) {
  torch::serialize::OutputArchive archive;
  archive.write("oneclass_magic", c10::IValue(std::string(kMagic)));
  archive.write("oneclass_format", c10::IValue(kFormatVersion));
  archive.write("oneclass_detector", c10::IValue(detector.name()));
  archive.write("oneclass_options", c10::IValue(detector.options().dump()));
  detector.save(archive);
  write_atomically_with(path, [&](const std::string& temp) { archive.save_to(temp); });
}

std::unique_ptr<Detector> load_detector(const std::string& path, const c10::Device& device) {
  if (!std::filesystem::is_regular_file(path)) throw Error(path + ": no such detector file; run `oneclass run` first");
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(path, device);
  } catch (const c10::Error& e) {
    throw Error(path + ": not a oneclass detector file, or it is damaged (" + e.msg().substr(0, 200) +
                "); train it again with `oneclass run`");
  }
  if (read_string(archive, "oneclass_magic", path) != kMagic) throw Error(path + ": not a oneclass detector file");
  c10::IValue version;
  if (!archive.try_read("oneclass_format", version) || !version.isInt()) {
    throw Error(path + ": damaged detector file (no format version); train it again with `oneclass run`");
  }
  if (version.toInt() > kFormatVersion) {
    throw Error(path + ": written by a newer oneclass (format " + std::to_string(version.toInt()) +
                "); upgrade oneclass to read it");
  }
  const std::string name = read_string(archive, "oneclass_detector", path);
  nlohmann::json options;
  try {
    options = nlohmann::json::parse(read_string(archive, "oneclass_options", path));
  } catch (const nlohmann::json::exception&) {
    throw Error(path + ": damaged detector options; train it again with `oneclass run`");
  }
  try {
    auto detector = make_detector(name, options);
    detector->load(archive, device);
    return detector;
  } catch (const Error& e) {
    throw Error(path + ": " + e.what() + "; train it again with `oneclass run`");
  } catch (const c10::Error& e) {
    throw Error(path + ": damaged " + name + " state (" + e.msg().substr(0, 200) + "); train it again");
  }
}

namespace {

// Bounds far above any image a detector here is fitted on; they keep C * H * W and the networks'
// layer sizes computed from it well inside int64.
constexpr int64_t kMaxChannels = 64, kMaxSide = 1 << 14;

// The stored input shape is part of a file a user hands us: checked before anything is sized
// from it, and read on the CPU whatever device the detector is loaded to.
std::vector<int64_t> read_input_shape(torch::serialize::InputArchive& archive, const std::string& detector) {
  at::Tensor stored;
  archive.read("input_shape", stored);
  const auto shape = stored.to(torch::kCPU).contiguous();
  if (shape.dim() != 1 || shape.numel() != 3 || shape.scalar_type() != torch::kLong) {
    throw Error(detector + ": stored input shape " + c10::str(shape.sizes()) + " is not [C, H, W]");
  }
  const std::vector<int64_t> values(shape.data_ptr<int64_t>(), shape.data_ptr<int64_t>() + 3);
  if (values[0] < 1 || values[0] > kMaxChannels || values[1] < 1 || values[1] > kMaxSide || values[2] < 1 ||
      values[2] > kMaxSide) {
    throw Error(detector + ": stored input shape " + c10::str(c10::IntArrayRef(values)) + " is out of bounds (1-" +
                std::to_string(kMaxChannels) + " channels, sides 1-" + std::to_string(kMaxSide) + ")");
  }
  return values;
}

}  // namespace

Detector::Detector(std::string name, nlohmann::json options) : name_(std::move(name)), options_(std::move(options)) {}

int64_t Detector::input_size() const {
  int64_t size = 1;
  for (const int64_t side : input_shape_) size *= side;
  return input_shape_.empty() ? 0 : size;
}

void Detector::begin_fit(const at::Tensor& normal_images, const FitContext& context) {
  if (normal_images.dim() != 4 || normal_images.size(0) == 0) {
    throw Error(name_ + ": training images must be a non-empty batch [N, C, H, W], got " +
                c10::str(normal_images.sizes()));
  }
  device_ = context.device;
  input_shape_ = normal_images.sizes().slice(1).vec();
  try {
    prepare(normal_images, context);
  } catch (...) {
    input_shape_.clear();  // a detector whose preparation failed is not fitted
    throw;
  }
}

void Detector::require_input(const at::Tensor& images) const {
  if (input_shape_.empty()) {
    throw Error(name_ + ": not fitted yet; fit it (oneclass run) or load a trained one (detector.pt of a run folder)");
  }
  if (images.dim() == 4 && images.sizes().slice(1).equals(input_shape_)) return;
  throw Error(name_ + ": images of shape " + c10::str(images.sizes().slice(std::min<int64_t>(1, images.dim()))) +
              ", but it was fitted on " + c10::str(c10::IntArrayRef(input_shape_)) +
              "; give images of that shape (`oneclass score` converts and resizes image files)");
}

at::Tensor Detector::score(const at::Tensor& images) {
  require_input(images);
  if (images.size(0) == 0) return torch::zeros({0}, torch::TensorOptions(torch::kDouble).device(device_));
  return score_batch(images);
}

// An empty batch still says whether the detector has the output, and its shape: the answer for
// one blank image, with no rows.
std::optional<at::Tensor> Detector::reconstruct(const at::Tensor& images) {
  require_input(images);
  if (images.size(0) > 0) return reconstruct_batch(images);
  auto one = reconstruct_batch(torch::zeros({1, input_shape_[0], input_shape_[1], input_shape_[2]}, images.options()));
  return one ? std::optional<at::Tensor>(one->narrow(0, 0, 0)) : std::nullopt;
}

std::optional<at::Tensor> Detector::anomaly_map(const at::Tensor& images) {
  require_input(images);
  if (images.size(0) > 0) return anomaly_map_batch(images);
  auto one = anomaly_map_batch(torch::zeros({1, input_shape_[0], input_shape_[1], input_shape_[2]}, images.options()));
  return one ? std::optional<at::Tensor>(one->narrow(0, 0, 0)) : std::nullopt;
}

void Detector::save(torch::serialize::OutputArchive& archive) const {
  if (input_shape_.empty()) throw Error(name_ + ": not fitted yet; there is nothing to save");
  archive.write("input_shape", torch::tensor(input_shape_, torch::kLong));
  save_state(archive);
}

void Detector::load(torch::serialize::InputArchive& archive, const c10::Device& device) {
  device_ = device;
  input_shape_ = read_input_shape(archive, name_);
  try {
    load_state(archive);
  } catch (...) {
    input_shape_.clear();  // nothing half-loaded passes for a fitted detector
    throw;
  }
}

}  // namespace oneclass
