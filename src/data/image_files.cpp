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

constexpr uint64_t kMaxFileBytes = uint64_t{1} << 30;

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

// OpenCV's decoders for files and for memory are the same code: a file is read into memory and
// decoded as an upload would be, so that both give the same pixels.
cv::Mat decode(const std::string& bytes, const std::string& name, int flags) {
  limit_decoded_sizes();
  cv::Mat image;
  try {
    const cv::Mat buffer(1, static_cast<int>(bytes.size()), CV_8UC1, const_cast<char*>(bytes.data()));
    image = cv::imdecode(buffer, flags);
  } catch (const cv::Exception& e) {
    throw Error(name + ": cannot decode (" + e.msg + ")");
  }
  if (image.empty()) {
    throw Error(name + ": not a readable image, or corrupt; give PNG, JPEG, BMP or TIFF files of 8 or 16 bits");
  }
  if (image.depth() != CV_8U && image.depth() != CV_16U) {
    throw Error(name + ": " + std::to_string(image.elemSize1() * 8) + "-bit samples; give 8- or 16-bit images");
  }
  return image;
}

cv::Mat decode_file(const std::string& path, int flags) { return decode(read_image_bytes(path, kMaxFileBytes), path, flags); }

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
  const cv::Mat image = decode_file(path, cv::IMREAD_UNCHANGED);
  return image.channels() >= 3 ? 3 : 1;
}

