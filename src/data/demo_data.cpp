// The synthetic inspection data set; see include/oneclass/data/demo_data.h.
// Surfaces: a photograph (a GIMP pattern tiled, or a scikit-image texture) resampled through a
// random rotation, scale and offset with a random brightness; or, without the photograph, fractal
// value noise coloured like the material. Defects are painted through a mask that is then written
// as it is, so the mask is exact: the painted region, no other pixel changed (a faint stain can
// leave a masked pixel at its old 8-bit value).
#include "oneclass/data/demo_data.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>

#include <torch/torch.h>

#include "oneclass/config.h"
#include "oneclass/data/image_files.h"
#include "oneclass/error.h"
#include "oneclass/util/atomic_file.h"

#ifdef ONECLASS_HAVE_OPENCV
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#endif

namespace oneclass::data {

const std::vector<DemoCategory>& demo_categories() {
  static const std::vector<DemoCategory> categories{
      {"wood", 3, {"scratch", "hole", "contamination"}, "gimp/2.0/patterns/Wood/wood1.pat"},
      {"marble", 3, {"crack", "stain"}, "gimp/2.0/patterns/Stone/marble1.pat"},
      {"leather", 3, {"scratch", "stain", "hole"}, "gimp/2.0/patterns/Animal/leather.pat"},
      {"gravel", 1, {"crack", "contamination"}, "skimage/data/gravel.png"},
  };
  return categories;
}

namespace {

uint32_t big_endian_u32(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

}  // namespace

GimpPattern read_gimp_pattern(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open the GIMP pattern");
  const std::string bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
  if (bytes.size() < 24 || std::memcmp(data + 20, "GPAT", 4) != 0) {
    throw Error(path + ": not a GIMP pattern (no GPAT header)");
  }
  const uint32_t header = big_endian_u32(data), version = big_endian_u32(data + 4);
  const uint32_t width = big_endian_u32(data + 8), height = big_endian_u32(data + 12);
  const uint32_t channels = big_endian_u32(data + 16);
  if (version != 1 || header < 24 || header > 24 + 4096 || width == 0 || height == 0 || width > 8192 ||
      height > 8192 || channels == 0 || channels > 4) {
    throw Error(path + ": GIMP pattern header out of range (version " + std::to_string(version) + ", " +
                std::to_string(width) + "x" + std::to_string(height) + "x" + std::to_string(channels) + ")");
  }
  const uint64_t pixel_bytes = uint64_t{width} * height * channels;
  if (bytes.size() < header + pixel_bytes) {
    throw Error(path + ": GIMP pattern truncated: " + std::to_string(bytes.size()) + " bytes, header says " +
                std::to_string(header + pixel_bytes));
  }
  GimpPattern pattern;
  pattern.width = static_cast<int>(width);
  pattern.height = static_cast<int>(height);
  pattern.channels = static_cast<int>(channels);
  pattern.name = std::string(bytes.data() + 24, strnlen(bytes.data() + 24, header - 24));
  pattern.pixels.assign(data + header, data + header + pixel_bytes);
  return pattern;
}

#ifdef ONECLASS_HAVE_OPENCV
namespace {

namespace fs = std::filesystem;

// Draws from the seed through integer arithmetic only, so the files do not depend on how a
// standard library implements its distributions.
class Draws {
 public:
  explicit Draws(uint64_t seed) : engine_(seed) {}
  double uniform(double low, double high) { return low + (high - low) * static_cast<double>(engine_() >> 11) * 0x1p-53; }
  int integer(int low, int high) { return low + static_cast<int>(engine_() % static_cast<uint64_t>(high - low + 1)); }
  bool coin() { return (engine_() >> 63) != 0; }

