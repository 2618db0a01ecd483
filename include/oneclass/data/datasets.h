#pragma once
// Named data sets (mnist, fashion-mnist): where their four IDX files are looked for, and fetching
// them when absent. Look-up order for each candidate folder <dir>/<dataset>/:
//   1. --data-dir            (DatasetQuery::data_dir)
//   2. $ONECLASS_DATA_DIR
//   3. the user cache        ($XDG_CACHE_HOME/oneclass or ~/.cache/oneclass)
//   4. for fashion-mnist:    /usr/share/datasets/fashion-mnist (Debian package dataset-fashion-mnist)
// A folder counts when it holds all four files, each gzipped (name.gz) or not.
#include <optional>
#include <string>
#include <vector>

namespace oneclass::data {

struct DatasetFile {
  std::string name;  // e.g. "train-images-idx3-ubyte" (without .gz)
  std::string md5;   // MD5 of the .gz file as published (torchvision's checksums)
};

struct DatasetInfo {
  std::string name;                     // "mnist"
  std::string description;              // one line
  std::vector<std::string> mirrors;     // base URLs tried in order; file URL = mirror + name + ".gz"
  std::vector<DatasetFile> files;       // train images, train labels, test images, test labels
  std::vector<std::string> system_dirs; // extra read-only folders (Debian packages)
};

/// The registered data sets. Throws Error listing the known names for an unknown one.
const DatasetInfo& dataset_info(const std::string& name);
std::vector<std::string> dataset_names();

struct DatasetQuery {
  std::string name;
  std::string data_dir;       // --data-dir, may be empty
  bool allow_download = true; // --no-download turns it off
  std::string mirror_override;  // when set, the only mirror used (tests point it at 127.0.0.1)
};

/// Paths of the four files, in DatasetInfo::files order, each the .gz or the raw file found.
struct DatasetFiles {
  std::string folder;
  std::string train_images, train_labels, test_images, test_labels;
};

/// Candidate folders in look-up order (for messages and tests).
std::vector<std::string> dataset_search_dirs(const DatasetQuery& query);

/// Finds the data set; downloads it into the user cache when absent and allowed. Throws Error that
/// says which files are missing, every folder looked in, and how to provide them.
DatasetFiles locate_dataset(const DatasetQuery& query);

/// The user cache folder ($XDG_CACHE_HOME/oneclass, else $HOME/.cache/oneclass).
std::string user_cache_dir();

}  // namespace oneclass::data
