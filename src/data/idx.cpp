#include "oneclass/data/idx.h"

#include <zlib.h>

#include <array>
#include <cstdio>
#include <future>
#include <cstdint>
#include <memory>

#include <torch/torch.h>

#include <fmt/format.h>

#include "oneclass/error.h"

namespace oneclass::data {
namespace {

constexpr uint32_t kImagesMagic = 0x00000803;  // unsigned byte, 3 dimensions
constexpr uint32_t kLabelsMagic = 0x00000801;  // unsigned byte, 1 dimension
// Far above any real IDX file; a damaged header must not make us allocate gigabytes.
constexpr int64_t kMaxElements = int64_t{1} << 32;
constexpr int64_t kMaxSide = 1 << 14;

// What the file itself says about its size, read before trusting any header field.
struct FileFacts {
  uint64_t size = 0;
  bool gzip = false;
  uint32_t gzip_isize = 0;  // the gzip trailer: uncompressed size modulo 2^32
};

FileFacts probe(const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (!file) throw Error("cannot open " + path + ": no such file or no permission");
  FileFacts facts;
  unsigned char magic[2] = {0, 0};
  const size_t got = std::fread(magic, 1, 2, file);
  std::fseek(file, 0, SEEK_END);
  facts.size = static_cast<uint64_t>(std::ftell(file));
  facts.gzip = got == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
  if (facts.gzip && facts.size >= 18) {
    unsigned char trailer[4];
    std::fseek(file, -4, SEEK_END);
    if (std::fread(trailer, 1, 4, file) == 4) {
      facts.gzip_isize = uint32_t{trailer[0]} | (uint32_t{trailer[1]} << 8) | (uint32_t{trailer[2]} << 16) |
                         (uint32_t{trailer[3]} << 24);
    }
  }
  std::fclose(file);
  return facts;
}

// The header announces header_bytes + payload_bytes. Refuse before allocating when the file
// cannot hold that: a plain file must be exactly that long; a gzip file records its uncompressed
// size (modulo 2^32) in its trailer, and deflate cannot expand data more than ~1032:1, which also
// rules out forged headers that match the trailer only modulo 2^32.
void check_announced_size(const std::string& path, const FileFacts& facts, uint64_t header_bytes,
                          uint64_t payload_bytes) {
  const uint64_t announced = header_bytes + payload_bytes;
  const std::string says = "its header announces " + std::to_string(announced) + " bytes";
  if (facts.gzip && announced > 1032 * facts.size + 1024) {
    throw Error(path + ": " + says + ", more than " + std::to_string(facts.size) +
                " bytes of gzip data can hold; the file is damaged or not the matching IDX file");
  }
  const uint64_t actual = facts.gzip ? facts.gzip_isize : facts.size;
  const uint64_t comparable = facts.gzip ? (announced & 0xffffffffu) : announced;
  if (actual > comparable) {
    throw Error(path + ": has " + std::to_string(actual - comparable) + " bytes after the data " + says +
                "; it is not a valid IDX file");
  }
  if (actual < comparable) {
    throw Error(path + ": " + says + " but the " + (facts.gzip ? "gzip data holds " : "file has ") +
                std::to_string(actual) + " (truncated); download it again");
  }
}

// gzread reads gzipped and plain files alike.
class IdxReader {
 public:
  explicit IdxReader(const std::string& path)
      : path_(path), facts_(probe(path)), file_(gzopen(path.c_str(), "rb"), &gzclose) {
    if (!file_) throw Error("cannot open " + path + ": no such file or no permission");
    gzbuffer(file_.get(), 1 << 20);
  }

  void check_size(uint64_t header_bytes, uint64_t payload_bytes) const {
    check_announced_size(path_, facts_, header_bytes, payload_bytes);
  }

  uint32_t read_be32(const char* what) {
    std::array<unsigned char, 4> bytes{};
    read_exact(bytes.data(), bytes.size(), what);
    return (uint32_t{bytes[0]} << 24) | (uint32_t{bytes[1]} << 16) | (uint32_t{bytes[2]} << 8) | bytes[3];
  }

