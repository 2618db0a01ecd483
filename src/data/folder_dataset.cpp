// Folder data sets; see include/oneclass/data/folder_dataset.h.
#include "oneclass/data/folder_dataset.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>

#include <torch/torch.h>

#include "oneclass/data/images.h"
#include "oneclass/error.h"
#include "oneclass/util/random_streams.h"

namespace oneclass::data {
namespace {

namespace fs = std::filesystem;

bool is_folder(const fs::path& path) {
  std::error_code ec;
  return fs::is_directory(path, ec);
}

// Image files directly inside `folder`, sorted by name (so a data set's order is the same on every machine).
std::vector<std::string> image_files_in(const fs::path& folder) {
  std::vector<std::string> files;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(folder, ec)) {
    if (entry.is_regular_file(ec) && has_image_extension(entry.path().string())) files.push_back(entry.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<std::string> subfolders_of(const fs::path& folder) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(folder, ec)) {
    if (entry.is_directory(ec)) names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

bool has_mvtec_layout(const fs::path& root) { return is_folder(root / "train" / "good") && is_folder(root / "test"); }
bool has_pair_layout(const fs::path& root) { return is_folder(root / "normal") && is_folder(root / "abnormal"); }

// The masks in a folder by the stem of the image they belong to: "000_mask.png" and "000.png"
// both belong to 000.*. Listed once per folder, not once per image.
std::map<std::string, std::string> masks_by_stem(const fs::path& masks) {
  std::map<std::string, std::string> found;
  for (const std::string& file : image_files_in(masks)) {
    std::string stem = fs::path(file).stem().string();
    const std::string suffix = "_mask";
    if (stem.size() > suffix.size() && stem.compare(stem.size() - suffix.size(), suffix.size(), suffix) == 0) {
      stem.erase(stem.size() - suffix.size());
    }
    found.emplace(stem, file);
  }
  return found;
}

std::string mask_of(const std::map<std::string, std::string>& masks, const std::string& image) {
  const auto it = masks.find(fs::path(image).stem().string());
  return it == masks.end() ? "" : it->second;
}

FolderCategory mvtec_category(const fs::path& root) {
  FolderCategory c;
  c.root = root.string();
  c.name = root.filename().string();
  c.layout = FolderLayout::kMvtec;
  c.train = image_files_in(root / "train" / "good");
  c.has_masks = is_folder(root / "ground_truth");
  c.label_names = {"good"};
  for (const std::string& type : subfolders_of(root / "test")) {
    if (type != "good") c.label_names.push_back(type);
  }
  for (size_t label = 0; label < c.label_names.size(); ++label) {
    const auto masks = label > 0 && c.has_masks ? masks_by_stem(root / "ground_truth" / c.label_names[label])
                                                : std::map<std::string, std::string>{};
    for (const std::string& file : image_files_in(root / "test" / c.label_names[label])) {
      c.test.push_back({file, static_cast<int>(label), mask_of(masks, file)});
    }
  }
  return c;
}

FolderCategory pair_category(const fs::path& root) {
  FolderCategory c;
  c.root = root.string();
  c.name = root.filename().string();
  c.layout = FolderLayout::kPair;
  c.train = image_files_in(root / "normal");
  c.has_masks = is_folder(root / "masks");
  c.label_names = {"good", "abnormal"};
  const auto masks = c.has_masks ? masks_by_stem(root / "masks") : std::map<std::string, std::string>{};
  for (const std::string& file : image_files_in(root / "abnormal")) c.test.push_back({file, 1, mask_of(masks, file)});
  return c;
}

std::optional<FolderCategory> category_at(const fs::path& root) {
  if (has_mvtec_layout(root)) return mvtec_category(root);
  if (has_pair_layout(root)) return pair_category(root);
  return std::nullopt;
}

std::string listing(const std::vector<std::string>& names) {
  if (names.empty()) return "nothing";
  std::string text;
  for (size_t i = 0; i < names.size() && i < 12; ++i) text += (i ? ", " : "") + names[i];
  if (names.size() > 12) text += ", ... (" + std::to_string(names.size()) + " in all)";
  return text;
}

}  // namespace

std::vector<FolderCategory> find_folder_categories(const std::string& root) {
  const fs::path path(root);
  if (!is_folder(path)) throw Error("--data " + root + ": no such folder");
  if (auto category = category_at(path)) return {*category};
  std::vector<FolderCategory> categories;
  for (const std::string& name : subfolders_of(path)) {
    if (auto category = category_at(path / name)) categories.push_back(*category);
  }
  if (categories.empty()) {
    throw Error("--data " + root + " holds " + listing(subfolders_of(path)) +
                " (folders); expected the MVTec AD layout (train/good/, test/good/, test/<defect>/, optional "
                "ground_truth/<defect>/), the pair layout (normal/, abnormal/, optional masks/), or a folder of such "
                "categories");
  }
  return categories;
}

const FolderCategory& pick_category(const std::vector<FolderCategory>& categories, const std::string& name) {
  std::vector<std::string> names;
  for (const auto& c : categories) names.push_back(c.name);
  if (name.empty()) {
    if (categories.size() == 1) return categories.front();
    throw Error("the data folder holds " + std::to_string(categories.size()) + " categories (" + listing(names) +
                "); pick one with --category");
  }
  for (const auto& c : categories) {
    if (c.name == name) return c;
  }
  throw Error("--category " + name + ": not among the categories found (" + listing(names) + ")");
}

namespace {

int resolve_channels(const std::vector<std::string>& train, int asked) {
  if (asked == 1 || asked == 3) return asked;
  if (asked != 0) throw Error("--channels " + std::to_string(asked) + ": give 1 (grey) or 3 (colour)");
  // A few files decide: a category is grey or colour throughout (MVTec AD: grid, screw, zipper grey).
  for (size_t i = 0; i < train.size() && i < 8; ++i) {
    try {
      if (image_file_channels(train[i]) == 3) return 3;
    } catch (const Error&) {
      // reported when the images are read
    }
  }
  return 1;
}

void report_skip(std::vector<SkippedFile>& skipped, const std::string& path, std::string reason) {
  if (reason.rfind(path + ": ", 0) == 0) reason.erase(0, path.size() + 2);  // errors start with the path
  std::fprintf(stderr, "warning: skipped %s: %s\n", path.c_str(), reason.c_str());
  skipped.push_back({path, reason});
}

// The images that could be read, stacked [N, C, S, S] into one tensor allocated once.
struct ReadImages {
  at::Tensor pixels;
  std::vector<size_t> kept;  // positions in the file list
  std::vector<std::pair<int, int>> original_sizes;
};

ReadImages read_all(const std::vector<std::string>& files, const ImageGeometry& geometry,
                    std::vector<SkippedFile>& skipped) {
  ReadImages read;
  read.pixels = torch::empty({static_cast<int64_t>(files.size()), geometry.channels, geometry.size, geometry.size});
  for (size_t i = 0; i < files.size(); ++i) {
    try {
      const ImageFile image = read_image_file(files[i], geometry);
      read.pixels[static_cast<int64_t>(read.kept.size())].copy_(image.pixels);
      read.kept.push_back(i);
      read.original_sizes.emplace_back(image.original_height, image.original_width);
    } catch (const Error& e) {
      report_skip(skipped, files[i], e.what());
    }
  }
  read.pixels = read.pixels.narrow(0, 0, static_cast<int64_t>(read.kept.size()));
  return read;
}

std::vector<std::string> paths_of(const std::vector<LabelledFile>& files) {
  std::vector<std::string> paths;
  for (const auto& f : files) paths.push_back(f.path);
  return paths;
}

// Pair layout: a seeded share of the normal images becomes the normal part of the test set.
void split_pair_normals(FolderCategory& category, double test_fraction, at::Generator& generator) {
  const auto order = torch::randperm(static_cast<int64_t>(category.train.size()), generator, torch::kLong);
  const auto n_test = static_cast<int64_t>(std::llround(test_fraction * static_cast<double>(category.train.size())));
  std::vector<std::string> train;
  std::vector<LabelledFile> test;
  for (int64_t i = 0; i < order.numel(); ++i) {
    const std::string& file = category.train[static_cast<size_t>(order[i].item<int64_t>())];
    if (i < n_test) {
      test.push_back({file, 0, ""});
    } else {
      train.push_back(file);
    }
  }
  std::sort(train.begin(), train.end());
  std::sort(test.begin(), test.end(), [](const auto& a, const auto& b) { return a.path < b.path; });
  test.insert(test.end(), category.test.begin(), category.test.end());
  category.train = std::move(train);
  category.test = std::move(test);
}

// Masks of the kept test images: zeros for good ones, the file for defects; unknown when missing.
void read_masks(const FolderCategory& category, const ReadImages& test, int size, OneClassSplit& split,
                std::vector<SkippedFile>& skipped) {
  const auto count = static_cast<int64_t>(test.kept.size());
  split.test_masks = torch::zeros({count, size, size}, torch::kUInt8);
  split.test_mask_known = torch::ones({count}, torch::kBool);
  for (int64_t t = 0; t < count; ++t) {
    const LabelledFile& file = category.test[test.kept[static_cast<size_t>(t)]];
    if (file.label == 0) continue;
    if (file.mask.empty()) {
      report_skip(skipped, file.path, "no mask found; scored, but left out of the pixel metrics");
      split.test_mask_known[t] = false;
      continue;
    }
    try {
      const auto [height, width] = test.original_sizes[static_cast<size_t>(t)];
      split.test_masks[t].copy_(read_mask_file(file.mask, size, height, width));
    } catch (const Error& e) {
      report_skip(skipped, file.mask, std::string(e.what()) + "; its image is left out of the pixel metrics");
      split.test_mask_known[t] = false;
    }
  }
}

}  // namespace

FolderSplit load_folder_split(const FolderCategory& given, const FolderOptions& options) {
  if (options.val_fraction < 0 || options.val_fraction > 0.9) {
    throw Error("--val-fraction " + std::to_string(options.val_fraction) + " must be in [0, 0.9]");
  }
  FolderCategory category = given;
  // One generator for both draws: the pair layout's test normals, then the held-out images.
  auto generator = random_stream(options.seed, RandomStream::normal_split);
  if (category.layout == FolderLayout::kPair) split_pair_normals(category, options.pair_test_fraction, generator);
  FolderSplit result;
  result.channels = resolve_channels(category.train, options.channels);
  const ImageGeometry geometry{result.channels, options.image_size};

  // Shuffled before reading, so that the held-out and the training images are two views of one
  // tensor: the images are held once.
  std::vector<std::string> shuffled;
  const auto order = torch::randperm(static_cast<int64_t>(category.train.size()), generator, torch::kLong);
  for (int64_t i = 0; i < order.numel(); ++i) shuffled.push_back(category.train[order[i].item<int64_t>()]);
  const ReadImages train = read_all(shuffled, geometry, result.skipped);
  if (train.kept.size() < 2) {
    throw Error(category.root + ": " + std::to_string(train.kept.size()) + " readable training images of " +
                std::to_string(category.train.size()) + "; a detector needs at least 2 normal images to learn from");
  }
  OneClassSplit& split = result.split;
  const int64_t n = train.pixels.size(0);
  // At least one image held out when asked for, and at least one left to train on.
  const int64_t n_val = options.val_fraction > 0
                            ? std::clamp<int64_t>(std::llround(options.val_fraction * static_cast<double>(n)), 1, n - 1)
                            : 0;
  split.val = train.pixels.narrow(0, 0, n_val);
  split.train = train.pixels.narrow(0, n_val, n - n_val);
  split.labeled_anomalies = torch::empty({0, geometry.channels, geometry.size, geometry.size});

  const ReadImages test = read_all(paths_of(category.test), geometry, result.skipped);
  split.test = test.pixels;
  std::vector<int64_t> labels, is_anomaly, index;
  for (size_t kept : test.kept) {
    labels.push_back(category.test[kept].label);
    is_anomaly.push_back(category.test[kept].label > 0 ? 1 : 0);
    index.push_back(static_cast<int64_t>(kept));
    result.split.test_files.push_back(category.test[kept].path);
  }
  split.test_labels = torch::tensor(labels, torch::kLong);
  split.test_is_anomaly = torch::tensor(is_anomaly, torch::kLong);
  split.test_index = torch::tensor(index, torch::kLong);
  split.label_names = category.label_names;
  split.normal = {0};
  for (int label = 1; label < static_cast<int>(category.label_names.size()); ++label) split.anomaly.push_back(label);
  const auto anomalies = std::count(is_anomaly.begin(), is_anomaly.end(), 1);
  if (anomalies == 0 || anomalies == static_cast<std::ptrdiff_t>(is_anomaly.size())) {
    throw Error(category.root + ": the test set holds " + std::to_string(is_anomaly.size() - anomalies) +
                " good and " + std::to_string(anomalies) + " defect images that could be read; it needs both");
  }
  if (category.has_masks) read_masks(category, test, geometry.size, split, result.skipped);
  return result;
}

}  // namespace oneclass::data
