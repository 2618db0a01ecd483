// Camera images through OpenCV; see include/oneclass/data/image_files.h.
#include "oneclass/data/image_files.h"

#include <cstdlib>
#include <filesystem>
#include <mutex>

#include <torch/torch.h>

#include "oneclass/config.h"
#include "oneclass/error.h"
#include "oneclass/util/atomic_file.h"

#ifdef ONECLASS_HAVE_OPENCV
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#endif

namespace oneclass::data {

#ifdef ONECLASS_HAVE_OPENCV
namespace {

constexpr uintmax_t kMaxFileBytes = uintmax_t{1} << 30;

// OpenCV checks an image's size against these limits from its header, before it allocates or
// decodes anything; it reads them once, at its first decode.
void limit_decoded_sizes() {
  static std::once_flag once;
  std::call_once(once, [] {
    ::setenv("OPENCV_IO_MAX_IMAGE_PIXELS", "268435456", /*overwrite=*/0);  // 2^28: 16384 x 16384
    ::setenv("OPENCV_IO_MAX_IMAGE_WIDTH", "65536", 0);
    ::setenv("OPENCV_IO_MAX_IMAGE_HEIGHT", "65536", 0);
  });
}

void require_file(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) throw Error(path + ": no such file (or not readable)");
  const auto bytes = std::filesystem::file_size(path, ec);
  if (ec || bytes == 0) throw Error(path + ": empty or unreadable file");
  if (bytes > kMaxFileBytes) throw Error(path + ": " + std::to_string(bytes) + " bytes is more than 1 GiB for one image");
}

cv::Mat decode(const std::string& path, int flags) {
  require_file(path);
  limit_decoded_sizes();
  cv::Mat image;
  try {
    image = cv::imread(path, flags);
  } catch (const cv::Exception& e) {
    throw Error(path + ": cannot decode (" + e.msg + ")");
  }
  if (image.empty()) {
    throw Error(path + ": not a readable image, or corrupt; give PNG, JPEG, BMP or TIFF files of 8 or 16 bits");
  }
  if (image.depth() != CV_8U && image.depth() != CV_16U) {
    throw Error(path + ": " + std::to_string(image.elemSize1() * 8) + "-bit samples; give 8- or 16-bit images");
  }
  return image;
}

// The centre square of side min(height, width): cut before anything else, so that a long thin
// file costs no more than its square, and an image and its mask are cut identically.
cv::Mat centre_square(const cv::Mat& image) {
  const int side = std::min(image.rows, image.cols);
  return image(cv::Rect((image.cols - side) / 2, (image.rows - side) / 2, side, side));
}

// OpenCV's own failures (and running out of memory) become an Error naming the file, so that the
// caller can skip the file instead of stopping.
template <typename Read>
auto reading(const std::string& path, Read read) {
  try {
    return read();
  } catch (const cv::Exception& e) {
    throw Error(path + ": cannot convert the image (" + e.msg + ")");
  } catch (const std::bad_alloc&) {
    throw Error(path + ": out of memory while converting the image");
  }
}

}  // namespace

bool image_files_supported() { return true; }

std::string image_files_status() { return std::string("folder data: OpenCV ") + CV_VERSION; }

int image_file_channels(const std::string& path) {
  // IMREAD_UNCHANGED keeps the file's channels; the decode is the price of knowing them for every
  // format OpenCV reads (TIFF included).
  const cv::Mat image = decode(path, cv::IMREAD_UNCHANGED);
  return image.channels() >= 3 ? 3 : 1;
}

ImageFile read_image_file(const std::string& path, const ImageGeometry& geometry) {
  if (geometry.channels != 1 && geometry.channels != 3) {
    throw Error("--channels " + std::to_string(geometry.channels) + ": give 1 (grey) or 3 (colour)");
  }
  if (geometry.size < 8 || geometry.size > 4096) {
    throw Error("--image-size " + std::to_string(geometry.size) + ": give a side between 8 and 4096 pixels");
  }
  return reading(path, [&] {
    const cv::Mat raw = decode(path, cv::IMREAD_UNCHANGED | cv::IMREAD_ANYDEPTH);
    ImageFile file;
    file.original_height = raw.rows;
    file.original_width = raw.cols;
    file.original_channels = raw.channels() >= 3 ? 3 : 1;
    const cv::Mat square = centre_square(raw);
    cv::Mat converted;
    const bool grey_wanted = geometry.channels == 1;
    switch (raw.channels()) {
      case 1:
      case 2: {  // grey, or grey + alpha: the alpha channel is dropped
        cv::Mat grey;
        cv::extractChannel(square, grey, 0);
        if (grey_wanted) {
          converted = grey;
        } else {
          cv::cvtColor(grey, converted, cv::COLOR_GRAY2RGB);
        }
        break;
      }
      case 3: cv::cvtColor(square, converted, grey_wanted ? cv::COLOR_BGR2GRAY : cv::COLOR_BGR2RGB); break;
      case 4: cv::cvtColor(square, converted, grey_wanted ? cv::COLOR_BGRA2GRAY : cv::COLOR_BGRA2RGB); break;
      default: throw Error(path + ": " + std::to_string(raw.channels()) + " channels; give grey, RGB or RGBA images");
    }
    const double full_scale = raw.depth() == CV_16U ? 65535.0 : 255.0;
    cv::Mat as_float, resized;
    converted.convertTo(as_float, CV_32F, 1.0 / full_scale);
    const bool shrinking = as_float.rows >= geometry.size;
    cv::resize(as_float, resized, cv::Size(geometry.size, geometry.size), 0, 0,
               shrinking ? cv::INTER_AREA : cv::INTER_LINEAR);
    file.pixels = torch::from_blob(resized.ptr<float>(), {geometry.size, geometry.size, geometry.channels},
                                   torch::kFloat)
                      .permute({2, 0, 1})
                      .clamp(0.0, 1.0)
                      .contiguous();
    return file;
  });
}