  void read_exact(void* destination, size_t size, const char* what) {
    auto* out = static_cast<unsigned char*>(destination);
    size_t done = 0;
    while (done < size) {
      const unsigned chunk = static_cast<unsigned>(std::min<size_t>(size - done, 1u << 30));
      const int got = gzread(file_.get(), out + done, chunk);
      if (got < 0) {
        int code = 0;
        throw Error(path_ + ": damaged file while reading " + what + " (" + gzerror(file_.get(), &code) +
                    "); download it again");
      }
      if (got == 0) {
        throw Error(path_ + ": truncated: expected " + std::to_string(size) + " bytes of " + what + ", got " +
                    std::to_string(done) + "; download the file again");
      }
      done += static_cast<size_t>(got);
    }
  }

  void expect_end() {
    unsigned char extra = 0;
    if (gzread(file_.get(), &extra, 1) > 0) {
      throw Error(path_ + ": has bytes after the data its header announces; it is not a valid IDX file");
    }
  }

  void expect_magic(uint32_t expected, const char* kind) {
    const uint32_t magic = read_be32("the header");
    if (magic != expected) {
      throw Error(fmt::format("{}: bad magic number 0x{:08x} (an IDX {} file starts with 0x{:08x}); is this the right "
                              "file?", path_, magic, kind, expected));
    }
  }

  const std::string& path() const { return path_; }

 private:
  std::string path_;
  FileFacts facts_;
  std::unique_ptr<gzFile_s, decltype(&gzclose)> file_;
};

}  // namespace

at::Tensor read_idx_images(const std::string& path) {
  IdxReader reader(path);
  reader.expect_magic(kImagesMagic, "image (idx3-ubyte)");
  const int64_t count = reader.read_be32("the image count");
  const int64_t rows = reader.read_be32("the row count");
  const int64_t cols = reader.read_be32("the column count");
  if (rows <= 0 || cols <= 0 || rows > kMaxSide || cols > kMaxSide || count * rows * cols > kMaxElements) {
    throw Error(path + ": implausible header (" + std::to_string(count) + " images of " + std::to_string(rows) + "x" +
                std::to_string(cols) + "); the file is damaged or not an IDX image file");
  }
  reader.check_size(16, static_cast<uint64_t>(count * rows * cols));
  auto images = torch::empty({count, rows, cols}, torch::kUInt8);
  reader.read_exact(images.data_ptr<uint8_t>(), static_cast<size_t>(images.numel()), "pixels");
  reader.expect_end();
  return images;
}

at::Tensor read_idx_labels(const std::string& path) {
  IdxReader reader(path);
  reader.expect_magic(kLabelsMagic, "label (idx1-ubyte)");
  const int64_t count = reader.read_be32("the label count");
  reader.check_size(8, static_cast<uint64_t>(count));
  auto bytes = torch::empty({count}, torch::kUInt8);
  reader.read_exact(bytes.data_ptr<uint8_t>(), static_cast<size_t>(count), "labels");
  reader.expect_end();
  return bytes.to(torch::kLong);
}

LabelledImages read_idx_pair(const std::string& images_path, const std::string& labels_path) {
  LabelledImages set{read_idx_images(images_path), read_idx_labels(labels_path)};
  if (set.images.size(0) != set.labels.size(0)) {
    throw Error("image/label count mismatch: " + images_path + " has " + std::to_string(set.images.size(0)) +
                " images but " + labels_path + " has " + std::to_string(set.labels.size(0)) +
                " labels; the two files do not belong together");
  }
  return set;
}

Dataset load_dataset(const DatasetQuery& query) {
  const DatasetFiles files = locate_dataset(query);
  Dataset dataset;
  dataset.name = dataset_info(query.name).name;
  // The test split is small; reading it beside the training split hides its cost.
  auto test = std::async(std::launch::async, [&] { return read_idx_pair(files.test_images, files.test_labels); });
  dataset.train = read_idx_pair(files.train_images, files.train_labels);
  dataset.test = test.get();
  return dataset;
}

}  // namespace oneclass::data
