#pragma once
// IDX files (the MNIST / Fashion-MNIST format), gzipped or not. Every header field is checked
// against the file before anything is allocated, and every failure names the file.
#include <string>

#include <ATen/core/Tensor.h>

#include "oneclass/data/datasets.h"

namespace oneclass::data {

/// uint8 tensor [N, rows, cols] from an idx3-ubyte file (magic 0x00000803).
at::Tensor read_idx_images(const std::string& path);
/// int64 tensor [N] from an idx1-ubyte file (magic 0x00000801).
at::Tensor read_idx_labels(const std::string& path);

struct LabelledImages {
  at::Tensor images;  // uint8 [N, H, W]
  at::Tensor labels;  // int64 [N]
};
/// Reads an image file and its label file and checks that the counts agree.
LabelledImages read_idx_pair(const std::string& images_path, const std::string& labels_path);

struct Dataset {
  std::string name;
  LabelledImages train, test;
};
/// Locates (and if needed downloads) a named data set, then reads its four files.
Dataset load_dataset(const DatasetQuery& query);

}  // namespace oneclass::data
