// IDX reading (the MNIST file format): small files written here, raw and gzipped, read back with
// known values; every kind of damage rejected with an Error that names the file; and the genuine
// MNIST files read once against their published counts.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "oneclass/data/datasets.h"
#include "oneclass/data/idx.h"
#include "oneclass/error.h"
#include "support/test_support.h"

namespace {

namespace fs = std::filesystem;
using oneclass::data::read_idx_images;
using oneclass::data::read_idx_labels;
using oneclass::data::read_idx_pair;
using oneclass::testing_support::error_of;
using oneclass::testing_support::read_file;
using oneclass::testing_support::TempDir;
using oneclass::testing_support::write_file;

const std::string kMnistDir = oneclass::testing_support::data_dir() + "/mnist";

void append_be32(std::string& bytes, uint32_t value) {
  bytes.push_back(static_cast<char>((value >> 24) & 0xff));
  bytes.push_back(static_cast<char>((value >> 16) & 0xff));
  bytes.push_back(static_cast<char>((value >> 8) & 0xff));
  bytes.push_back(static_cast<char>(value & 0xff));
}

std::string image_header(uint32_t count, uint32_t rows, uint32_t cols, uint32_t magic = 0x00000803) {
  std::string bytes;
  append_be32(bytes, magic);
  append_be32(bytes, count);
  append_be32(bytes, rows);
  append_be32(bytes, cols);
  return bytes;
}

std::string label_header(uint32_t count, uint32_t magic = 0x00000801) {
  std::string bytes;
  append_be32(bytes, magic);
  append_be32(bytes, count);
  return bytes;
}

// Pixel i of the test image file: every byte value occurs, none is a plain copy of its index.
uint8_t pixel_value(int64_t i) { return static_cast<uint8_t>((i * 37 + 11) % 256); }

std::string image_file_bytes(uint32_t count, uint32_t rows, uint32_t cols) {
  std::string bytes = image_header(count, rows, cols);
  for (int64_t i = 0; i < int64_t{count} * rows * cols; ++i) bytes.push_back(static_cast<char>(pixel_value(i)));
  return bytes;
}

std::string label_file_bytes(const std::vector<uint8_t>& labels) {
  std::string bytes = label_header(static_cast<uint32_t>(labels.size()));
  for (uint8_t label : labels) bytes.push_back(static_cast<char>(label));
  return bytes;
}

void write_gz(const std::string& path, const std::string& bytes) {
  gzFile file = gzopen(path.c_str(), "wb");
  ASSERT_NE(file, nullptr) << path;
  if (!bytes.empty()) {
    ASSERT_EQ(gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size())), static_cast<int>(bytes.size()));
  }
  ASSERT_EQ(gzclose(file), Z_OK);
}

void expect_known_images(const at::Tensor& images, int64_t count, int64_t rows, int64_t cols) {
  ASSERT_EQ(images.scalar_type(), torch::kUInt8);
  ASSERT_EQ(images.sizes(), (std::vector<int64_t>{count, rows, cols}));
  auto flat = images.contiguous().view(-1);
  const auto* data = flat.data_ptr<uint8_t>();
  for (int64_t i = 0; i < flat.numel(); ++i) ASSERT_EQ(data[i], pixel_value(i)) << "pixel " << i;
  // Row-major [N, rows, cols]: element (n, r, c) is byte n*rows*cols + r*cols + c of the data.
  EXPECT_EQ(images[count - 1][rows - 1][0].item<int>(), pixel_value((count - 1) * rows * cols + (rows - 1) * cols));
}

// ---------------------------------------------------------------------------------------------
// Reading back what was written.

TEST(IdxImages, ReadsRawFileWithValuesAndShape) {
  TempDir dir("oneclass-idx");
  const auto path = dir.file("images-idx3-ubyte");
  write_file(path, image_file_bytes(3, 2, 5));
  expect_known_images(read_idx_images(path), 3, 2, 5);
}

TEST(IdxImages, ReadsGzippedFileWithValuesAndShape) {
  TempDir dir("oneclass-idx");
  const auto path = dir.file("images-idx3-ubyte.gz");
  write_gz(path, image_file_bytes(4, 7, 3));
  expect_known_images(read_idx_images(path), 4, 7, 3);
}

