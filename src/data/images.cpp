#include "oneclass/data/images.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <memory>

#include <torch/torch.h>

#include "oneclass/error.h"

#define STB_IMAGE_IMPLEMENTATION
#define STBI_NO_HDR
#define STBI_NO_PSD
#define STBI_NO_PIC
#include <stb_image.h>

namespace oneclass::data {
namespace {

constexpr int kMaxSide = 16384;  // refuse before decoding: a forged header must not exhaust memory

at::Tensor resize(const at::Tensor& image, int height, int width) {
  namespace F = torch::nn::functional;
  // Area averaging when shrinking keeps thin strokes; bilinear when enlarging.
  const bool shrinking = image.size(1) >= height && image.size(2) >= width;
  auto options = F::InterpolateFuncOptions().size(std::vector<int64_t>{height, width});
  options = shrinking ? options.mode(torch::kArea) : options.mode(torch::kBilinear).align_corners(false);
  return F::interpolate(image.unsqueeze(0), options).squeeze(0).clamp_(0.0, 1.0);
}

}  // namespace

bool has_image_extension(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  static const std::vector<std::string> known{".png", ".jpg", ".jpeg", ".bmp", ".pgm", ".ppm",
                                              ".tga", ".gif", ".tif", ".tiff"};
  return std::find(known.begin(), known.end(), ext) != known.end();
}

LoadedImage load_grayscale_image(const std::string& path, int height, int width) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) throw Error(path + ": no such file (or not readable)");
  int w = 0, h = 0, channels = 0;
  if (!stbi_info(path.c_str(), &w, &h, &channels)) {
    throw Error(path + ": not a readable image (" + stbi_failure_reason() + "); give PNG, JPEG, BMP or PGM files");
  }
  if (w <= 0 || h <= 0 || w > kMaxSide || h > kMaxSide) {
    throw Error(path + ": image size " + std::to_string(w) + "x" + std::to_string(h) + " is outside 1.." +
                std::to_string(kMaxSide));
  }
  std::unique_ptr<unsigned char, decltype(&stbi_image_free)> pixels(stbi_load(path.c_str(), &w, &h, &channels, 1),
                                                                    &stbi_image_free);
  if (!pixels) throw Error(path + ": corrupt image (" + std::string(stbi_failure_reason()) + ")");
  LoadedImage image;
  image.original_height = h;
  image.original_width = w;
  image.pixels = torch::from_blob(pixels.get(), {1, h, w}, torch::kUInt8).to(torch::kFloat).div_(255.0);
  if (h != height || w != width) {
    image.pixels = resize(image.pixels, height, width);
    image.resized = true;
  }
  return image;
}

}  // namespace oneclass::data