at::Tensor read_mask_file(const std::string& path, int size, int image_height, int image_width) {
  // Orientation ignored as for the images (IMREAD_UNCHANGED), so that a JPEG's EXIF tag cannot
  // turn a mask against its image.
  const cv::Mat raw = decode(path, cv::IMREAD_GRAYSCALE | cv::IMREAD_ANYDEPTH | cv::IMREAD_IGNORE_ORIENTATION);
  if (raw.rows != image_height || raw.cols != image_width) {
    throw Error(path + ": mask of " + std::to_string(raw.cols) + "x" + std::to_string(raw.rows) + " for an image of " +
                std::to_string(image_width) + "x" + std::to_string(image_height) + "; masks must match their image");
  }
  return reading(path, [&] {
    cv::Mat binary;
    cv::compare(centre_square(raw), 0, binary, cv::CMP_NE);  // 255 where defect
    cv::Mat square;
    cv::resize(binary, square, cv::Size(size, size), 0, 0, cv::INTER_NEAREST);
    return torch::from_blob(square.ptr<uint8_t>(), {size, size}, torch::kUInt8).gt(0).to(torch::kUInt8);
  });
}

namespace {

void write_encoded(const std::string& path, const std::string& extension, const cv::Mat& image,
                   const std::vector<int>& parameters = {}) {
  std::vector<uint8_t> bytes;
  if (!cv::imencode(extension, image, bytes, parameters)) throw Error(path + ": cannot encode " + extension);
  write_file_atomic(path, std::string(bytes.begin(), bytes.end()));
}

}  // namespace

void write_png(const std::string& path, const at::Tensor& pixels) {
  const auto rgb = pixels.to(torch::kUInt8).contiguous();
  if (rgb.dim() != 2 && !(rgb.dim() == 3 && (rgb.size(2) == 1 || rgb.size(2) == 3))) {
    throw Error(path + ": write_png needs [H, W] or [H, W, 1 or 3] pixels, got " + c10::str(rgb.sizes()));
  }
  const int channels = rgb.dim() == 2 ? 1 : static_cast<int>(rgb.size(2));
  cv::Mat view(static_cast<int>(rgb.size(0)), static_cast<int>(rgb.size(1)), CV_8UC(channels),
               const_cast<uint8_t*>(rgb.data_ptr<uint8_t>()));
  cv::Mat bgr = view;
  if (channels == 3) cv::cvtColor(view, bgr, cv::COLOR_RGB2BGR);
  write_encoded(path, ".png", bgr, {cv::IMWRITE_PNG_COMPRESSION, 9});
}

void write_float_tiff(const std::string& path, const at::Tensor& map) {
  const auto values = map.to(torch::kCPU, torch::kFloat).contiguous();
  if (values.dim() != 2) throw Error(path + ": a map is [H, W], got " + c10::str(values.sizes()));
  const cv::Mat view(static_cast<int>(values.size(0)), static_cast<int>(values.size(1)), CV_32FC1,
                     const_cast<float*>(values.data_ptr<float>()));
  write_encoded(path, ".tiff", view);
}

void write_heat_map_overlay(const std::string& path, const at::Tensor& image, const at::Tensor& map, double map_max) {
  const auto rgb = image.to(torch::kCPU, torch::kFloat).expand({3, -1, -1}).permute({1, 2, 0}).mul(255).clamp(0, 255)
                       .to(torch::kUInt8).contiguous();
  const auto level = map.to(torch::kCPU, torch::kFloat).div(map_max > 0 ? map_max : 1.0).clamp(0, 1).mul(255)
                         .to(torch::kUInt8).contiguous();
  const int height = static_cast<int>(rgb.size(0)), width = static_cast<int>(rgb.size(1));
  if (level.dim() != 2 || level.size(0) != height || level.size(1) != width) {
    throw Error(path + ": map " + c10::str(level.sizes()) + " does not match image " + c10::str(image.sizes()));
  }
  cv::Mat picture(height, width, CV_8UC3, const_cast<uint8_t*>(rgb.data_ptr<uint8_t>()));
  cv::Mat bgr, heat, blended;
  cv::cvtColor(picture, bgr, cv::COLOR_RGB2BGR);
  cv::applyColorMap(cv::Mat(height, width, CV_8UC1, const_cast<uint8_t*>(level.data_ptr<uint8_t>())), heat,
                    cv::COLORMAP_INFERNO);
  cv::addWeighted(bgr, 0.5, heat, 0.5, 0, blended);
  write_encoded(path, ".png", blended);
}

#else  // no OpenCV: folder data is off, and says how to switch it on

namespace {
[[noreturn]] void folder_data_off() { throw Error(image_files_status()); }
}  // namespace

bool image_files_supported() { return false; }
std::string image_files_status() {
  return "folder data is off in this build: it reads images with OpenCV, which was not found; apt-get install "
         "libopencv-dev, then configure and build again (make does both)";
}
int image_file_channels(const std::string&) { folder_data_off(); }
ImageFile read_image_file(const std::string&, const ImageGeometry&) { folder_data_off(); }
at::Tensor read_mask_file(const std::string&, int, int, int) { folder_data_off(); }
void write_png(const std::string&, const at::Tensor&) { folder_data_off(); }
void write_float_tiff(const std::string&, const at::Tensor&) { folder_data_off(); }
void write_heat_map_overlay(const std::string&, const at::Tensor&, const at::Tensor&, double) { folder_data_off(); }

#endif

}  // namespace oneclass::data
