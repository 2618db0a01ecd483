#pragma once
// Image files (PNG, JPEG, BMP, PGM, ...) for scoring new images, read with stb_image.
#include <cstdint>
#include <optional>
#include <string>

#include <ATen/core/Tensor.h>

namespace oneclass::data {

struct LoadedImage {
  at::Tensor pixels;         // float [1, height, width] in [0, 1], grayscale
  bool resized = false;      // true when the file's size differed and it was resized
  int original_height = 0, original_width = 0;
  int original_channels = 0;  // samples per pixel in the file, alpha counted
};

/// Reads an image file as grayscale and resizes it (area/bilinear) to height x width when needed.
/// Throws Error naming the file when it is missing, not an image, corrupt or implausibly large.
LoadedImage load_grayscale_image(const std::string& path, int height, int width);
/// The same for an encoded file already in memory (an upload); `name` names it in errors. Its
/// width and height are read from the header and checked before anything is decoded.
LoadedImage decode_grayscale_image(const std::string& bytes, const std::string& name, int height, int width);

/// What an encoded image declares in its first bytes, read without decoding it.
struct ImageHeader {
  std::string format;  // "png", "jpeg", "bmp", "gif", "pnm", "tga", "tiff"
  int width = 0, height = 0;
  int channels = 0;    // 0 where the header does not say (TIFF)
};
/// The header of PNG, JPEG, BMP, GIF, PNM, TGA (stb_image's reader) and TIFF bytes (its first
/// image's size tags); nullopt for anything else or a header cut short. Decompression bombs are
/// refused with this, before a decoder allocates for the declared size.
std::optional<ImageHeader> read_image_header(const std::string& bytes);

/// Decoded pixels handed over by a program (the C API, Python): rows of `width` pixels of
/// `channels` interleaved samples (1 grey, 2 grey + alpha, 3 RGB, 4 RGBA), `stride` bytes apart.
struct PixelView {
  const void* data = nullptr;
  int width = 0, height = 0, channels = 0;
  int64_t stride = 0;      // bytes from one row to the next; 0 = packed rows
  bool is_float = false;   // 32-bit float samples in [0, 1] instead of 8-bit ones
};

/// Checks a PixelView (sizes, stride, pointer) and says what is wrong, naming `name`.
void check_pixel_view(const PixelView& view, const std::string& name);

/// A PixelView as load_grayscale_image reads a file of the same pixels: colour made grey with the
/// same integer weights, then resized to height x width when needed.
LoadedImage grayscale_pixels(const PixelView& view, const std::string& name, int height, int width);

/// The bytes of a file (at most `max_bytes`); an Error naming it when it is missing, empty,
/// unreadable or larger.
std::string read_image_bytes(const std::string& path, uint64_t max_bytes = uint64_t{1} << 30);

/// True for file names with an image extension we read (.png .jpg .jpeg .bmp .pgm .ppm .tga .gif,
/// and .tif .tiff, which folder data read through OpenCV).
bool has_image_extension(const std::string& path);

}  // namespace oneclass::data
