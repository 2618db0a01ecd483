// Image files for `oneclass score`: PNG and JPEG files written here with stb_image_write, read back
// as grayscale in [0, 1], resized when their size differs; damaged or missing files named in errors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "oneclass/data/images.h"
#include "oneclass/error.h"
#include "support/test_support.h"

#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>

namespace {

namespace fs = std::filesystem;
using oneclass::data::has_image_extension;
using oneclass::data::load_grayscale_image;
using oneclass::testing_support::error_of;
using oneclass::testing_support::read_file;
using oneclass::testing_support::TempDir;
using oneclass::testing_support::write_file;

void write_png(const std::string& path, int width, int height, int channels, const std::vector<uint8_t>& pixels) {
  ASSERT_EQ(pixels.size(), static_cast<size_t>(width * height * channels));
  ASSERT_NE(stbi_write_png(path.c_str(), width, height, channels, pixels.data(), width * channels), 0) << path;
}

TEST(LoadImage, GrayPngValuesAreDividedBy255) {
  TempDir dir("oneclass-images");
  const auto path = dir.file("gray.png");
  // 3 wide, 2 high: rows are contiguous.
  const std::vector<uint8_t> pixels{0, 1, 2, 128, 254, 255};
  write_png(path, 3, 2, 1, pixels);
  const auto image = load_grayscale_image(path, 2, 3);
  EXPECT_FALSE(image.resized);
  EXPECT_EQ(image.original_height, 2);
  EXPECT_EQ(image.original_width, 3);
  ASSERT_EQ(image.pixels.scalar_type(), torch::kFloat);
  ASSERT_EQ(image.pixels.sizes(), (std::vector<int64_t>{1, 2, 3}));
  for (int y = 0; y < 2; ++y) {
    for (int x = 0; x < 3; ++x) {
      EXPECT_FLOAT_EQ(image.pixels[0][y][x].item<float>(), static_cast<float>(pixels[y * 3 + x]) / 255.0f)
          << "(" << y << ", " << x << ")";
    }
  }
}

TEST(LoadImage, RgbAndRgbaAreConvertedToLuminance) {
  TempDir dir("oneclass-images");
  // One row: red, green, blue, white, black, mid gray.
  const std::vector<std::vector<uint8_t>> colors{{255, 0, 0}, {0, 255, 0}, {0, 0, 255},
                                                 {255, 255, 255}, {0, 0, 0}, {100, 100, 100}};
  for (int channels : {3, 4}) {
    std::vector<uint8_t> pixels;
    for (const auto& c : colors) {
      pixels.insert(pixels.end(), c.begin(), c.end());
      if (channels == 4) pixels.push_back(255);
    }
    const auto path = dir.file("color" + std::to_string(channels) + ".png");
    write_png(path, static_cast<int>(colors.size()), 1, channels, pixels);
    const auto image = load_grayscale_image(path, 1, static_cast<int>(colors.size()));
    ASSERT_EQ(image.pixels.sizes(), (std::vector<int64_t>{1, 1, static_cast<int64_t>(colors.size())}));
    for (size_t i = 0; i < colors.size(); ++i) {
      const double luminance = (0.299 * colors[i][0] + 0.587 * colors[i][1] + 0.114 * colors[i][2]) / 255.0;
      EXPECT_NEAR(image.pixels[0][0][static_cast<int64_t>(i)].item<double>(), luminance, 1.5 / 255.0)
          << channels << " channels, color " << i;
    }
    // Green is brightest, blue darkest: a plain channel average would make them equal.
    EXPECT_GT(image.pixels[0][0][1].item<float>(), image.pixels[0][0][0].item<float>());
    EXPECT_GT(image.pixels[0][0][0].item<float>(), image.pixels[0][0][2].item<float>());
  }
}

TEST(LoadImage, JpegIsReadApproximately) {
  TempDir dir("oneclass-images");
  const auto path = dir.file("halves.jpg");
  // 16x16: left half black, right half white, exactly on 8x8 block borders.
  std::vector<uint8_t> pixels(16 * 16);
  for (int y = 0; y < 16; ++y) {
    for (int x = 0; x < 16; ++x) pixels[y * 16 + x] = x < 8 ? 0 : 255;
  }
  ASSERT_NE(stbi_write_jpg(path.c_str(), 16, 16, 1, pixels.data(), 95), 0);
  const auto image = load_grayscale_image(path, 16, 16);
  EXPECT_FALSE(image.resized);
  EXPECT_LT(image.pixels.narrow(2, 0, 8).mean().item<double>(), 0.05);
  EXPECT_GT(image.pixels.narrow(2, 8, 8).mean().item<double>(), 0.95);
  EXPECT_GE(image.pixels.min().item<float>(), 0.0f);
  EXPECT_LE(image.pixels.max().item<float>(), 1.0f);

  // Upper-case extension and colour JPEG.
  const auto color = dir.file("RED.JPEG");
  std::vector<uint8_t> red(8 * 8 * 3);
  for (size_t i = 0; i < red.size(); i += 3) red[i] = 255;
  ASSERT_NE(stbi_write_jpg(color.c_str(), 8, 8, 3, red.data(), 95), 0);
  const auto red_image = load_grayscale_image(color, 8, 8);
  EXPECT_NEAR(red_image.pixels.mean().item<double>(), 0.299, 0.03);
}

TEST(LoadImage, ShrinksByAreaAveraging) {
  TempDir dir("oneclass-images");
  const auto path = dir.file("big.png");
  // 56x56 made of 2x2 blocks of equal value: area shrinking to 28x28 gives exactly the blocks.
  std::vector<uint8_t> pixels(56 * 56);
  auto block_value = [](int i, int j) { return static_cast<uint8_t>((i * 7 + j * 3) % 256); };
  for (int y = 0; y < 56; ++y) {
    for (int x = 0; x < 56; ++x) pixels[y * 56 + x] = block_value(y / 2, x / 2);
  }
  write_png(path, 56, 56, 1, pixels);
  const auto image = load_grayscale_image(path, 28, 28);
  EXPECT_TRUE(image.resized);
  EXPECT_EQ(image.original_height, 56);
  EXPECT_EQ(image.original_width, 56);
  ASSERT_EQ(image.pixels.sizes(), (std::vector<int64_t>{1, 28, 28}));
  for (int i = 0; i < 28; ++i) {
    for (int j = 0; j < 28; ++j) {
      ASSERT_NEAR(image.pixels[0][i][j].item<double>(), block_value(i, j) / 255.0, 1e-6) << i << ", " << j;
    }
  }
  // A thin one-pixel stroke survives shrinking (area keeps a quarter of it; nearest could drop it).
  std::vector<uint8_t> stroke(56 * 56, 0);
  for (int y = 0; y < 56; ++y) stroke[y * 56 + 29] = 255;
  const auto stroke_path = dir.file("stroke.png");
  write_png(stroke_path, 56, 56, 1, stroke);
  const auto thin = load_grayscale_image(stroke_path, 28, 28);
  EXPECT_NEAR(thin.pixels.sum().item<double>(), 56.0 * 1.0 / 4.0, 1e-3);
  EXPECT_NEAR(thin.pixels[0][10][14].item<double>(), 0.5, 1e-6);
}

TEST(LoadImage, EnlargesAndKeepsRange) {
  TempDir dir("oneclass-images");
  const auto path = dir.file("small.png");
  write_png(path, 7, 7, 1, std::vector<uint8_t>(49, 100));
  const auto image = load_grayscale_image(path, 28, 28);
  EXPECT_TRUE(image.resized);
  EXPECT_EQ(image.original_height, 7);
  EXPECT_EQ(image.original_width, 7);
  ASSERT_EQ(image.pixels.sizes(), (std::vector<int64_t>{1, 28, 28}));
  EXPECT_NEAR(image.pixels.min().item<double>(), 100.0 / 255.0, 1e-6);
  EXPECT_NEAR(image.pixels.max().item<double>(), 100.0 / 255.0, 1e-6);

  // Not square, one side larger and one smaller than asked: still [1, 28, 28] in [0, 1].
  std::vector<uint8_t> stripes(10 * 40);
  for (size_t i = 0; i < stripes.size(); ++i) stripes[i] = (i % 2) ? 255 : 0;
  const auto wide = dir.file("wide.png");
  write_png(wide, 40, 10, 1, stripes);
  const auto resized = load_grayscale_image(wide, 28, 28);
  EXPECT_TRUE(resized.resized);
  EXPECT_EQ(resized.original_height, 10);
  EXPECT_EQ(resized.original_width, 40);
  ASSERT_EQ(resized.pixels.sizes(), (std::vector<int64_t>{1, 28, 28}));
  EXPECT_GE(resized.pixels.min().item<float>(), 0.0f);
  EXPECT_LE(resized.pixels.max().item<float>(), 1.0f);
  EXPECT_NEAR(resized.pixels.mean().item<double>(), 0.5, 0.1);
}

TEST(LoadImage, TextFileNamedPngIsAnErrorNamingIt) {
  TempDir dir("oneclass-images");
  const auto path = dir.file("notes.png");
  write_file(path, "these are my notes, not an image\n");
  const auto message = error_of([&] { load_grayscale_image(path, 28, 28); });
  EXPECT_NE(message.find(path), std::string::npos) << message;
}

TEST(LoadImage, EmptyFileIsAnErrorNamingIt) {
  TempDir dir("oneclass-images");
  const auto path = dir.file("empty.png");
  write_file(path, "");
  const auto message = error_of([&] { load_grayscale_image(path, 28, 28); });
  EXPECT_NE(message.find(path), std::string::npos) << message;
}

TEST(LoadImage, MissingFileOrFolderIsAnErrorNamingIt) {
  TempDir dir("oneclass-images");
  const auto path = dir.file("missing.png");
  const auto message = error_of([&] { load_grayscale_image(path, 28, 28); });
  EXPECT_NE(message.find(path), std::string::npos) << message;
  EXPECT_NE(message.find("no such file"), std::string::npos) << message;

  const auto folder = dir.file("folder.png");
  fs::create_directory(folder);
  const auto folder_message = error_of([&] { load_grayscale_image(folder, 28, 28); });
  EXPECT_NE(folder_message.find(folder), std::string::npos) << folder_message;
}

TEST(LoadImage, TruncatedPngIsAnErrorNamingIt) {
  TempDir dir("oneclass-images");
  const auto good = dir.file("good.png");
  // Pseudo-random pixels compress poorly, so the image data spans most of the file.
  std::vector<uint8_t> pixels(28 * 28);
  uint32_t state = 12345;
  for (auto& p : pixels) {
    state = state * 1664525u + 1013904223u;
    p = static_cast<uint8_t>(state >> 24);
  }
  write_png(good, 28, 28, 1, pixels);
  const std::string bytes = read_file(good);
  ASSERT_GT(bytes.size(), 400u);
  EXPECT_NO_THROW(load_grayscale_image(good, 28, 28));

  for (size_t keep : {bytes.size() / 2, size_t{40}, size_t{12}}) {
    const auto cut = dir.file("cut-" + std::to_string(keep) + ".png");
    write_file(cut, bytes.substr(0, keep));
    const auto message = error_of([&] { load_grayscale_image(cut, 28, 28); });
    EXPECT_NE(message.find(cut), std::string::npos) << "keeping " << keep << " bytes: " << message;
  }
}

TEST(LoadImage, ImplausiblyLargeImageIsRefused) {
  TempDir dir("oneclass-images");
  const auto path = dir.file("very-wide.png");
  write_png(path, 16385, 1, 1, std::vector<uint8_t>(16385, 7));
  const auto message = error_of([&] { load_grayscale_image(path, 28, 28); });
  EXPECT_NE(message.find(path), std::string::npos) << message;
  EXPECT_NE(message.find("16385"), std::string::npos) << message;
}

TEST(ImageExtension, KnownExtensionsInAnyCase) {
  for (const std::string path : {"a.png", "b.PNG", "c.jpg", "d.JPG", "e.jpeg", "f.Jpeg", "g.bmp", "h.pgm", "i.ppm",
                                 "j.tga", "k.gif", "l.tif", "m.TIFF", "dir/sub/x.png", "/abs/path.with.dots/y.jpg",
                                 "../rel.png"}) {
    EXPECT_TRUE(has_image_extension(path)) << path;
  }
  for (const std::string path : {"a.txt", "png", "a.png.txt", "a", "", "dir.png/file", "a.pngx", "a.tifx", "x.csv",
                                 "scores.json", "a.", "jpg"}) {
    EXPECT_FALSE(has_image_extension(path)) << path;
  }
}

}  // namespace
