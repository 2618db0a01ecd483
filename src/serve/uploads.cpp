#include "serve/uploads.h"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "oneclass/data/images.h"

namespace oneclass::serve {

namespace {

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

// "image/png; charset=..." -> "image/png"
std::string media_type(const std::string& content_type) {
  std::string type = lower(content_type.substr(0, content_type.find(';')));
  type.erase(std::remove_if(type.begin(), type.end(), [](unsigned char c) { return std::isspace(c); }), type.end());
  return type;
}

}  // namespace

std::vector<Upload> uploads_of(const std::string& content_type, const std::vector<FormField>& files,
                               const std::string& body, const UploadLimits& limits) {
  const std::string type = media_type(content_type);
  std::vector<Upload> uploads;
  if (type == "multipart/form-data") {
    for (const auto& file : files) {
      if (file.field != "image") continue;
      uploads.push_back({file.filename.empty() ? "upload" : file.filename, file.content});
    }
    if (uploads.empty()) {
      throw Refusal{400, "the form has no field named 'image'; send the file as image=@FILE (curl -F image=@part.png)"};
    }
  } else if (type.rfind("image/", 0) == 0) {
    uploads.push_back({"upload", body});
  } else {
    throw Refusal{415, (type.empty() ? std::string("no Content-Type") : "Content-Type " + type) +
                           ": send multipart/form-data with a field 'image', or the file itself as image/png, "
                           "image/jpeg, ..."};
  }
  if (uploads.size() > limits.max_images) {
    throw Refusal{413, fmt::format("{} images in one request; at most {} (--max-batch)", uploads.size(),
                                   limits.max_images)};
  }
  for (const auto& upload : uploads) {
    if (upload.bytes.empty()) throw Refusal{400, upload.name + ": empty file"};
  }
  return uploads;
}

void check_declared_image(const Upload& upload, const UploadLimits& limits) {
  const auto header = data::read_image_header(upload.bytes);
  if (!header) {
    throw Refusal{415, upload.name + ": not an image the service reads (or its header is cut short); send PNG, "
                                     "JPEG, BMP, TIFF, GIF or PNM"};
  }
  const int64_t pixels = int64_t{header->width} * header->height;
  if (header->width <= 0 || header->height <= 0 || pixels > limits.max_pixels) {
    throw Refusal{413, fmt::format("{}: its header declares {}x{} pixels, more than the {} this service decodes "
                                   "(--max-pixels)",
                                   upload.name, header->width, header->height, limits.max_pixels)};
  }
}

}  // namespace oneclass::serve
