#pragma once
// What a scoring request carries: image files, taken from a multipart form or from the raw body,
// each checked (type, size, declared dimensions) before anything is decoded.
#include <cstdint>
#include <string>
#include <vector>

namespace oneclass::serve {

/// A request the service refuses: the HTTP status and the message of its JSON error.
struct Refusal {
  int status;
  std::string message;
};

struct Upload {
  std::string name;   // the file name the client gave, or "upload"
  std::string bytes;  // the encoded file
};

struct UploadLimits {
  int64_t max_pixels = 40'000'000;
  size_t max_images = 32;
};

/// One multipart form field: its name, the file name the client gave, its content.
struct FormField {
  std::string field, filename, content;
};

/// The images of a request: every multipart field named `image` (`max_images` at most), or the
/// whole body when `content_type` is image/*. Throws Refusal (400, 413 or 415).
std::vector<Upload> uploads_of(const std::string& content_type, const std::vector<FormField>& files,
                               const std::string& body, const UploadLimits& limits);

/// Checks what an upload's header declares: an image format the service reads, a size within
/// the limit. Throws Refusal (415 for not an image, 413 for too large).
void check_declared_image(const Upload& upload, const UploadLimits& limits);

}  // namespace oneclass::serve
