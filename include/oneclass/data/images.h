#pragma once
// Image files (PNG, JPEG, BMP, PGM, ...) for scoring new images, read with stb_image.
#include <string>

#include <ATen/core/Tensor.h>

namespace oneclass::data {

struct LoadedImage {
  at::Tensor pixels;         // float [1, height, width] in [0, 1], grayscale
  bool resized = false;      // true when the file's size differed and it was resized
  int original_height = 0, original_width = 0;
};

/// Reads an image file as grayscale and resizes it (area/bilinear) to height x width when needed.
/// Throws Error naming the file when it is missing, not an image, corrupt or implausibly large.
LoadedImage load_grayscale_image(const std::string& path, int height, int width);

/// True for file names with an image extension we read (.png .jpg .jpeg .bmp .pgm .ppm .tga .gif,
/// and .tif .tiff, which folder data read through OpenCV).
bool has_image_extension(const std::string& path);

}  // namespace oneclass::data
