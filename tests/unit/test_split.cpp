// The one-class protocol: label lists, and the train / held-out / test split on a tiny synthetic
// data set whose every image carries its own position, so each image can be traced.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "oneclass/data/idx.h"
#include "oneclass/data/split.h"
#include "oneclass/error.h"
#include "support/test_support.h"

namespace {

using oneclass::data::Dataset;
using oneclass::data::format_labels;
using oneclass::data::make_one_class_split;
using oneclass::data::OneClassSplit;
using oneclass::data::parse_labels;
using oneclass::data::SplitOptions;
using oneclass::testing_support::error_of;

// ---------------------------------------------------------------------------------------------
// parse_labels / format_labels

TEST(ParseLabels, SingleListsAndRanges) {
  EXPECT_EQ(parse_labels("1"), (std::vector<int>{1}));
  EXPECT_EQ(parse_labels("0"), (std::vector<int>{0}));
  EXPECT_EQ(parse_labels("9"), (std::vector<int>{9}));
  EXPECT_EQ(parse_labels("1,7"), (std::vector<int>{1, 7}));
  EXPECT_EQ(parse_labels("0-4,8"), (std::vector<int>{0, 1, 2, 3, 4, 8}));
  EXPECT_EQ(parse_labels("0-9"), (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  EXPECT_EQ(parse_labels("3-3"), (std::vector<int>{3}));
}

TEST(ParseLabels, SortsAndRemovesDuplicates) {
  EXPECT_EQ(parse_labels("7,1"), (std::vector<int>{1, 7}));
  EXPECT_EQ(parse_labels("2,1-3,2"), (std::vector<int>{1, 2, 3}));
}

TEST(ParseLabels, MaxLabelIsRespected) {
  EXPECT_EQ(parse_labels("12", 20), (std::vector<int>{12}));
  EXPECT_EQ(parse_labels("18-20", 20), (std::vector<int>{18, 19, 20}));
  const auto message = error_of([] { parse_labels("5", 4); });
  EXPECT_NE(message.find("'5'"), std::string::npos) << message;
  EXPECT_NE(message.find("0-4"), std::string::npos) << message;
}

TEST(ParseLabels, BadInputsNameTheText) {
  for (const std::string text : {"", "a", "10", "12", "-1", "1,,2", "1.5", "1-", "-", "4-2", "1-3-5", "one", "0x1",
                                 "1;2", "7,a"}) {
    const auto message = error_of([&] { parse_labels(text); });
    EXPECT_NE(message.find("'" + text + "'"), std::string::npos) << "for '" << text << "': " << message;
  }
}

TEST(ParseLabels, BackwardsRangeIsExplained) {
  const auto message = error_of([] { parse_labels("4-2"); });
  EXPECT_NE(message.find("backwards"), std::string::npos) << message;
}

TEST(FormatLabels, RoundTrips) {
  EXPECT_EQ(format_labels({1}), "1");
  EXPECT_EQ(format_labels({1, 7}), "1,7");
  EXPECT_EQ(format_labels({}), "");
  EXPECT_EQ(parse_labels(format_labels({0, 2, 4, 9})), (std::vector<int>{0, 2, 4, 9}));
}

// ---------------------------------------------------------------------------------------------
// make_one_class_split

// Labels 0..3. Train: 12 of label 0, 20 of label 1, 5 of label 2, 7 of label 3, interleaved.
// Test: 4, 6, 3, 5 of each. Image i (2x2) has pixel (0,0) = i and pixel (0,1) = 10 * label, so
// every split image can be traced back to its position and label.
constexpr int kTrainCounts[] = {12, 20, 5, 7};
constexpr int kTestCounts[] = {4, 6, 3, 5};

oneclass::data::LabelledImages make_part(const int (&counts)[4], int offset) {
  std::vector<int64_t> labels;
  int remaining[4] = {counts[0], counts[1], counts[2], counts[3]};
  // Round-robin so the classes are mixed; `offset` rotates the start so train and test differ.
  for (int step = 0; labels.size() < static_cast<size_t>(counts[0] + counts[1] + counts[2] + counts[3]); ++step) {
    const int label = (step + offset) % 4;
    if (remaining[label] > 0) {
      labels.push_back(label);
      --remaining[label];
    }
  }
  const auto n = static_cast<int64_t>(labels.size());
  auto images = torch::zeros({n, 2, 2}, torch::kUInt8);
  for (int64_t i = 0; i < n; ++i) {
    images[i][0][0] = i;
    images[i][0][1] = 10 * labels[i];
    images[i][1][1] = 255;
  }
  return {images, torch::tensor(labels, torch::kLong)};
}

Dataset make_dataset() {
  Dataset dataset;
  dataset.name = "tiny";
  dataset.train = make_part(kTrainCounts, 0);
  dataset.test = make_part(kTestCounts, 1);
  return dataset;
}

// Positions (pixel (0,0) * 255) of the images in a float [N, 1, 2, 2] split tensor.
std::vector<int64_t> positions(const at::Tensor& images) {
  std::vector<int64_t> out;
  for (int64_t i = 0; i < images.size(0); ++i) {
    out.push_back(std::llround(images[i][0][0][0].item<double>() * 255.0));
  }
  return out;
}

std::vector<int64_t> labels_of(const at::Tensor& images) {
  std::vector<int64_t> out;
  for (int64_t i = 0; i < images.size(0); ++i) {
    out.push_back(std::llround(images[i][0][0][1].item<double>() * 255.0) / 10);
  }
  return out;
}

SplitOptions options(std::vector<int> normal, std::vector<int> anomaly, double val_fraction, uint64_t seed) {
  SplitOptions o;
  o.normal = std::move(normal);
  o.anomaly = std::move(anomaly);
  o.val_fraction = val_fraction;
  o.seed = seed;
  return o;
}

TEST(OneClassSplit, TrainAndValAreDisjointAndHoldExactlyTheNormalTrainingImages) {
  const Dataset dataset = make_dataset();
  const OneClassSplit split = make_one_class_split(dataset, options({1, 2}, {3}, 0.2, 7));

  EXPECT_EQ(split.train.scalar_type(), torch::kFloat);
  EXPECT_EQ(split.train.dim(), 4);
  EXPECT_EQ(split.train.size(1), 1);
  // 25 normal training images (20 of label 1, 5 of label 2); 20 % of them, i.e. 5, held out.
  EXPECT_EQ(split.val.size(0), 5);
  EXPECT_EQ(split.train.size(0), 20);

  for (int64_t label : labels_of(split.train)) EXPECT_TRUE(label == 1 || label == 2) << label;
  for (int64_t label : labels_of(split.val)) EXPECT_TRUE(label == 1 || label == 2) << label;

  const auto train_positions = positions(split.train), val_positions = positions(split.val);
  std::set<int64_t> all(train_positions.begin(), train_positions.end());
  for (int64_t p : val_positions) EXPECT_TRUE(all.insert(p).second) << "image " << p << " is in train and val";
  std::set<int64_t> expected;
  const auto labels = dataset.train.labels;
  for (int64_t i = 0; i < labels.size(0); ++i) {
    if (labels[i].item<int64_t>() == 1 || labels[i].item<int64_t>() == 2) expected.insert(i);
  }
  EXPECT_EQ(all, expected);

  // The pixels are the data set's pixels scaled to [0, 1].
  for (int64_t i = 0; i < split.train.size(0); ++i) {
    const auto original = dataset.train.images[train_positions[i]].to(torch::kFloat).div(255.0);
    EXPECT_TRUE(torch::allclose(split.train[i][0], original, 0, 1e-7)) << "train image " << i;
  }
  EXPECT_FLOAT_EQ(split.train.max().item<float>(), 1.0f);
  EXPECT_GE(split.train.min().item<float>(), 0.0f);
}

TEST(OneClassSplit, ValFractionIsRespected) {
  const Dataset dataset = make_dataset();
  // label 1 alone: 20 images.
  for (const auto& [fraction, n_val] : std::vector<std::pair<double, int64_t>>{
           {0.0, 0}, {0.1, 2}, {0.25, 5}, {0.5, 10}, {0.9, 18}}) {
    const auto split = make_one_class_split(dataset, options({1}, {}, fraction, 3));
    EXPECT_EQ(split.val.size(0), n_val) << "val_fraction " << fraction;
    EXPECT_EQ(split.train.size(0), 20 - n_val) << "val_fraction " << fraction;
  }
}

TEST(OneClassSplit, TestHoldsOnlyNormalAndAnomalyLabelsWithCorrectFlags) {
  const Dataset dataset = make_dataset();
  const auto split = make_one_class_split(dataset, options({1}, {3}, 0.1, 0));
  const int64_t expected_count = kTestCounts[1] + kTestCounts[3];
  ASSERT_EQ(split.test.size(0), expected_count);
  ASSERT_EQ(split.test_labels.size(0), expected_count);
  ASSERT_EQ(split.test_is_anomaly.size(0), expected_count);
  ASSERT_EQ(split.test_index.size(0), expected_count);
  EXPECT_EQ(split.test_labels.scalar_type(), torch::kLong);
  EXPECT_EQ(split.test_is_anomaly.scalar_type(), torch::kLong);
  EXPECT_EQ(split.test_index.scalar_type(), torch::kLong);

  const auto test_positions = positions(split.test);
  const auto pixel_labels = labels_of(split.test);
  int64_t anomalies = 0;
  for (int64_t i = 0; i < expected_count; ++i) {
    const int64_t label = split.test_labels[i].item<int64_t>();
    const int64_t index = split.test_index[i].item<int64_t>();
    EXPECT_TRUE(label == 1 || label == 3) << label;
    EXPECT_EQ(split.test_is_anomaly[i].item<int64_t>(), label == 3 ? 1 : 0) << "row " << i;
    EXPECT_EQ(dataset.test.labels[index].item<int64_t>(), label) << "row " << i;
    EXPECT_EQ(test_positions[i], index) << "row " << i << ": image is not the one test_index names";
    EXPECT_EQ(pixel_labels[i], label);
    anomalies += split.test_is_anomaly[i].item<int64_t>();
  }
  EXPECT_EQ(anomalies, kTestCounts[3]);
  // test_index is in data set order, without repeats.
  for (int64_t i = 1; i < expected_count; ++i) {
    EXPECT_LT(split.test_index[i - 1].item<int64_t>(), split.test_index[i].item<int64_t>());
  }
  EXPECT_EQ(split.normal, (std::vector<int>{1}));
  EXPECT_EQ(split.anomaly, (std::vector<int>{3}));
}

TEST(OneClassSplit, DefaultAnomalyIsEveryOtherLabel) {
  const Dataset dataset = make_dataset();
  const auto split = make_one_class_split(dataset, options({2}, {}, 0.2, 0));
  EXPECT_EQ(split.anomaly, (std::vector<int>{0, 1, 3}));
  EXPECT_EQ(split.test.size(0), dataset.test.labels.size(0));
  EXPECT_TRUE(torch::equal(split.test_is_anomaly, dataset.test.labels.ne(2).to(torch::kLong)));
  EXPECT_EQ(split.test_is_anomaly.sum().item<int64_t>(), kTestCounts[0] + kTestCounts[1] + kTestCounts[3]);
}

TEST(OneClassSplit, SeveralNormalLabels) {
  const Dataset dataset = make_dataset();
  const auto split = make_one_class_split(dataset, options({0, 3}, {1}, 0.0, 0));
  EXPECT_EQ(split.train.size(0), kTrainCounts[0] + kTrainCounts[3]);
  EXPECT_EQ(split.val.size(0), 0);
  EXPECT_EQ(split.test.size(0), kTestCounts[0] + kTestCounts[3] + kTestCounts[1]);
  EXPECT_EQ(split.test_is_anomaly.sum().item<int64_t>(), kTestCounts[1]);
}

TEST(OneClassSplit, SameSeedSameSplitOtherSeedOtherSplit) {
  const Dataset dataset = make_dataset();
  const auto a = make_one_class_split(dataset, options({1}, {0}, 0.3, 42));
  const auto b = make_one_class_split(dataset, options({1}, {0}, 0.3, 42));
  const auto c = make_one_class_split(dataset, options({1}, {0}, 0.3, 43));
  EXPECT_TRUE(torch::equal(a.train, b.train));
  EXPECT_TRUE(torch::equal(a.val, b.val));
  EXPECT_TRUE(torch::equal(a.test, b.test));
  EXPECT_FALSE(torch::equal(a.val, c.val)) << "seed 43 held out the same images in the same order as seed 42";
  auto sorted = [](std::vector<int64_t> v) {
    std::sort(v.begin(), v.end());
    return v;
  };
  EXPECT_NE(sorted(positions(a.val)), sorted(positions(c.val))) << "another seed should hold out other images";
  // The test part does not depend on the seed.
  EXPECT_TRUE(torch::equal(a.test, c.test));
  EXPECT_TRUE(torch::equal(a.test_index, c.test_index));
}

TEST(OneClassSplit, LabelInBothRolesIsAnError) {
  const Dataset dataset = make_dataset();
  const auto message = error_of([&] { make_one_class_split(dataset, options({1, 2}, {2, 3}, 0.1, 0)); });
  EXPECT_NE(message.find("label 2"), std::string::npos) << message;
}

TEST(OneClassSplit, ValFractionOutOfRangeIsAnError) {
  const Dataset dataset = make_dataset();
  for (double fraction : {-0.1, 0.95, 1.0, 2.0}) {
    const auto message = error_of([&] { make_one_class_split(dataset, options({1}, {}, fraction, 0)); });
    EXPECT_NE(message.find("val-fraction"), std::string::npos) << fraction << ": " << message;
  }
}

TEST(OneClassSplit, NormalClassWithoutImagesIsAnError) {
  const Dataset dataset = make_dataset();
  const auto message = error_of([&] { make_one_class_split(dataset, options({7}, {1}, 0.1, 0)); });
  EXPECT_NE(message.find("7"), std::string::npos) << message;
  EXPECT_NE(message.find("tiny"), std::string::npos) << message;
  const auto anomaly = error_of([&] { make_one_class_split(dataset, options({1}, {8}, 0.1, 0)); });
  EXPECT_NE(anomaly.find("8"), std::string::npos) << anomaly;
}

TEST(OneClassSplit, LabeledAnomaliesAreSeededTrainingImagesOfTheAnomalyClasses) {
  const Dataset dataset = make_dataset();
  auto with = options({1}, {2, 3}, 0.2, 5);
  with.labeled_anomalies = 6;
  const auto split = make_one_class_split(dataset, with);
  ASSERT_EQ(split.labeled_anomalies.size(0), 6);
  EXPECT_EQ(split.labeled_anomalies.sizes().slice(1), split.train.sizes().slice(1));
  const auto drawn = positions(split.labeled_anomalies);
  EXPECT_EQ(std::set<int64_t>(drawn.begin(), drawn.end()).size(), 6u) << "an image drawn twice";
  for (int64_t p : drawn) {
    const int64_t label = dataset.train.labels[p].item<int64_t>();
    EXPECT_TRUE(label == 2 || label == 3) << "image " << p << " has label " << label;
  }
  // Drawing them leaves the normal split as it was; the same seed draws the same images.
  auto without = with;
  without.labeled_anomalies = 0;
  const auto plain = make_one_class_split(dataset, without);
  EXPECT_EQ(plain.labeled_anomalies.size(0), 0);
  EXPECT_TRUE(torch::equal(plain.train, split.train));
  EXPECT_TRUE(torch::equal(plain.val, split.val));
  EXPECT_TRUE(torch::equal(make_one_class_split(dataset, with).labeled_anomalies, split.labeled_anomalies));
  // More than the anomaly classes hold (5 + 7) is an error that says how many there are.
  with.labeled_anomalies = 13;
  const auto message = error_of([&] { make_one_class_split(dataset, with); });
  EXPECT_NE(message.find("--labeled-anomalies 13"), std::string::npos) << message;
  EXPECT_NE(message.find("12"), std::string::npos) << message;
}

}  // namespace