 private:
  std::mt19937_64 engine_;
};

// A surface source: the material's photograph at its own scale, float RGB or grey in [0, 1].
struct Material {
  cv::Mat photograph;  // empty: procedural
  bool tileable = false;
  std::string source = "procedural";
  cv::Scalar dark, light;  // the procedural palette
};

cv::Mat to_channels(const cv::Mat& image, int channels) {
  if (image.channels() == channels) return image;
  cv::Mat converted;
  cv::cvtColor(image, converted, channels == 1 ? cv::COLOR_RGB2GRAY : cv::COLOR_GRAY2RGB);
  return converted;
}

cv::Mat load_photograph(const std::string& path, int channels) {
  cv::Mat image;
  if (fs::path(path).extension() == ".pat") {
    GimpPattern p = read_gimp_pattern(path);
    cv::Mat raw(p.height, p.width, CV_8UC(p.channels), p.pixels.data());
    cv::Mat pixels = raw;
    if (p.channels == 2) cv::extractChannel(raw, pixels, 0);
    if (p.channels == 4) cv::cvtColor(raw, pixels, cv::COLOR_RGBA2RGB);
    raw = pixels;
    raw.convertTo(image, CV_32F, 1.0 / 255);
  } else {
    cv::Mat raw = cv::imread(path, cv::IMREAD_COLOR);
    if (raw.empty()) throw Error(path + ": cannot read the texture photograph");
    cv::cvtColor(raw, raw, cv::COLOR_BGR2RGB);
    raw.convertTo(image, CV_32F, 1.0 / 255);
  }
  return to_channels(image, channels);
}

std::vector<std::string> texture_dirs(const DemoDataOptions& options) {
  if (!options.texture_dirs.empty()) return options.texture_dirs;
  return {"/usr/share", "/usr/lib/python3/dist-packages"};
}

Material material_for(const DemoCategory& category, const DemoDataOptions& options) {
  static const std::map<std::string, std::pair<cv::Scalar, cv::Scalar>> palettes{
      {"wood", {{0.35, 0.20, 0.08}, {0.75, 0.55, 0.30}}},
      {"marble", {{0.55, 0.55, 0.58}, {0.95, 0.94, 0.92}}},
      {"leather", {{0.25, 0.13, 0.07}, {0.55, 0.33, 0.18}}},
      {"gravel", {{0.25, 0.25, 0.25}, {0.75, 0.75, 0.75}}},
  };
  Material m;
  m.dark = palettes.at(category.name).first;
  m.light = palettes.at(category.name).second;
  for (const std::string& dir : texture_dirs(options)) {
    const fs::path candidate = fs::path(dir) / category.photograph;
    std::error_code ec;
    if (!fs::is_regular_file(candidate, ec)) continue;
    m.photograph = load_photograph(candidate.string(), category.channels);
    m.tileable = candidate.extension() == ".pat";  // GIMP patterns repeat seamlessly
    m.source = candidate.string();
    break;
  }
  return m;
}

// Fractal value noise in [0, 1]: octaves of random grids, each resized smoothly to the image.
cv::Mat value_noise(int size, Draws& draws, int octaves) {
  cv::Mat sum = cv::Mat::zeros(size, size, CV_32F);
  double weight = 1.0, total = 0.0;
  for (int o = 0; o < octaves; ++o) {
    const int cells = 3 << o;
    cv::Mat grid(cells, cells, CV_32F);
    for (int i = 0; i < cells * cells; ++i) grid.at<float>(i) = static_cast<float>(draws.uniform(0, 1));
    cv::Mat smooth;
    cv::resize(grid, smooth, cv::Size(size, size), 0, 0, cv::INTER_CUBIC);
    sum += weight * smooth;
    total += weight;
    weight *= 0.5;
  }
  sum /= total;
  cv::normalize(sum, sum, 0, 1, cv::NORM_MINMAX);
  return sum;
}

cv::Mat procedural_surface(const Material& m, int size, int channels, Draws& draws) {
  const cv::Mat t = value_noise(size, draws, 5);
  std::vector<cv::Mat> planes;
  for (int c = 0; c < 3; ++c) planes.push_back(m.dark[c] + t * (m.light[c] - m.dark[c]));
  cv::Mat rgb;
  cv::merge(planes, rgb);
  return to_channels(rgb, channels);
}

// The photograph through a random rotation, scale and offset, at a random brightness.
cv::Mat photographed_surface(const Material& m, int size, Draws& draws) {
  cv::Mat canvas = m.photograph;
  const double scale = m.tileable ? draws.uniform(1.6, 2.4) : draws.uniform(0.85, 1.15);
  if (m.tileable) {  // enough repeats of the tile to cover any rotation of the crop
    const int need = static_cast<int>(std::ceil(size * 1.5 / scale)) + 1;
    cv::repeat(m.photograph, need / m.photograph.rows + 1, need / m.photograph.cols + 1, canvas);
  }
  const double angle = m.tileable ? draws.uniform(0, 360) : draws.uniform(-180, 180);
  // A centre that keeps the rotated crop inside the canvas.
  const double reach = size * 0.75 / scale;
  const cv::Point2f centre(static_cast<float>(draws.uniform(reach, std::max(reach, canvas.cols - reach))),
                           static_cast<float>(draws.uniform(reach, std::max(reach, canvas.rows - reach))));
  cv::Mat transform = cv::getRotationMatrix2D(centre, angle, scale);
  transform.at<double>(0, 2) += size / 2.0 - centre.x;
  transform.at<double>(1, 2) += size / 2.0 - centre.y;
  cv::Mat surface;
  cv::warpAffine(canvas, surface, transform, cv::Size(size, size), cv::INTER_LINEAR, cv::BORDER_REFLECT);
  surface = surface * draws.uniform(0.88, 1.12) + cv::Scalar::all(draws.uniform(-0.04, 0.04));
  return surface;
}

cv::Mat surface_of(const Material& m, int size, int channels, Draws& draws) {
  cv::Mat s = m.photograph.empty() ? procedural_surface(m, size, channels, draws) : photographed_surface(m, size, draws);
  cv::min(cv::max(s, 0.0), 1.0, s);
  return s;
}

// ---- Defects: each paints `region` (CV_8U, 255 = changed) and changes exactly those pixels. ----

int stroke_width(int size, Draws& draws) { return std::max(1, static_cast<int>(std::lround(size / 128.0 * draws.uniform(1, 2.5)))); }

cv::Point random_point(int size, Draws& draws, double margin) {
  return {draws.integer(static_cast<int>(size * margin), static_cast<int>(size * (1 - margin))),
          draws.integer(static_cast<int>(size * margin), static_cast<int>(size * (1 - margin)))};
}

// A path of `segments` steps from `start`, each turning by up to `turn` radians.
std::vector<cv::Point> wandering_path(cv::Point start, int segments, double step, double turn, Draws& draws) {
  std::vector<cv::Point> path{start};
  double heading = draws.uniform(0, 2 * M_PI);
  cv::Point2d at(start);
  for (int i = 0; i < segments; ++i) {
    heading += draws.uniform(-turn, turn);
    at += cv::Point2d(std::cos(heading), std::sin(heading)) * step;
    path.emplace_back(at);
  }
  return path;
}

// Blends `colour` over the region with opacity `alpha`.
void tint(cv::Mat& image, const cv::Mat& region, const cv::Scalar& colour, double alpha) {
  cv::Mat painted;
  cv::addWeighted(image, 1 - alpha, cv::Mat(image.size(), image.type(), colour), alpha, 0, painted);
  painted.copyTo(image, region);
}

cv::Scalar shade(const cv::Mat& image, const cv::Mat& region, double delta) {
  cv::Scalar mean = cv::mean(image, region);
  for (int c = 0; c < 4; ++c) mean[c] = std::clamp(mean[c] + delta, 0.0, 1.0);
  return mean;
}

void paint_scratch(cv::Mat& image, cv::Mat& region, Draws& draws) {
  const int size = image.rows;
  const double length = size * draws.uniform(0.15, 0.45);
  const int segments = draws.integer(2, 4);
  const auto path = wandering_path(random_point(size, draws, 0.15), segments, length / segments, 0.35, draws);
  cv::polylines(region, path, false, 255, stroke_width(size, draws), cv::LINE_8);
  const double contrast = draws.uniform(0.15, 0.5);
  tint(image, region, shade(image, region, draws.coin() ? contrast : -contrast), draws.uniform(0.6, 1.0));
}

void paint_crack(cv::Mat& image, cv::Mat& region, Draws& draws) {
  const int size = image.rows;
  const int segments = draws.integer(8, 15);
  const auto path = wandering_path(random_point(size, draws, 0.2), segments, size * draws.uniform(0.02, 0.04), 0.8, draws);
  const int width = std::max(1, stroke_width(size, draws) - 1);
  cv::polylines(region, path, false, 255, width, cv::LINE_8);
  const auto branch = wandering_path(path[path.size() / 2], segments / 2, size * 0.025, 0.9, draws);
  cv::polylines(region, branch, false, 255, width, cv::LINE_8);
  tint(image, region, shade(image, region, -draws.uniform(0.25, 0.6)), draws.uniform(0.7, 1.0));
}

void paint_stain(cv::Mat& image, cv::Mat& region, Draws& draws) {
  const int size = image.rows;
  const cv::Size axes(static_cast<int>(size * draws.uniform(0.03, 0.12)), static_cast<int>(size * draws.uniform(0.03, 0.1)));
  cv::ellipse(region, random_point(size, draws, 0.15), axes, draws.uniform(0, 180), 0, 360, 255, cv::FILLED, cv::LINE_8);
  cv::Scalar colour = shade(image, region, 0);
  for (int c = 0; c < image.channels(); ++c) colour[c] = std::clamp(colour[c] + draws.uniform(-0.35, 0.35), 0.0, 1.0);
  tint(image, region, colour, draws.uniform(0.35, 0.8));
}

void paint_hole(cv::Mat& image, cv::Mat& region, Draws& draws) {
  const int size = image.rows;
  const int radius = std::max(2, static_cast<int>(size * draws.uniform(0.02, 0.06)));
  cv::circle(region, random_point(size, draws, 0.1), radius, 255, cv::FILLED, cv::LINE_8);
  tint(image, region, cv::Scalar::all(draws.uniform(0.02, 0.12)), 1.0);
}

void paint_contamination(cv::Mat& image, cv::Mat& region, const cv::Mat& foreign, Draws& draws) {
  const int size = image.rows;
  const cv::Point centre = random_point(size, draws, 0.2);
  for (int i = 0; i < 3; ++i) {  // a blob of three overlapping ellipses
    const cv::Point offset(draws.integer(-size / 20, size / 20), draws.integer(-size / 20, size / 20));
    const cv::Size axes(static_cast<int>(size * draws.uniform(0.04, 0.1)), static_cast<int>(size * draws.uniform(0.03, 0.08)));
    cv::ellipse(region, centre + offset, axes, draws.uniform(0, 180), 0, 360, 255, cv::FILLED, cv::LINE_8);
  }
  foreign.copyTo(image, region);
}

// A surface of another material: what contaminates this one.
const DemoCategory& foreign_category(const DemoCategory& category) {
  const auto& all = demo_categories();
  for (size_t i = 0; i < all.size(); ++i) {
    if (all[i].name == category.name) return all[(i + 1) % all.size()];
  }
  return all.front();
}

void paint_defect(const std::string& kind, cv::Mat& image, cv::Mat& region, const cv::Mat& foreign, Draws& draws) {
  if (kind == "scratch") return paint_scratch(image, region, draws);
  if (kind == "crack") return paint_crack(image, region, draws);
  if (kind == "stain") return paint_stain(image, region, draws);
  if (kind == "hole") return paint_hole(image, region, draws);
  if (kind == "contamination") return paint_contamination(image, region, foreign, draws);
  throw Error("demo data: unknown defect kind " + kind);
}

// ---- Files ----

// Float images in [0, 1] are quantised to 8 bits; 8-bit ones (masks) are written as they are.
void write_image(const fs::path& path, const cv::Mat& image) {
  cv::Mat bytes = image;
  if (image.depth() != CV_8U) image.convertTo(bytes, CV_8U, 255.0);
  write_png(path.string(),
            torch::from_blob(bytes.data, {bytes.rows, bytes.cols, bytes.channels()}, torch::kUInt8).clone());
}

std::string numbered(int i) {
  char name[16];
  std::snprintf(name, sizeof name, "%03d", i);
  return name;
}

struct CategoryWriter {
  const DemoCategory& category;
  const DemoDataOptions& options;
  Material material, foreign;
  DemoCategoryWritten written;