TEST(IdxImages, ZeroImagesIsAnEmptyTensorOfTheRightShape) {
  TempDir dir("oneclass-idx");
  const auto path = dir.file("empty-idx3-ubyte");
  write_file(path, image_header(0, 28, 28));
  const auto images = read_idx_images(path);
  EXPECT_EQ(images.sizes(), (std::vector<int64_t>{0, 28, 28}));
}

TEST(IdxLabels, ReadsRawAndGzippedAsInt64) {
  TempDir dir("oneclass-idx");
  const std::vector<uint8_t> labels{0, 9, 255, 3, 128};  // 255 and 128 must not turn negative
  for (bool gz : {false, true}) {
    const auto path = dir.file(gz ? "labels.gz" : "labels");
    if (gz) {
      write_gz(path, label_file_bytes(labels));
    } else {
      write_file(path, label_file_bytes(labels));
    }
    const auto read = read_idx_labels(path);
    EXPECT_EQ(read.scalar_type(), torch::kLong) << path;
    ASSERT_EQ(read.sizes(), (std::vector<int64_t>{5})) << path;
    for (size_t i = 0; i < labels.size(); ++i) EXPECT_EQ(read[i].item<int64_t>(), labels[i]) << path << " label " << i;
  }
}

TEST(IdxPair, ReadsMatchingFiles) {
  TempDir dir("oneclass-idx");
  write_gz(dir.file("img.gz"), image_file_bytes(4, 2, 2));
  write_file(dir.file("lab"), label_file_bytes({7, 1, 0, 4}));
  const auto set = read_idx_pair(dir.file("img.gz"), dir.file("lab"));
  expect_known_images(set.images, 4, 2, 2);
  EXPECT_TRUE(torch::equal(set.labels, torch::tensor({7, 1, 0, 4}, torch::kLong)));
}

// ---------------------------------------------------------------------------------------------
// Damaged files: each rejected with an Error that names the file.

TEST(IdxErrors, MissingFileNamesIt) {
  TempDir dir("oneclass-idx");
  const auto path = dir.file("no-such-file-idx3-ubyte");
  EXPECT_NE(error_of([&] { read_idx_images(path); }).find(path), std::string::npos);
  EXPECT_NE(error_of([&] { read_idx_labels(path); }).find(path), std::string::npos);
}

TEST(IdxErrors, BadMagicNamesFileAndMagic) {
  TempDir dir("oneclass-idx");
  // A label file given where images are expected, and the other way round.
  const auto labels = dir.file("labels-idx1-ubyte");
  write_file(labels, label_file_bytes({1, 2, 3}));
  const auto message = error_of([&] { read_idx_images(labels); });
  EXPECT_NE(message.find(labels), std::string::npos) << message;
  EXPECT_NE(message.find("magic"), std::string::npos) << message;
  EXPECT_NE(message.find("0x00000801"), std::string::npos) << message;

  const auto images = dir.file("images-idx3-ubyte.gz");
  write_gz(images, image_file_bytes(1, 2, 2));
  const auto other = error_of([&] { read_idx_labels(images); });
  EXPECT_NE(other.find(images), std::string::npos) << other;
  EXPECT_NE(other.find("magic"), std::string::npos) << other;

  // Not an IDX file at all.
  const auto text = dir.file("readme.gz");
  write_file(text, "hello, this is text and not an IDX file\n");
  const auto text_message = error_of([&] { read_idx_images(text); });
  EXPECT_NE(text_message.find(text), std::string::npos) << text_message;
}

