#pragma once
// A user's own images as a one-class data set. Two layouts are recognised:
//   MVTec AD:  train/good/*, test/good/*, test/<defect>/*, optionally ground_truth/<defect>/<name>_mask.*
//   pair:      normal/*, abnormal/*, optionally masks/<name>[_mask].* (for the abnormal images);
//              the normal images are split into train and test with the seed.
// A root that holds neither but has subfolders that do (a copy of MVTec AD or VisA) is a set of
// categories, one data set each. Only files with an image extension are listed.
#include <cstdint>
#include <string>
#include <vector>

#include "oneclass/data/image_files.h"
#include "oneclass/data/split.h"

namespace oneclass::data {

enum class FolderLayout { kMvtec, kPair };

struct LabelledFile {
  std::string path;
  int label = 0;     // 0 = good, k = defect type k (FolderCategory::label_names[k])
  std::string mask;  // mask file, "" when none
};

struct FolderCategory {
  std::string name;                      // the folder's name, e.g. "bottle"
  std::string root;                      // the folder itself
  FolderLayout layout = FolderLayout::kMvtec;
  std::vector<std::string> label_names;  // "good" first, then the defect types, sorted
  std::vector<std::string> train;        // normal images to train on (pair layout: every normal image)
  std::vector<LabelledFile> test;        // pair layout: the abnormal images only, until the split
  bool has_masks = false;                // ground_truth/ or masks/ exists
};

/// The categories at `root`: [root] when it holds a layout itself, else every immediate subfolder
/// that does, sorted by name. Throws Error that says what `root` holds and which layouts are
/// expected when it holds none.
std::vector<FolderCategory> find_folder_categories(const std::string& root);

/// The category named `name` ("" = the only one). Throws Error listing the names otherwise.
const FolderCategory& pick_category(const std::vector<FolderCategory>& categories, const std::string& name);

struct FolderOptions {
  int channels = 0;               // 0 = 3 if any training image is colour, else 1
  int image_size = 256;
  double val_fraction = 0.1;      // of the training images, held out to set the threshold
  double pair_test_fraction = 0.2;  // pair layout: share of the normal images tested on
  uint64_t seed = 0;
};

struct SkippedFile {
  std::string path;
  std::string reason;
};

struct FolderSplit {
  OneClassSplit split;                  // test_masks set when the category has masks; test_files
                                        // the path of each test image, in split.test order
  std::vector<SkippedFile> skipped;     // files left out, with the reason (also in the log)
  int channels = 0;                     // as resolved
};

/// Reads the category's images into a one-class split: every image converted to the geometry,
/// masks resized with nearest neighbours (defect-free test images get empty masks). A file that
/// cannot be read, or a mask that does not fit its image, is skipped, named on stderr and listed;
/// an image in a masked category whose mask is missing keeps its place in the image metrics and
/// is left out of the pixel metrics (listed too). Throws Error when too few images remain.
FolderSplit load_folder_split(const FolderCategory& category, const FolderOptions& options);

}  // namespace oneclass::data
