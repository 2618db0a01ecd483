#include "oneclass/data/split.h"

#include <algorithm>
#include <set>
#include <sstream>

#include <torch/torch.h>

#include "oneclass/error.h"
#include "oneclass/util/random_streams.h"

namespace oneclass::data {
namespace {

int parse_label(const std::string& raw, const std::string& whole, int max_label) {
  const auto first = raw.find_first_not_of(' ');
  const std::string token = first == std::string::npos ? "" : raw.substr(first, raw.find_last_not_of(' ') - first + 1);
  size_t used = 0;
  int value = -1;
  try {
    value = std::stoi(token, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != token.size() || token.empty() || value < 0 || value > max_label) {
    throw Error("labels '" + whole + "': '" + token + "' is not a label in 0-" + std::to_string(max_label) +
                " (write e.g. 1 or 1,7 or 0-4)");
  }
  return value;
}

// Rows of `labels` whose label is in `wanted`, as an int64 index tensor.
at::Tensor rows_with_labels(const at::Tensor& labels, const std::vector<int>& wanted) {
  auto mask = torch::zeros_like(labels, torch::kBool);
  for (int label : wanted) mask |= labels.eq(label);
  return mask.nonzero().squeeze(1);
}

at::Tensor to_float_images(const at::Tensor& uint8_images) {
  return uint8_images.unsqueeze(1).to(torch::kFloat).div_(255.0);  // [N, 1, H, W] in [0, 1]
}

}  // namespace

std::vector<int> parse_labels(const std::string& text, int max_label) {
  std::set<int> labels;
  std::stringstream parts(text + ",");  // the sentinel makes a trailing comma an empty part
  std::string part;
  while (std::getline(parts, part, ',')) {
    const auto dash = part.find('-');
    if (dash == std::string::npos) {
      labels.insert(parse_label(part, text, max_label));
      continue;
    }
    const int first = parse_label(part.substr(0, dash), text, max_label);
    const int last = parse_label(part.substr(dash + 1), text, max_label);
    if (first > last) throw Error("labels '" + text + "': range " + part + " runs backwards");
    for (int label = first; label <= last; ++label) labels.insert(label);
  }
  if (labels.empty()) throw Error("labels '" + text + "': no label given (write e.g. 1 or 1,7 or 0-4)");
  return {labels.begin(), labels.end()};
}

std::string format_labels(const std::vector<int>& labels) {
  std::string text;
  for (int label : labels) text += (text.empty() ? "" : ",") + std::to_string(label);
  return text;
}

namespace {

// Semi-supervised detectors see a few labelled anomalies: drawn uniformly, with the seed, from the
// training images of all anomaly classes (the test images stay unseen).
at::Tensor draw_labeled_anomalies(const Dataset& dataset, const std::vector<int>& anomaly, const SplitOptions& options) {
  const auto rows = rows_with_labels(dataset.train.labels, anomaly);
  if (options.labeled_anomalies < 0 || options.labeled_anomalies > rows.numel()) {
    throw Error("--labeled-anomalies " + std::to_string(options.labeled_anomalies) + " (option labeled_anomalies) must be "
                "between 0 and " + std::to_string(rows.numel()) + ", the training images of the anomaly classes in " +
                dataset.name + "; lower it");
  }
  auto generator = random_stream(options.seed, RandomStream::labeled_anomalies);
  const auto chosen = torch::randperm(rows.numel(), generator, torch::kLong).narrow(0, 0, options.labeled_anomalies);
  return to_float_images(dataset.train.images.index_select(0, rows.index_select(0, chosen)));
}

}  // namespace

OneClassSplit make_one_class_split(const Dataset& dataset, const SplitOptions& options) {
  if (options.val_fraction < 0 || options.val_fraction > 0.9) {
    throw Error("--val-fraction " + std::to_string(options.val_fraction) + " must be in [0, 0.9]");
  }
  OneClassSplit split;
  split.normal = options.normal;
  split.anomaly = options.anomaly;
  if (split.anomaly.empty()) {
    for (int label = 0; label <= dataset.train.labels.max().item<int>(); ++label) {
      if (std::find(split.normal.begin(), split.normal.end(), label) == split.normal.end()) split.anomaly.push_back(label);
    }
  }
  for (int label : split.anomaly) {
    if (std::find(split.normal.begin(), split.normal.end(), label) != split.normal.end()) {
      throw Error("label " + std::to_string(label) + " is both --normal and --anomaly; give each label one role");
    }
  }

  auto normal_rows = rows_with_labels(dataset.train.labels, split.normal);
  if (normal_rows.numel() == 0) {
    throw Error("no training images with --normal " + format_labels(split.normal) + " in " + dataset.name);
  }
  // Seeded shuffle, then the first val_fraction of the normal images is held out.
  auto generator = random_stream(options.seed, RandomStream::normal_split);
  normal_rows = normal_rows.index_select(0, torch::randperm(normal_rows.numel(), generator, torch::kLong));
  const int64_t n_val = static_cast<int64_t>(std::llround(options.val_fraction * static_cast<double>(normal_rows.numel())));
  auto normal_images = to_float_images(dataset.train.images.index_select(0, normal_rows));
  split.val = normal_images.narrow(0, 0, n_val);
  split.train = normal_images.narrow(0, n_val, normal_rows.numel() - n_val);

  split.labeled_anomalies = draw_labeled_anomalies(dataset, split.anomaly, options);

  std::vector<int> test_labels = split.normal;
  test_labels.insert(test_labels.end(), split.anomaly.begin(), split.anomaly.end());
  split.test_index = rows_with_labels(dataset.test.labels, test_labels);
  split.test_labels = dataset.test.labels.index_select(0, split.test_index);
  split.test = to_float_images(dataset.test.images.index_select(0, split.test_index));
  const auto anomaly_rows = rows_with_labels(split.test_labels, split.anomaly);
  split.test_is_anomaly = torch::zeros_like(split.test_labels).index_fill_(0, anomaly_rows, 1);
  for (int label : test_labels) {
    if (split.test_labels.eq(label).sum().item<int64_t>() == 0) {
      throw Error("no test images with label " + std::to_string(label) + " in " + dataset.name);
    }
  }
  return split;
}

}  // namespace oneclass::data