  void write(const fs::path& path, const cv::Mat& image) {
    write_image(path, image);
    written.files += 1;
    written.bytes += fs::file_size(path);
  }

  void write_all(const fs::path& root, Draws& draws) {
    const int size = options.size, channels = category.channels;
    fs::create_directories(root / "train" / "good");
    fs::create_directories(root / "test" / "good");
    for (int i = 0; i < options.train_images; ++i) {
      write(root / "train" / "good" / (numbered(i) + ".png"), surface_of(material, size, channels, draws));
    }
    for (int i = 0; i < options.good_test_images; ++i) {
      write(root / "test" / "good" / (numbered(i) + ".png"), surface_of(material, size, channels, draws));
    }
    for (const std::string& kind : category.defect_kinds) {
      fs::create_directories(root / "test" / kind);
      fs::create_directories(root / "ground_truth" / kind);
      for (int i = 0; i < options.defect_images; ++i) {
        cv::Mat image = surface_of(material, size, channels, draws);
        const cv::Mat other = kind == "contamination"
                                  ? to_channels(surface_of(foreign, size, foreign_channels(), draws), channels)
                                  : cv::Mat();
        cv::Mat region = cv::Mat::zeros(size, size, CV_8U);
        paint_defect(kind, image, region, other, draws);
        write(root / "test" / kind / (numbered(i) + ".png"), image);
        write(root / "ground_truth" / kind / (numbered(i) + "_mask.png"), region);
      }
    }
  }

