#include "oneclass/data/images.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <limits>
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

std::string read_image_bytes(const std::string& path, uint64_t max_bytes) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) throw Error(path + ": no such file (or not readable)");
  const auto bytes = std::filesystem::file_size(path, ec);
  if (ec || bytes == 0) throw Error(path + ": empty or unreadable file");
  if (bytes > max_bytes) {
    throw Error(path + ": " + std::to_string(bytes) + " bytes is more than the " + std::to_string(max_bytes) +
                " an image may have");
  }
  std::ifstream in(path, std::ios::binary);
  std::string content(static_cast<size_t>(bytes), '\0');
  if (!in.read(content.data(), static_cast<std::streamsize>(bytes))) throw Error(path + ": cannot read the file");
  return content;
}

namespace {

LoadedImage fitted_to(at::Tensor pixels, int height, int width) {
  LoadedImage image;
  image.original_height = static_cast<int>(pixels.size(1));
  image.original_width = static_cast<int>(pixels.size(2));
  image.pixels = std::move(pixels);
  if (image.original_height != height || image.original_width != width) {
    image.pixels = resize(image.pixels, height, width);
    image.resized = true;
  }
  return image;
}

}  // namespace

LoadedImage decode_grayscale_image(const std::string& bytes, const std::string& name, int height, int width) {
  if (bytes.empty()) throw Error(name + ": empty file");
  if (bytes.size() > static_cast<size_t>(std::numeric_limits<int>::max())) throw Error(name + ": file too large");
  const auto* data = reinterpret_cast<const stbi_uc*>(bytes.data());
  const int length = static_cast<int>(bytes.size());
  int w = 0, h = 0, channels = 0;
  if (!stbi_info_from_memory(data, length, &w, &h, &channels)) {
    throw Error(name + ": not a readable image (" + stbi_failure_reason() + "); give PNG, JPEG, BMP or PGM files");
  }
  if (w <= 0 || h <= 0 || w > kMaxSide || h > kMaxSide) {
    throw Error(name + ": image size " + std::to_string(w) + "x" + std::to_string(h) + " is outside 1.." +
                std::to_string(kMaxSide));
  }
  std::unique_ptr<unsigned char, decltype(&stbi_image_free)> pixels(
      stbi_load_from_memory(data, length, &w, &h, &channels, 1), &stbi_image_free);
  if (!pixels) throw Error(name + ": corrupt image (" + std::string(stbi_failure_reason()) + ")");
  auto image =
      fitted_to(torch::from_blob(pixels.get(), {1, h, w}, torch::kUInt8).to(torch::kFloat).div_(255.0), height, width);
  image.original_channels = channels;
  return image;
}

LoadedImage load_grayscale_image(const std::string& path, int height, int width) {
  return decode_grayscale_image(read_image_bytes(path), path, height, width);
}

namespace {

// TIFF: byte order, the first directory's offset, then 12-byte entries; tags 256 and 257 hold the
// width and the height as a SHORT (3) or LONG (4).
std::optional<ImageHeader> read_tiff_header(const std::string& bytes) {
  const bool little = bytes.compare(0, 4, std::string("II*\0", 4)) == 0;
  if (!little && bytes.compare(0, 4, std::string("MM\0*", 4)) != 0) return std::nullopt;
  auto number = [&](size_t at, size_t size) -> std::optional<uint32_t> {
    if (at + size > bytes.size()) return std::nullopt;
    uint32_t value = 0;
    for (size_t i = 0; i < size; ++i) {
      const auto byte = static_cast<uint8_t>(bytes[at + (little ? size - 1 - i : i)]);
      value = (value << 8) | byte;
    }
    return value;
  };
  const auto directory = number(4, 4);
  const auto entries = directory ? number(*directory, 2) : std::nullopt;
  if (!entries) return std::nullopt;
  ImageHeader header{"tiff", 0, 0, 0};
  for (uint32_t i = 0; i < *entries; ++i) {
    const size_t entry = size_t{*directory} + 2 + size_t{i} * 12;
    const auto tag = number(entry, 2), type = number(entry + 2, 2);
    if (!tag || !type) return std::nullopt;
    if (*tag != 256 && *tag != 257) continue;
    int& side = *tag == 256 ? header.width : header.height;
    // Another type, or a second entry, would be read by the decoder in a way this check may not
    // see: refused, so that no declared size escapes the limit.
    if ((*type != 3 && *type != 4) || side != 0) return std::nullopt;
    const auto value = number(entry + 8, *type == 3 ? 2 : 4);
    if (!value || *value > static_cast<uint32_t>(std::numeric_limits<int>::max())) return std::nullopt;
    side = static_cast<int>(*value);
  }
  if (header.width <= 0 || header.height <= 0) return std::nullopt;
  return header;
}

// PNG: the signature, then the IHDR chunk (length, "IHDR", width and height big-endian, bit depth,
// colour type). Read here, not by stb_image, which refuses a header that declares more than 2^30
// bytes as unreadable rather than saying its size.
std::optional<ImageHeader> read_png_header(const std::string& bytes) {
  if (bytes.size() < 26 || bytes.compare(0, 8, "\x89PNG\r\n\x1a\n") != 0 || bytes.compare(12, 4, "IHDR") != 0) {
    return std::nullopt;
  }
  auto big_endian = [&](size_t at) {
    uint32_t value = 0;
    for (size_t i = 0; i < 4; ++i) value = (value << 8) | static_cast<uint8_t>(bytes[at + i]);
    return value;
  };
  const uint32_t width = big_endian(16), height = big_endian(20);
  constexpr auto kMaxInt = static_cast<uint32_t>(std::numeric_limits<int>::max());
  if (width == 0 || height == 0 || width > kMaxInt || height > kMaxInt) return std::nullopt;
  int channels = 0;
  switch (static_cast<uint8_t>(bytes[25])) {  // colour type
    case 0: channels = 1; break;              // grey
    case 2: case 3: channels = 3; break;      // RGB, palette
    case 4: channels = 2; break;              // grey + alpha
    case 6: channels = 4; break;              // RGBA
    default: return std::nullopt;
  }
  return ImageHeader{"png", static_cast<int>(width), static_cast<int>(height), channels};
}

std::string stb_format(const std::string& bytes) {
  auto starts = [&](const std::string& magic) { return bytes.compare(0, magic.size(), magic) == 0; };
  if (starts("\x89PNG")) return "png";
  if (starts("\xFF\xD8\xFF")) return "jpeg";
  if (starts("BM")) return "bmp";
  if (starts("GIF8")) return "gif";
  if (bytes.size() >= 2 && bytes[0] == 'P' && bytes[1] >= '1' && bytes[1] <= '6') return "pnm";
  return "tga";  // the one format stb_image knows without a signature
}

}  // namespace