TEST(IdxErrors, TruncatedPixelsNameFile) {
  TempDir dir("oneclass-idx");
  for (bool gz : {false, true}) {
    const auto path = dir.file(gz ? "cut.gz" : "cut");
    std::string bytes = image_file_bytes(3, 4, 4);
    bytes.resize(bytes.size() - 5);
    if (gz) {
      write_gz(path, bytes);
    } else {
      write_file(path, bytes);
    }
    const auto message = error_of([&] { read_idx_images(path); });
    EXPECT_NE(message.find(path), std::string::npos) << message;
    EXPECT_NE(message.find("truncated"), std::string::npos) << message;
  }
  const auto labels = dir.file("cut-labels");
  std::string bytes = label_file_bytes({1, 2, 3, 4});
  bytes.pop_back();
  write_file(labels, bytes);
  const auto message = error_of([&] { read_idx_labels(labels); });
  EXPECT_NE(message.find(labels), std::string::npos) << message;
  EXPECT_NE(message.find("truncated"), std::string::npos) << message;
}

TEST(IdxErrors, TruncatedHeaderNamesFile) {
  TempDir dir("oneclass-idx");
  const std::string header = image_header(2, 28, 28);
  for (size_t keep : {size_t{0}, size_t{3}, size_t{4}, size_t{9}, size_t{15}}) {
    const auto path = dir.file("header-" + std::to_string(keep));
    write_file(path, header.substr(0, keep));
    const auto message = error_of([&] { read_idx_images(path); });
    EXPECT_NE(message.find(path), std::string::npos) << "keeping " << keep << " bytes: " << message;
  }
  const auto labels = dir.file("label-header");
  write_file(labels, label_header(5).substr(0, 6));
  const auto message = error_of([&] { read_idx_labels(labels); });
  EXPECT_NE(message.find(labels), std::string::npos) << message;
}

TEST(IdxErrors, DamagedGzipStreamNamesFile) {
  TempDir dir("oneclass-idx");
  const auto good = dir.file("good.gz");
  std::string pixels = image_file_bytes(50, 28, 28);
  write_gz(good, pixels);
  const std::string compressed = read_file(good);
  ASSERT_GT(compressed.size(), 100u);

  // Cut the compressed stream in half.
  const auto cut = dir.file("cut.gz");
  write_file(cut, compressed.substr(0, compressed.size() / 2));
  const auto cut_message = error_of([&] { read_idx_images(cut); });
  EXPECT_NE(cut_message.find(cut), std::string::npos) << cut_message;

  // Overwrite part of the deflate data (after the 10-byte gzip header).
  std::string garbled = compressed;
  for (size_t i = 20; i < 60; ++i) garbled[i] = static_cast<char>(garbled[i] ^ 0x5a);
  const auto bad = dir.file("garbled.gz");
  write_file(bad, garbled);
  const auto bad_message = error_of([&] { read_idx_images(bad); });
  EXPECT_NE(bad_message.find(bad), std::string::npos) << bad_message;
}

TEST(IdxErrors, ImplausibleHeaderRejectedWithoutAllocating) {
  TempDir dir("oneclass-idx");
  struct Case {
    uint32_t count, rows, cols;
  };
  // 0xffffffff images of 28x28 would be 3.4 TB; a zero or a 100000-pixel side is no image.
  for (const Case c : {Case{0xffffffffu, 28, 28}, Case{10, 0, 28}, Case{10, 28, 0}, Case{1, 100000, 28},
                       Case{0x10000000u, 1024, 1024}}) {
    const auto path = dir.file("implausible-" + std::to_string(c.count) + "-" + std::to_string(c.rows) + "-" +
                               std::to_string(c.cols));
    write_file(path, image_header(c.count, c.rows, c.cols) + std::string(64, '\0'));
    const auto message = error_of([&] { read_idx_images(path); });
    EXPECT_NE(message.find(path), std::string::npos) << message;
    EXPECT_NE(message.find("implausible"), std::string::npos) << message;
  }
}

