#pragma once
// The one-class protocol: train only on normal classes; hold out a fraction of the normal
// training images (never trained on) to calibrate the threshold; test on normal + anomaly classes.
#include <cstdint>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "oneclass/data/idx.h"

namespace oneclass::data {

/// Parses "1", "1,7", "0-9", "0-4,8". Throws Error naming the text on anything else or a label
/// outside [0, max_label].
std::vector<int> parse_labels(const std::string& text, int max_label = 9);
/// "1,7" for {1, 7}.
std::string format_labels(const std::vector<int>& labels);

struct SplitOptions {
  std::vector<int> normal;
  std::vector<int> anomaly;     // empty = every label not in `normal`
  double val_fraction = 0.1;    // of the normal training images, held out for calibration
  int64_t labeled_anomalies = 0;  // training images of anomaly classes drawn for semi-supervised detectors
  uint64_t seed = 0;
};

struct OneClassSplit {
  at::Tensor train;             // float [N, 1, H, W] in [0, 1], normal images
  at::Tensor val;               // float [M, 1, H, W], held-out normal images
  at::Tensor labeled_anomalies; // float [K, 1, H, W], training images of anomaly classes (K may be 0)
  at::Tensor test;              // float [T, 1, H, W]
  at::Tensor test_labels;       // int64 [T], original class labels
  at::Tensor test_is_anomaly;   // int64 [T], 1 for anomaly classes
  at::Tensor test_index;        // int64 [T], position in the data set's test split
  at::Tensor test_masks;        // uint8 [T, H, W], 1 = defect pixel; undefined when the data set has none
  at::Tensor test_mask_known;   // bool [T], whether test image t's mask is known (with test_masks)
  std::vector<std::string> label_names;  // names of the labels (folder data: "good", defects); else empty
  std::vector<std::string> test_files;   // folder data: the file of each test image; else empty
  std::vector<int> normal, anomaly;  // resolved label lists
};

/// Throws Error if a label is in both lists, a class has no images, val_fraction is outside
/// [0, 0.9], or the anomaly classes have fewer training images than labeled_anomalies.
OneClassSplit make_one_class_split(const Dataset& dataset, const SplitOptions& options);

}  // namespace oneclass::data
