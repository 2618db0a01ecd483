#pragma once
// A synthetic inspection data set in the MVTec AD layout, for the tests and the README's
// walk-through: real photographs of surfaces where Debian ships them (GIMP's texture patterns,
// scikit-image's sample textures), cut into varied crops (position, rotation, scale, brightness),
// procedural textures where none is installed; defects painted with their exact masks. Seeded:
// the same seed and options give byte-identical files.
#include <cstdint>
#include <string>
#include <vector>

namespace oneclass::data {

struct DemoDataOptions {
  std::string folder;                   // written as <folder>/<category>/{train,test,ground_truth}/...
  uint64_t seed = 0;
  int size = 256;                       // side of every image
  std::vector<std::string> categories;  // empty = all of demo_categories()
  int train_images = 40;                // defect-free, per category
  int good_test_images = 10;            // per category
  int defect_images = 5;                // per defect kind and category
  /// Folders searched for the photographs; empty = where Debian installs them (gimp-data,
  /// python3-skimage). A category whose photograph is in none of them is made procedural.
  std::vector<std::string> texture_dirs;
  /// Replace categories already in `folder`; only folders that make_demo_data wrote (they hold a
  /// marker file, .oneclass-demo-data) are ever deleted.
  bool overwrite = false;
};

struct DemoCategory {
  std::string name;                       // "wood", "marble", "leather", "gravel"
  int channels = 3;
  std::vector<std::string> defect_kinds;  // e.g. {"scratch", "hole", "contamination"}
  std::string photograph;                 // relative path of its photograph in a texture folder
};
const std::vector<DemoCategory>& demo_categories();

struct DemoCategoryWritten {
  std::string name;
  std::string source;  // the photograph's path, or "procedural"
  int files = 0;       // images and masks
  uintmax_t bytes = 0;
};

/// Writes the data set. Throws Error, before anything is written or deleted, for unknown
/// categories, bad counts or sizes, or a category folder that exists (without `overwrite`, or not
/// written by make_demo_data); and when a file cannot be written. Needs OpenCV.
std::vector<DemoCategoryWritten> make_demo_data(const DemoDataOptions& options);

/// A GIMP pattern file (.pat: big-endian header of size, version 1, width, height, bytes per
/// pixel, "GPAT", a name, then raw pixels): pixels row-major, `channels` per pixel (1 grey,
/// 2 grey + alpha, 3 RGB, 4 RGBA). Every header field is checked against the file before anything
/// is allocated; throws Error naming the file.
struct GimpPattern {
  int width = 0, height = 0, channels = 0;
  std::string name;
  std::vector<uint8_t> pixels;
};
GimpPattern read_gimp_pattern(const std::string& path);

}  // namespace oneclass::data