// A header may announce far more data than its file holds. The reader must notice from the file
// before it allocates: in a process that cannot reserve the announced size, the result must still
// be the oneclass::Error naming the file (not an allocator failure). Runs in a fresh child process
// (death-test machinery) whose address space is capped at its current size + 1 GiB.
int read_with_capped_memory(const std::string& path, bool labels, const std::string& control_path) {
  long pages = 0;
  if (FILE* statm = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(statm, "%ld", &pages) != 1) pages = 0;
    std::fclose(statm);
  }
  if (pages <= 0) return 10;
  const rlim_t cap = static_cast<rlim_t>(pages) * static_cast<rlim_t>(::sysconf(_SC_PAGESIZE)) + (rlim_t{1} << 30);
  const rlimit limit{cap, cap};
  if (::setrlimit(RLIMIT_AS, &limit) != 0) return 11;
  // Control: an ordinary small read still works under the cap.
  try {
    if (read_idx_images(control_path).numel() != 2 * 3 * 3) return 12;
  } catch (...) {
    return 13;
  }
  try {
    if (labels) {
      read_idx_labels(path);
    } else {
      read_idx_images(path);
    }
  } catch (const oneclass::Error& e) {
    const std::string message = e.what();
    std::fprintf(stderr, "oneclass::Error: %s\n", message.c_str());
    return message.find(path) != std::string::npos ? 0 : 2;
  } catch (const std::exception& e) {
    const std::string message = e.what();
    std::fprintf(stderr, "not a oneclass::Error: %s\n", message.substr(0, message.find('\n')).c_str());
    return 3;
  }
  return 4;  // succeeded on a 24-byte file
}