  int foreign_channels() const { return foreign_category(category).channels; }
};

constexpr const char* kMarker = ".oneclass-demo-data";

// An existing category folder is replaced only when asked, and only when this program wrote it:
// a user's real data (MVTec AD has a "wood" and a "leather" too) is never deleted.
void clear_category_folder(const fs::path& folder, const DemoDataOptions& options) {
  std::error_code ec;
  if (!fs::exists(folder, ec)) return;
  if (!options.overwrite) {
    throw Error(folder.string() + " exists; choose another folder, or pass --overwrite to replace it");
  }
  if (!fs::exists(folder / kMarker, ec)) {
    throw Error(folder.string() + " was not written by make-demo-data (it has no " + kMarker +
                "); it is not deleted: choose another folder");
  }
  fs::remove_all(folder, ec);
  if (ec) throw Error(folder.string() + ": cannot remove the earlier demo set (" + ec.message() + ")");
}

// FNV-1a: the same on every machine and standard library, unlike std::hash.
uint64_t name_hash(const std::string& name) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : name) h = (h ^ c) * 1099511628211ull;
  return h;
}

void check_options(const DemoDataOptions& o) {
  if (o.folder.empty()) throw Error("make-demo-data: give the folder to write");
  if (o.size < 32 || o.size > 1024) throw Error("--size " + std::to_string(o.size) + ": give 32 to 1024 pixels");
  if (o.train_images < 2 || o.good_test_images < 1 || o.defect_images < 1 || o.train_images > 5000 ||
      o.good_test_images > 5000 || o.defect_images > 5000) {
    throw Error("make-demo-data: need 2-5000 training images, 1-5000 good test images and 1-5000 images per defect kind");
  }
}

}  // namespace