std::optional<ImageHeader> read_image_header(const std::string& bytes) {
  if (bytes.size() < 8) return std::nullopt;
  if (auto tiff = read_tiff_header(bytes)) return tiff;
  if (auto png = read_png_header(bytes)) return png;
  if (bytes.size() > static_cast<size_t>(std::numeric_limits<int>::max())) return std::nullopt;
  int width = 0, height = 0, channels = 0;
  if (!stbi_info_from_memory(reinterpret_cast<const stbi_uc*>(bytes.data()), static_cast<int>(bytes.size()), &width,
                             &height, &channels)) {
    return std::nullopt;
  }
  return ImageHeader{stb_format(bytes), width, height, channels};
}

void check_pixel_view(const PixelView& view, const std::string& name) {
  if (view.data == nullptr) throw Error(name + ": no pixel data (null pointer)");
  if (view.channels < 1 || view.channels > 4) {
    throw Error(name + ": " + std::to_string(view.channels) + " channels; give 1 (grey), 2, 3 (RGB) or 4 (RGBA)");
  }
  if (view.width <= 0 || view.height <= 0 || view.width > kMaxSide || view.height > kMaxSide) {
    throw Error(name + ": image size " + std::to_string(view.width) + "x" + std::to_string(view.height) +
                " is outside 1.." + std::to_string(kMaxSide));
  }
  const int64_t row_bytes = int64_t{view.width} * view.channels * (view.is_float ? 4 : 1);
  if (view.stride != 0 && view.stride < row_bytes) {
    throw Error(name + ": stride of " + std::to_string(view.stride) + " bytes is less than a row's " +
                std::to_string(row_bytes));
  }
  if (view.is_float && view.stride % 4 != 0) throw Error(name + ": the stride of float pixels must be a multiple of 4");
}

LoadedImage grayscale_pixels(const PixelView& view, const std::string& name, int height, int width) {
  check_pixel_view(view, name);
  const int64_t element = view.is_float ? 4 : 1;
  const int64_t stride = view.stride != 0 ? view.stride : int64_t{view.width} * view.channels * element;
  const auto options = torch::TensorOptions(view.is_float ? torch::kFloat : torch::kUInt8);
  const auto samples = torch::from_blob(const_cast<void*>(view.data), {view.height, view.width, view.channels},
                                        {stride / element, view.channels, 1}, options)
                           .to(torch::kFloat);
  at::Tensor grey = samples.select(2, 0);
  if (view.channels >= 3) {
    // stb_image's luma for 8-bit colour files: (77 R + 150 G + 29 B) >> 8, so a buffer and a file
    // of the same pixels score alike.
    const auto weighted = samples.select(2, 0) * 77 + samples.select(2, 1) * 150 + samples.select(2, 2) * 29;
    grey = view.is_float ? weighted / 256.0 : weighted.div(256.0, "floor");
  }
  if (!view.is_float) grey = grey.div(255.0);
  auto image = fitted_to(grey.unsqueeze(0).contiguous(), height, width);
  image.original_channels = view.channels;
  return image;
}

}  // namespace oneclass::data