class IdxMemory : public ::testing::Test {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

TEST_F(IdxMemory, ImageHeaderAnnouncingGigabytesInATinyFileIsRejectedBeforeAllocating) {
  TempDir dir("oneclass-idx");
  const auto control = dir.file("control");
  write_file(control, image_file_bytes(2, 3, 3));
  // 4,000,000 images of 32x32 = 4.1 GB, under the reader's 2^32-element sanity bound, in 24 bytes.
  const auto path = dir.file("huge-claim-idx3-ubyte");
  write_file(path, image_header(4000000, 32, 32) + std::string(8, '\x7f'));
  EXPECT_EXIT(
      {
        const int code = read_with_capped_memory(path, false, control);
        dir.remove();
        std::exit(code);
      },
      ::testing::ExitedWithCode(0), "");
}

TEST_F(IdxMemory, LabelHeaderAnnouncingGigabytesInATinyFileIsRejectedBeforeAllocating) {
  TempDir dir("oneclass-idx");
  const auto control = dir.file("control");
  write_file(control, image_file_bytes(2, 3, 3));
  const auto path = dir.file("huge-claim-idx1-ubyte.gz");
  write_gz(path, label_header(0xfffffff0u) + std::string(16, '\x01'));
  EXPECT_EXIT(
      {
        const int code = read_with_capped_memory(path, true, control);
        dir.remove();
        std::exit(code);
      },
      ::testing::ExitedWithCode(0), "");
}

TEST(IdxErrors, TrailingGarbageNamesFile) {
  TempDir dir("oneclass-idx");
  for (bool gz : {false, true}) {
    const auto images = dir.file(gz ? "images-extra.gz" : "images-extra");
    const auto labels = dir.file(gz ? "labels-extra.gz" : "labels-extra");
    const std::string image_bytes = image_file_bytes(2, 3, 3) + "X";
    const std::string label_bytes = label_file_bytes({1, 2}) + std::string(1, '\0');
    if (gz) {
      write_gz(images, image_bytes);
      write_gz(labels, label_bytes);
    } else {
      write_file(images, image_bytes);
      write_file(labels, label_bytes);
    }
    const auto message = error_of([&] { read_idx_images(images); });
    EXPECT_NE(message.find(images), std::string::npos) << message;
    EXPECT_NE(message.find("after"), std::string::npos) << message;
    const auto label_message = error_of([&] { read_idx_labels(labels); });
    EXPECT_NE(label_message.find(labels), std::string::npos) << label_message;
  }
}

TEST(IdxErrors, PairCountMismatchNamesBothFiles) {
  TempDir dir("oneclass-idx");
  const auto images = dir.file("three-images");
  const auto labels = dir.file("four-labels.gz");
  write_file(images, image_file_bytes(3, 2, 2));
  write_gz(labels, label_file_bytes({1, 2, 3, 4}));
  const auto message = error_of([&] { read_idx_pair(images, labels); });
  EXPECT_NE(message.find(images), std::string::npos) << message;
  EXPECT_NE(message.find(labels), std::string::npos) << message;
  EXPECT_NE(message.find("3 images"), std::string::npos) << message;
  EXPECT_NE(message.find("4 labels"), std::string::npos) << message;
}

// ---------------------------------------------------------------------------------------------
// The genuine MNIST files (read once).

TEST(IdxMnist, GenuineFilesHaveThePublishedShapesCountsAndLabels) {
  if (!fs::exists(kMnistDir + "/train-images-idx3-ubyte.gz")) {
    GTEST_FAIL() << "genuine MNIST files expected in " << kMnistDir;
  }
  oneclass::data::DatasetQuery query;
  query.name = "mnist";
  query.data_dir = oneclass::testing_support::data_dir();
  query.allow_download = false;
  const auto dataset = oneclass::data::load_dataset(query);
  EXPECT_EQ(dataset.name, "mnist");

  EXPECT_EQ(dataset.train.images.sizes(), (std::vector<int64_t>{60000, 28, 28}));
  EXPECT_EQ(dataset.train.images.scalar_type(), torch::kUInt8);
  EXPECT_EQ(dataset.train.labels.sizes(), (std::vector<int64_t>{60000}));
  EXPECT_EQ(dataset.train.labels.scalar_type(), torch::kLong);
  EXPECT_EQ(dataset.test.images.sizes(), (std::vector<int64_t>{10000, 28, 28}));
  EXPECT_EQ(dataset.test.labels.sizes(), (std::vector<int64_t>{10000}));

  const std::vector<int64_t> train_counts{5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949};
  const std::vector<int64_t> test_counts{980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009};
  const auto train_bins = torch::bincount(dataset.train.labels, {}, 10);
  const auto test_bins = torch::bincount(dataset.test.labels, {}, 10);
  ASSERT_EQ(train_bins.numel(), 10);
  for (int label = 0; label < 10; ++label) {
    EXPECT_EQ(train_bins[label].item<int64_t>(), train_counts[label]) << "train label " << label;
    EXPECT_EQ(test_bins[label].item<int64_t>(), test_counts[label]) << "test label " << label;
  }
  EXPECT_TRUE(torch::equal(dataset.train.labels.narrow(0, 0, 10),
                           torch::tensor({5, 0, 4, 1, 9, 2, 1, 3, 1, 4}, torch::kLong)));
  EXPECT_TRUE(torch::equal(dataset.test.labels.narrow(0, 0, 10),
                           torch::tensor({7, 2, 1, 0, 4, 1, 4, 9, 5, 9}, torch::kLong)));
  // The well-known normalisation constants of MNIST's training pixels (torchvision's 0.1307, 0.3081).
  const auto pixels = dataset.train.images.to(torch::kDouble).div_(255.0);
  EXPECT_NEAR(pixels.mean().item<double>(), 0.1306604762738429, 1e-9);
  EXPECT_NEAR(pixels.std(/*unbiased=*/false).item<double>(), 0.3081078038564622, 1e-6);
  EXPECT_EQ(dataset.train.images.max().item<int>(), 255);
  EXPECT_EQ(dataset.train.images.min().item<int>(), 0);
}

TEST(IdxMnist, ReadsTheRawAndGzippedFormOfTheSameFileAlike) {
  TempDir dir("oneclass-idx");
  const auto labels = read_idx_labels(kMnistDir + "/t10k-labels-idx1-ubyte.gz");
  // Decompress the genuine file into a raw copy: both forms must give the same tensor.
  gzFile in = gzopen((kMnistDir + "/t10k-labels-idx1-ubyte.gz").c_str(), "rb");
  ASSERT_NE(in, nullptr);
  std::string raw;
  char buffer[4096];
  int got = 0;
  while ((got = gzread(in, buffer, sizeof buffer)) > 0) raw.append(buffer, static_cast<size_t>(got));
  gzclose(in);
  ASSERT_EQ(raw.size(), 10008u);
  write_file(dir.file("t10k-labels-idx1-ubyte"), raw);
  EXPECT_TRUE(torch::equal(read_idx_labels(dir.file("t10k-labels-idx1-ubyte")), labels));
}

}  // namespace