std::vector<DemoCategoryWritten> make_demo_data(const DemoDataOptions& options) {
  check_options(options);
  std::vector<const DemoCategory*> chosen;
  for (const auto& c : demo_categories()) {
    const bool wanted = options.categories.empty() ||
                        std::find(options.categories.begin(), options.categories.end(), c.name) != options.categories.end();
    if (wanted) chosen.push_back(&c);
  }
  for (const auto& name : options.categories) {
    if (std::none_of(chosen.begin(), chosen.end(), [&](const DemoCategory* c) { return c->name == name; })) {
      std::string known;
      for (const auto& c : demo_categories()) known += (known.empty() ? "" : ", ") + c.name;
      throw Error("--categories: unknown category " + name + " (known: " + known + ")");
    }
  }
  for (const DemoCategory* category : chosen) clear_category_folder(fs::path(options.folder) / category->name, options);
  std::vector<DemoCategoryWritten> written;
  for (const DemoCategory* category : chosen) {
    // Each category draws from its own stream: choosing fewer categories changes none of them.
    Draws draws(options.seed * 1000003u + name_hash(category->name));
    CategoryWriter writer{*category, options, material_for(*category, options),
                          material_for(foreign_category(*category), options), {}};
    writer.written.name = category->name;
    writer.written.source = writer.material.source;
    writer.write_all(fs::path(options.folder) / category->name, draws);
    write_file_atomic((fs::path(options.folder) / category->name / kMarker).string(),
                      "written by oneclass make-demo-data; --overwrite may delete this folder\n");
    written.push_back(writer.written);
  }
  return written;
}

#else

std::vector<DemoCategoryWritten> make_demo_data(const DemoDataOptions&) { throw Error(image_files_status()); }

#endif

}  // namespace oneclass::data
