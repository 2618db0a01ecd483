#include "oneclass/detectors/detector.h"

#include "detectors/stored_shape.h"

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
  detector.save_state(archive);
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
    detector->load_state(archive, device);
    return detector;
  } catch (const Error& e) {
    throw Error(path + ": " + e.what() + "; train it again with `oneclass run`");
  } catch (const c10::Error& e) {
    throw Error(path + ": damaged " + name + " state (" + e.msg().substr(0, 200) + "); train it again");
  }
}

void require_fitted_shape(const std::string& detector, const at::Tensor& images, const std::vector<int64_t>& fitted) {
  if (images.sizes().slice(1).equals(fitted)) return;
  throw Error(detector + ": images of shape " + c10::str(images.sizes().slice(1)) + ", but it was fitted on " +
              c10::str(fitted) + "; give images of that shape (`oneclass score` converts and resizes image files)");
}

// Bounds far above any image a detector here is fitted on; they keep C * H * W and the networks'
// layer sizes computed from it well inside int64.
constexpr int64_t kMaxChannels = 64, kMaxSide = 1 << 14;

void write_input_shape(torch::serialize::OutputArchive& archive, const std::vector<int64_t>& shape) {
  archive.write("input_shape", torch::tensor(shape, torch::kLong));
}

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
    throw Error(detector + ": stored input shape " + c10::str(values) + " is out of bounds (1-" +
                std::to_string(kMaxChannels) + " channels, sides 1-" + std::to_string(kMaxSide) + ")");
  }
  return values;
}

}  // namespace oneclass
