// Folder data sets: the two layouts and a folder of categories, image formats and depths, the
// geometry (short side, centre crop; masks by nearest neighbour), bad files skipped and counted,
// the demo data (seeded, byte-identical, exact masks, procedural without photographs), and a run
// on it end to end with pixel metrics.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <torch/torch.h>

#include "oneclass/data/demo_data.h"
#include "oneclass/data/folder_dataset.h"
#include "oneclass/data/image_files.h"
#include "oneclass/engine/run.h"
#include "oneclass/engine/score.h"
#include "support/test_support.h"

namespace oneclass::data {
namespace {

namespace fs = std::filesystem;
using testing_support::contains;
using testing_support::error_of;
using testing_support::read_file;
using testing_support::TempDir;
using testing_support::write_file;

#define REQUIRE_FOLDER_DATA()                                                   \
  do {                                                                          \
    if (!image_files_supported()) {                                             \
      if (std::getenv("CI")) FAIL() << "CI: " << image_files_status();          \
      GTEST_SKIP() << image_files_status();                                     \
    }                                                                           \
  } while (0)

void write_image(const fs::path& path, const cv::Mat& image) {
  fs::create_directories(path.parent_path());
  ASSERT_TRUE(cv::imwrite(path.string(), image)) << path;
}

// A small demo set: 4 categories of 32x32 images, 6 train, 3 good test, 2 per defect kind.
DemoDataOptions small_demo(const fs::path& folder, uint64_t seed = 0) {
  DemoDataOptions o;
  o.folder = folder.string();
  o.seed = seed;
  o.size = 32;
  o.train_images = 6;
  o.good_test_images = 3;
  o.defect_images = 2;
  return o;
}

std::vector<std::string> files_under(const fs::path& root) {
  std::vector<std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (e.is_regular_file()) files.push_back(fs::relative(e.path(), root).string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

TEST(DemoData, SameSeedSameBytesAndExactBinaryMasks) {
  REQUIRE_FOLDER_DATA();
  TempDir dir("oneclass-demo");
  make_demo_data(small_demo(dir.path() / "a"));
  make_demo_data(small_demo(dir.path() / "b"));
  make_demo_data(small_demo(dir.path() / "c", 1));
  const auto files = files_under(dir.path() / "a");
  ASSERT_EQ(files, files_under(dir.path() / "b"));
  // Images, an image and a mask per defect, and each category's marker file.
  EXPECT_EQ(files.size(), 4u * (6 + 3) + 2u * 2 * (3 + 2 + 3 + 2) + 4);
  int differing = 0;
  for (const auto& f : files) {
    EXPECT_EQ(read_file(dir.path() / "a" / f), read_file(dir.path() / "b" / f)) << f;
    differing += read_file(dir.path() / "a" / f) != read_file(dir.path() / "c" / f) ? 1 : 0;
  }
  EXPECT_GT(differing, static_cast<int>(files.size()) / 2) << "another seed should give other images";
  for (const auto& f : files) {
    if (f.find("_mask.png") == std::string::npos) continue;
    const cv::Mat mask = cv::imread((dir.path() / "a" / f).string(), cv::IMREAD_UNCHANGED);
    ASSERT_EQ(mask.type(), CV_8UC1) << f;
    EXPECT_GT(cv::countNonZero(mask), 0) << f << ": a defect image needs defect pixels";
    EXPECT_EQ(cv::countNonZero(mask == 0) + cv::countNonZero(mask == 255), 32 * 32) << f << ": masks are 0 or 255";
  }
}

TEST(DemoData, ProceduralWithoutPhotographsAndUnknownCategoriesRefused) {
  REQUIRE_FOLDER_DATA();
  TempDir dir("oneclass-demo");
  auto options = small_demo(dir.path() / "set");
  options.categories = {"gravel", "wood"};
  options.texture_dirs = {(dir.path() / "nothing-here").string()};
  const auto written = make_demo_data(options);
  ASSERT_EQ(written.size(), 2u);
  for (const auto& w : written) EXPECT_EQ(w.source, "procedural") << w.name;
  EXPECT_FALSE(fs::exists(dir.path() / "set" / "marble"));
  const cv::Mat gravel = cv::imread((dir.path() / "set" / "gravel" / "train" / "good" / "000.png").string(),
                                    cv::IMREAD_UNCHANGED);
  EXPECT_EQ(gravel.channels(), 1);
  options.categories = {"granite"};
  EXPECT_TRUE(contains(error_of([&] { make_demo_data(options); }), "unknown category granite"));
  // An existing set is replaced only with overwrite, and a folder it did not write never is.
  options.categories = {"wood"};
  EXPECT_TRUE(contains(error_of([&] { make_demo_data(options); }), "--overwrite"));
  options.overwrite = true;
  EXPECT_NO_THROW(make_demo_data(options));
  write_file(dir.path() / "real" / "wood" / "train" / "good" / "mine.png", "precious");
  options.folder = (dir.path() / "real").string();
  EXPECT_TRUE(contains(error_of([&] { make_demo_data(options); }), "not written by make-demo-data"));
  EXPECT_EQ(read_file(dir.path() / "real" / "wood" / "train" / "good" / "mine.png"), "precious");
}

TEST(GimpPattern, ReadsHeaderAndPixelsAndRejectsDamage) {
  TempDir dir("oneclass-pat");
  auto be32 = [](uint32_t v) {
    return std::string{char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
  };
  const std::string name = "tiny";
  const std::string header = be32(24 + 5) + be32(1) + be32(2) + be32(1) + be32(3) + "GPAT" + name + '\0';
  const std::string pixels = "\x01\x02\x03\x04\x05\x06";
  write_file(dir.file("ok.pat"), header + pixels);
  const GimpPattern p = read_gimp_pattern(dir.file("ok.pat"));
  EXPECT_EQ(p.width, 2);
  EXPECT_EQ(p.height, 1);
  EXPECT_EQ(p.channels, 3);
  EXPECT_EQ(p.name, "tiny");
  EXPECT_EQ(p.pixels, (std::vector<uint8_t>{1, 2, 3, 4, 5, 6}));
  write_file(dir.file("short.pat"), header + pixels.substr(0, 4));
  EXPECT_TRUE(contains(error_of([&] { read_gimp_pattern(dir.file("short.pat")); }), "truncated"));
  write_file(dir.file("huge.pat"), be32(28) + be32(1) + be32(100000) + be32(1) + be32(3) + "GPAT" + "x\0\0\0");
  EXPECT_TRUE(contains(error_of([&] { read_gimp_pattern(dir.file("huge.pat")); }), "out of range"));
  write_file(dir.file("other.pat"), std::string(40, 'x'));
  EXPECT_TRUE(contains(error_of([&] { read_gimp_pattern(dir.file("other.pat")); }), "not a GIMP pattern"));
}

TEST(ImageFiles, DepthsChannelsAndFormats) {
  REQUIRE_FOLDER_DATA();
  TempDir dir("oneclass-formats");
  const cv::Mat grey16(8, 8, CV_16UC1, cv::Scalar(32768));
  write_image(dir.path() / "grey16.png", grey16);
  write_image(dir.path() / "grey16.tif", grey16);
  cv::Mat bgra(8, 8, CV_8UC4, cv::Scalar(255, 0, 0, 7));  // blue, nearly transparent
  write_image(dir.path() / "rgba.png", bgra);
  write_image(dir.path() / "colour.bmp", cv::Mat(8, 8, CV_8UC3, cv::Scalar(0, 0, 255)));  // red
  write_image(dir.path() / "grey.jpg", cv::Mat(8, 8, CV_8UC1, cv::Scalar(200)));
  for (const char* name : {"grey16.png", "grey16.tif"}) {
    const auto image = read_image_file(dir.file(name), {1, 8});
    EXPECT_NEAR(image.pixels.mean().item<float>(), 32768.0f / 65535.0f, 1e-6) << name;
    EXPECT_EQ(image_file_channels(dir.file(name)), 1) << name;
  }
  const auto rgba = read_image_file(dir.file("rgba.png"), {3, 8});
  EXPECT_FLOAT_EQ(rgba.pixels[2].mean().item<float>(), 1.0f);  // blue plane, alpha dropped
  EXPECT_FLOAT_EQ(rgba.pixels[0].mean().item<float>(), 0.0f);
  EXPECT_EQ(image_file_channels(dir.file("rgba.png")), 3);
  const auto red = read_image_file(dir.file("colour.bmp"), {3, 8});
  EXPECT_FLOAT_EQ(red.pixels[0].mean().item<float>(), 1.0f);
  const auto grey_as_rgb = read_image_file(dir.file("grey.jpg"), {3, 8});
  EXPECT_TRUE(torch::allclose(grey_as_rgb.pixels[0], grey_as_rgb.pixels[2]));
  write_file(dir.file("broken.png"), "\x89PNG\r\n\x1a\n not really");
  EXPECT_TRUE(contains(error_of([&] { read_image_file(dir.file("broken.png"), {1, 8}); }), "broken.png"));
}

TEST(ImageFiles, ShortSideThenCentreCropAndMasksByNearestNeighbour) {
  REQUIRE_FOLDER_DATA();
  TempDir dir("oneclass-geometry");
  // 80 wide, 40 high: left half black, right half white; resized to 64x32, the centre 32 columns
  // are 16 black then 16 white.
  cv::Mat halves(40, 80, CV_8UC1, cv::Scalar(0));
  halves(cv::Rect(40, 0, 40, 40)).setTo(255);
  write_image(dir.path() / "halves.png", halves);
  const auto image = read_image_file(dir.file("halves.png"), {1, 32});
  ASSERT_EQ(image.pixels.sizes(), (std::vector<int64_t>{1, 32, 32}));
  EXPECT_EQ(image.original_width, 80);
  EXPECT_FLOAT_EQ(image.pixels[0].narrow(1, 0, 15).max().item<float>(), 0.0f);
  EXPECT_FLOAT_EQ(image.pixels[0].narrow(1, 17, 15).min().item<float>(), 1.0f);
  cv::Mat mask(40, 80, CV_8UC1, cv::Scalar(0));
  mask(cv::Rect(40, 0, 40, 40)).setTo(1);  // any non-zero value is defect
  write_image(dir.path() / "mask.png", mask);
  const auto m = read_mask_file(dir.file("mask.png"), 32, 40, 80);
  EXPECT_EQ(m.scalar_type(), torch::kUInt8);
  EXPECT_EQ(m.sum().item<int64_t>(), 16 * 32);  // exactly the right half of the crop
  EXPECT_EQ(m.max().item<int>(), 1);
  EXPECT_TRUE(contains(error_of([&] { read_mask_file(dir.file("mask.png"), 32, 40, 40); }), "must match their image"));
}

TEST(FolderLayouts, CategoriesFoundAndNamedInErrors) {
  REQUIRE_FOLDER_DATA();
  TempDir dir("oneclass-layouts");
  make_demo_data(small_demo(dir.path() / "demo"));
  const auto categories = find_folder_categories((dir.path() / "demo").string());
  ASSERT_EQ(categories.size(), 4u);
  EXPECT_EQ(categories[0].name, "gravel");  // sorted by name
  EXPECT_TRUE(contains(error_of([&] { pick_category(categories, ""); }), "pick one with --category"));
  EXPECT_TRUE(contains(error_of([&] { pick_category(categories, "tile"); }), "gravel, leather, marble, wood"));
  const auto& wood = pick_category(categories, "wood");
  EXPECT_EQ(wood.label_names, (std::vector<std::string>{"good", "contamination", "hole", "scratch"}));
  EXPECT_TRUE(wood.has_masks);
  EXPECT_EQ(find_folder_categories((dir.path() / "demo" / "wood").string()).size(), 1u);  // a category itself
  fs::create_directories(dir.path() / "empty" / "pictures");
  const std::string error = error_of([&] { find_folder_categories((dir.path() / "empty").string()); });
  EXPECT_TRUE(contains(error, "pictures")) << error;
  EXPECT_TRUE(contains(error, "expected the MVTec AD layout")) << error;
}

TEST(FolderLayouts, PairLayoutSplitsNormalsAndMatchesMasks) {
  REQUIRE_FOLDER_DATA();
  TempDir dir("oneclass-pair");
  const fs::path root = dir.path() / "line";
  for (int i = 0; i < 10; ++i) write_image(root / "normal" / ("n" + std::to_string(i) + ".png"), cv::Mat(16, 16, CV_8UC1, cv::Scalar(100 + i)));
  for (int i = 0; i < 3; ++i) write_image(root / "abnormal" / ("a" + std::to_string(i) + ".png"), cv::Mat(16, 16, CV_8UC1, cv::Scalar(250)));
  write_image(root / "masks" / "a0_mask.png", cv::Mat(16, 16, CV_8UC1, cv::Scalar(255)));
  write_image(root / "masks" / "a1.png", cv::Mat(16, 16, CV_8UC1, cv::Scalar(255)));  // same stem also counts
  const auto categories = find_folder_categories(root.string());
  ASSERT_EQ(categories.size(), 1u);
  EXPECT_EQ(categories[0].layout, FolderLayout::kPair);
  FolderOptions options;
  options.image_size = 16;
  options.val_fraction = 0.25;
  const FolderSplit loaded = load_folder_split(categories[0], options);
  EXPECT_EQ(loaded.channels, 1);
  EXPECT_EQ(loaded.split.test.size(0), 2 + 3);  // 20 % of the normals, and the abnormal images
  EXPECT_EQ(loaded.split.train.size(0) + loaded.split.val.size(0), 8);
  EXPECT_EQ(loaded.split.val.size(0), 2);
  EXPECT_EQ(loaded.split.test_is_anomaly.sum().item<int64_t>(), 3);
  EXPECT_EQ(loaded.split.test_mask_known.sum().item<int64_t>(), 4);  // a2 has no mask
  ASSERT_EQ(loaded.skipped.size(), 1u);
  EXPECT_TRUE(contains(loaded.skipped[0].path, "a2.png"));
  EXPECT_TRUE(contains(loaded.skipped[0].reason, "left out of the pixel metrics"));
  options.seed = 1;
  const FolderSplit other = load_folder_split(categories[0], options);
  EXPECT_NE(loaded.split.test_files, other.split.test_files) << "the seed chooses the normal test images";
}

TEST(FolderLayouts, UnreadableFilesAreSkippedNamedAndCounted) {
  REQUIRE_FOLDER_DATA();
  TempDir dir("oneclass-bad-files");
  auto options = small_demo(dir.path() / "demo");
  options.categories = {"wood"};
  make_demo_data(options);
  const fs::path wood = dir.path() / "demo" / "wood";
  write_file(wood / "train" / "good" / "zz_broken.png", "not an image");
  write_image(wood / "ground_truth" / "hole" / "000_mask.png", cv::Mat(20, 20, CV_8UC1, cv::Scalar(255)));
  const FolderSplit loaded = load_folder_split(find_folder_categories(wood.string())[0], FolderOptions{0, 32});
  EXPECT_EQ(loaded.split.train.size(0) + loaded.split.val.size(0), 6);
  ASSERT_EQ(loaded.skipped.size(), 2u);
  std::string reasons;
  for (const auto& s : loaded.skipped) reasons += s.path + ": " + s.reason + "\n";
  EXPECT_TRUE(contains(reasons, "zz_broken.png")) << reasons;
  EXPECT_TRUE(contains(reasons, "masks must match their image")) << reasons;
  EXPECT_EQ(loaded.split.test_mask_known.logical_not().sum().item<int64_t>(), 1);
}

TEST(FolderRun, RunScoresPixelsAndWarnsOfFewHeldOutImages) {
  REQUIRE_FOLDER_DATA();
  TempDir dir("oneclass-folder-run");
  auto demo = small_demo(dir.path() / "demo");
  demo.size = 64;
  demo.train_images = 20;
  demo.categories = {"leather"};
  make_demo_data(demo);
  RunConfig config;
  config.dataset = "folder";
  config.data_path = (dir.path() / "demo").string();
  config.image_size = 64;
  config.model = "pca";
  config.progress = false;
  config.figures = false;
  config.out_dir = (dir.path() / "run").string();
  config.check_anomalies = (dir.path() / "demo" / "leather" / "test" / "hole").string();
  const auto metrics = run_experiment(config);
  EXPECT_EQ(metrics["category"], "leather");
  EXPECT_EQ(metrics["input_shape"], (std::vector<int64_t>{3, 64, 64}));
  EXPECT_TRUE(metrics["skipped_files"].empty());
  ASSERT_TRUE(metrics["pixel_auroc"].is_number());
  EXPECT_GE(metrics["pixel_auroc"].get<double>(), 0.65);  // a 18-image PCA's residual, well above chance (0.74 here)
  EXPECT_GT(metrics["aupro"].get<double>(), 0.0);
  EXPECT_EQ(metrics["pixel_metric_images"], 3 + 3 * 2);
  EXPECT_TRUE(contains(metrics["threshold_warning"].get<std::string>(), "only 2 held-out normal images"));
  EXPECT_EQ(metrics["val_fpr_ci95"].size(), 2u);
  EXPECT_EQ(metrics["check_anomalies"]["images"], 2);
  // `score` reads new images through the run's geometry.
  ScoreRequest request;
  request.run_dir = config.out_dir;
  request.inputs = {(dir.path() / "demo" / "leather" / "test" / "good").string()};
  request.maps_dir = (dir.path() / "maps").string();
  const auto summary = score_images(request);
  EXPECT_EQ(summary.scored, 3);
  EXPECT_TRUE(summary.errors.empty());
  // Each image's map as float TIFF, its own values, and an overlay at the image's size.
  std::string name = (fs::path(request.inputs[0]) / "000.png").relative_path().string();
  std::replace(name.begin(), name.end(), '/', '_');
  const cv::Mat map = cv::imread((dir.path() / "maps" / (name + "_map.tiff")).string(), cv::IMREAD_UNCHANGED);
  ASSERT_EQ(map.type(), CV_32FC1) << name;
  EXPECT_EQ(map.rows, 64);
  double low = 0, high = 0;
  cv::minMaxLoc(map, &low, &high);
  EXPECT_GE(low, 0.0);
  EXPECT_LE(high, summary.map_max);
  const cv::Mat overlay = cv::imread((dir.path() / "maps" / (name + "_overlay.png")).string(), cv::IMREAD_UNCHANGED);
  EXPECT_EQ(overlay.type(), CV_8UC3);
  EXPECT_TRUE(fs::exists(dir.path() / "maps" / "maps.json"));
  EXPECT_TRUE(contains(read_file(summary.output_csv), "_overlay.png"));
}

}  // namespace
}  // namespace oneclass::data