namespace {

void check_geometry(const ImageGeometry& geometry) {
  if (geometry.channels != 1 && geometry.channels != 3) {
    throw Error("--channels " + std::to_string(geometry.channels) + ": give 1 (grey) or 3 (colour)");
  }
  if (geometry.size < 8 || geometry.size > 4096) {
    throw Error("--image-size " + std::to_string(geometry.size) + ": give a side between 8 and 4096 pixels");
  }
}

// A decoded image (OpenCV's BGR order, 8 or 16 bits, or float in [0, 1]) brought to the geometry.
ImageFile convert(const cv::Mat& raw, const std::string& name, const ImageGeometry& geometry) {
  return reading(name, [&] {
    ImageFile file;
    file.original_height = raw.rows;
    file.original_width = raw.cols;
    file.original_channels = raw.channels() >= 3 ? 3 : 1;
    file.stored_channels = raw.channels();
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
      default: throw Error(name + ": " + std::to_string(raw.channels()) + " channels; give grey, RGB or RGBA images");
    }
    const double full_scale = raw.depth() == CV_16U ? 65535.0 : raw.depth() == CV_32F ? 1.0 : 255.0;
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

}  // namespace

ImageFile read_image_file(const std::string& path, const ImageGeometry& geometry) {
  check_geometry(geometry);
  return convert(reading(path, [&] { return decode_file(path, cv::IMREAD_UNCHANGED | cv::IMREAD_ANYDEPTH); }), path,
                 geometry);
}

ImageFile decode_image_file(const std::string& bytes, const std::string& name, const ImageGeometry& geometry) {
  check_geometry(geometry);
  if (bytes.empty()) throw Error(name + ": empty file");
  if (bytes.size() > kMaxFileBytes) throw Error(name + ": more than 1 GiB for one image");
  return convert(reading(name, [&] { return decode(bytes, name, cv::IMREAD_UNCHANGED | cv::IMREAD_ANYDEPTH); }), name,
                 geometry);
}

ImageFile convert_pixels(const PixelView& view, const std::string& name, const ImageGeometry& geometry) {
  check_geometry(geometry);
  check_pixel_view(view, name);
  const int type = view.is_float ? CV_32FC(view.channels) : CV_8UC(view.channels);
  const size_t step = view.stride > 0 ? static_cast<size_t>(view.stride) : static_cast<size_t>(cv::Mat::AUTO_STEP);
  const cv::Mat given(view.height, view.width, type, const_cast<void*>(view.data), step);
  return reading(name, [&] {
    // RGB(A) to OpenCV's BGR(A): an exact swap, so that 8-bit pixels end as a file's would. Into
    // a new Mat: cvtColor into a header of `given` would swap the caller's own pixels in place.
    if (view.channels < 3) return convert(given, name, geometry);
    cv::Mat bgr;
    cv::cvtColor(given, bgr, view.channels == 3 ? cv::COLOR_RGB2BGR : cv::COLOR_RGBA2BGRA);
    return convert(bgr, name, geometry);
  });
}

at::Tensor read_mask_file(const std::string& path, int size, int image_height, int image_width) {
  // Orientation ignored as for the images (IMREAD_UNCHANGED), so that a JPEG's EXIF tag cannot
  // turn a mask against its image.
  const cv::Mat raw = decode_file(path, cv::IMREAD_GRAYSCALE | cv::IMREAD_ANYDEPTH | cv::IMREAD_IGNORE_ORIENTATION);
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
  if (channels != 3) return write_encoded(path, ".png", view, {cv::IMWRITE_PNG_COMPRESSION, 9});
  cv::Mat bgr;  // a new Mat: converting into `view` would swap the caller's tensor in place
  cv::cvtColor(view, bgr, cv::COLOR_RGB2BGR);
  write_encoded(path, ".png", bgr, {cv::IMWRITE_PNG_COMPRESSION, 9});
}

void write_float_tiff(const std::string& path, const at::Tensor& map) {
  const auto values = map.to(torch::kCPU, torch::kFloat).contiguous();
  if (values.dim() != 2) throw Error(path + ": a map is [H, W], got " + c10::str(values.sizes()));
  const cv::Mat view(static_cast<int>(values.size(0)), static_cast<int>(values.size(1)), CV_32FC1,
                     const_cast<float*>(values.data_ptr<float>()));
  write_encoded(path, ".tiff", view);
}

std::string encode_heat_map_overlay(const at::Tensor& image, const at::Tensor& map, double map_max) {
  const auto rgb = image.to(torch::kCPU, torch::kFloat).expand({3, -1, -1}).permute({1, 2, 0}).mul(255).clamp(0, 255)
                       .to(torch::kUInt8).contiguous();
  const auto level = map.to(torch::kCPU, torch::kFloat).div(map_max > 0 ? map_max : 1.0).clamp(0, 1).mul(255)
                         .to(torch::kUInt8).contiguous();
  const int height = static_cast<int>(rgb.size(0)), width = static_cast<int>(rgb.size(1));
  if (level.dim() != 2 || level.size(0) != height || level.size(1) != width) {
    throw Error("heat-map overlay: map " + c10::str(level.sizes()) + " does not match image " + c10::str(image.sizes()));
  }
  cv::Mat picture(height, width, CV_8UC3, const_cast<uint8_t*>(rgb.data_ptr<uint8_t>()));
  cv::Mat bgr, heat, blended;
  cv::cvtColor(picture, bgr, cv::COLOR_RGB2BGR);
  cv::applyColorMap(cv::Mat(height, width, CV_8UC1, const_cast<uint8_t*>(level.data_ptr<uint8_t>())), heat,
                    cv::COLORMAP_INFERNO);
  cv::addWeighted(bgr, 0.5, heat, 0.5, 0, blended);
  std::vector<uint8_t> bytes;
  if (!cv::imencode(".png", blended, bytes)) throw Error("heat-map overlay: cannot encode PNG");
  return std::string(bytes.begin(), bytes.end());
}

void write_heat_map_overlay(const std::string& path, const at::Tensor& image, const at::Tensor& map, double map_max) {
  try {
    write_file_atomic(path, encode_heat_map_overlay(image, map, map_max));
  } catch (const Error& e) {
    throw Error(path + ": " + e.what());
  }
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
ImageFile decode_image_file(const std::string&, const std::string&, const ImageGeometry&) { folder_data_off(); }
ImageFile convert_pixels(const PixelView&, const std::string&, const ImageGeometry&) { folder_data_off(); }
at::Tensor read_mask_file(const std::string&, int, int, int) { folder_data_off(); }
void write_png(const std::string&, const at::Tensor&) { folder_data_off(); }
void write_float_tiff(const std::string&, const at::Tensor&) { folder_data_off(); }
void write_heat_map_overlay(const std::string&, const at::Tensor&, const at::Tensor&, double) { folder_data_off(); }
std::string encode_heat_map_overlay(const at::Tensor&, const at::Tensor&, double) { folder_data_off(); }

#endif

}  // namespace oneclass::data
