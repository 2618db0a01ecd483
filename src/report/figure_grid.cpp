// The gnuplot script of a run's result grid: inputs, reconstructions, maps and maps over the
// inputs, every cell placed in pixels, colour images in colour.
#include "report/figure_scripts.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <sstream>

#include <fmt/format.h>

#include "oneclass/error.h"
#include "report/gnuplot.h"

namespace oneclass::report {
namespace {

// ---------------------------------------------------------------------------------------------
// Result grid: one multiplot, every cell placed in pixels so images keep square pixels.

enum class RowKind { input, reconstruction, map, overlay };

struct GridLayout {
  int cols = 0, rows = 0;
  double cell_w = 0, cell_h = 0;  // one image, pixels
  double left = 135, right = 20, top = 62, gap_x = 34, gap_y = 8, captions = 84;
  int width = 0, height = 0;  // canvas

  double col_x(int c) const { return left + c * (cell_w + gap_x); }
  double row_y(int r) const { return top + r * (cell_h + gap_y); }  // top edge, from canvas top
  double captions_y() const { return row_y(rows) - gap_y + 8; }
  double sx(double px) const { return px / width; }         // screen coordinates for gnuplot
  double sy(double px) const { return 1.0 - px / height; }  // gnuplot's y grows upwards
};

GridLayout make_layout(int cols, int rows, int h, int w, bool colorbar, const std::string& heading) {
  GridLayout g;
  g.cols = cols;
  g.rows = rows;
  double scale = 132.0 / std::max(h, w);  // longest image side ~132 px: MNIST at 4.7x
  g.cell_w = w * scale;
  g.cell_h = h * scale;
  if (colorbar) g.right = 95;
  // A long heading over few panels widens the canvas; the grid then moves to the middle.
  double grid_width = g.col_x(cols) - g.gap_x + g.right;
  double heading_width = 11.0 * text_length(heading) + 40;  // ~11 px a character at 14 pt bold
  if (heading_width > grid_width) g.left += (heading_width - grid_width) / 2;
  g.width = static_cast<int>(std::ceil(std::max(grid_width, heading_width)));
  g.height = static_cast<int>(std::ceil(g.captions_y() + g.captions));
  return g;
}

bool has_row(const ResultPanel& p, RowKind kind) {
  switch (kind) {
    case RowKind::input: return !p.input.empty();
    case RowKind::reconstruction: return !p.reconstruction.empty();
    case RowKind::map: return !p.anomaly_map.empty();
    case RowKind::overlay: return p.overlay && !p.anomaly_map.empty();
  }
  return false;
}

// What gnuplot is given of an image: blocks of step x step pixels averaged, so that a cell of
// ~132 px gets about as many values as it has pixels (a 256x256 colour image would otherwise be
// 65,536 lines of text per picture).
struct Display {
  int h = 0, w = 0, step = 1;
};

Display display_of(int h, int w) {
  const int step = std::max(1, (std::max(h, w) + 131) / 132);
  return {(h + step - 1) / step, (w + step - 1) / step, step};
}

// `planes` images of h x w, averaged in blocks (a block at the edge averages what it has).
std::vector<float> block_means(const std::vector<float>& pixels, int planes, int h, int w, const Display& d) {
  if (d.step == 1) return pixels;
  std::vector<float> out(static_cast<size_t>(planes) * d.h * d.w, 0.0F);
  std::vector<int> counts(out.size(), 0);
  for (int c = 0; c < planes; ++c) {
    for (int y = 0; y < h; ++y) {
      for (int x = 0; x < w; ++x) {
        const size_t to = (static_cast<size_t>(c) * d.h + y / d.step) * d.w + x / d.step;
        out[to] += pixels[(static_cast<size_t>(c) * h + y) * w + x];
        counts[to] += 1;
      }
    }
  }
  for (size_t i = 0; i < out.size(); ++i) out[i] /= static_cast<float>(counts[i]);
  return out;
}

// A block is a defect where any of its pixels is.
std::vector<uint8_t> block_any(const std::vector<uint8_t>& mask, int h, int w, const Display& d) {
  if (d.step == 1 || mask.empty()) return mask;
  std::vector<uint8_t> out(static_cast<size_t>(d.h) * d.w, 0);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      if (mask[static_cast<size_t>(y) * w + x]) out[static_cast<size_t>(y / d.step) * d.w + x / d.step] = 1;
    }
  }
  return out;
}

// One text row per image row; gnuplot's `matrix` reads row 0 first, drawn at y = 0.
std::string matrix_text(const std::vector<float>& pixels, int h, int w) {
  std::string text;
  text.reserve(pixels.size() * 10);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) text += (x ? " " : "") + gnuplot_number(pixels[static_cast<size_t>(y) * w + x]);
    text += "\n";
  }
  return text;
}

// "x y r g b" (0-255) per pixel, for gnuplot's rgbimage, from three planes of h x w in [0, 1].
std::string rgb_text(const std::vector<float>& planes, int h, int w) {
  const size_t n = static_cast<size_t>(h) * w;
  const auto byte = [](float v) { return std::to_string(static_cast<int>(std::lround(255.0F * std::clamp(v, 0.0F, 1.0F)))); };
  std::string text;
  text.reserve(n * 18);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      const size_t i = static_cast<size_t>(y) * w + x;
      text += std::to_string(x) + " " + std::to_string(y) + " " + byte(planes[i]) + " " + byte(planes[n + i]) + " " +
              byte(planes[2 * n + i]) + "\n";
    }
  }
  return text;
}

// The maps' palette, evenly spaced stops from 0 to the largest value: black, dark red, red,
// orange, yellow, white. The map row gives it to gnuplot; the overlay row mixes it in itself.
constexpr std::array<uint32_t, 6> kHeatStops{0x000000, 0x7a0000, 0xe02000, 0xff9a00, 0xffff40, 0xffffff};

float channel(uint32_t rgb, int c) { return static_cast<float>((rgb >> (16 - 8 * c)) & 0xFF) / 255.0F; }

// gnuplot's `set palette defined` of kHeatStops.
std::string heat_palette() {
  std::string stops;
  for (size_t i = 0; i < kHeatStops.size(); ++i) {
    stops += fmt::format("{}{} '#{:06x}'", i ? ", " : "", i, kHeatStops[i]);
  }
  return "set palette defined (" + stops + ")\n";
}

// kHeatStops at t in [0, 1], interpolated linearly as gnuplot does, as RGB in [0, 1].
std::array<float, 3> heat_colour(float t) {
  const float at = std::clamp(t, 0.0F, 1.0F) * static_cast<float>(kHeatStops.size() - 1);
  const size_t low = std::min(kHeatStops.size() - 2, static_cast<size_t>(at));
  const float f = at - static_cast<float>(low);
  std::array<float, 3> rgb{};
  for (int c = 0; c < 3; ++c) {
    rgb[c] = channel(kHeatStops[low], c) + f * (channel(kHeatStops[low + 1], c) - channel(kHeatStops[low], c));
  }
  return rgb;
}

// The image in grey with the map laid over it: the heat colour of each pixel's map value (on the
// shared scale up to `hi`), opaque in proportion to that value, up to 70 %. Grey, because the
// heat colours would vanish on warm surfaces (wood, leather); the input row shows the colours.
std::vector<float> overlay_planes(const std::vector<float>& image, int channels, const std::vector<float>& map,
                                  double hi) {
  const size_t n = map.size();
  std::vector<float> out(3 * n);
  for (size_t i = 0; i < n; ++i) {
    const float grey = channels == 3 ? 0.299F * image[i] + 0.587F * image[n + i] + 0.114F * image[2 * n + i] : image[i];
    const float t = std::isfinite(map[i]) ? static_cast<float>(map[i] / hi) : 0.0F;
    const float alpha = 0.7F * std::clamp(t, 0.0F, 1.0F);
    const auto heat = heat_colour(t);
    for (int c = 0; c < 3; ++c) out[static_cast<size_t>(c) * n + i] = (1 - alpha) * grey + alpha * heat[c];
  }
  return out;
}

// One cell's image for gnuplot, averaged to the display size; `rgb` says which plot style reads it.
std::string cell_text(const ResultPanel& p, RowKind kind, const Display& d, double hi, bool& rgb) {
  const int h = p.height, w = p.width;
  rgb = kind == RowKind::overlay || ((kind == RowKind::input || kind == RowKind::reconstruction) && p.channels == 3);
  if (kind == RowKind::map) return matrix_text(block_means(p.anomaly_map, 1, h, w, d), d.h, d.w);
  if (kind == RowKind::overlay) {
    const auto planes = overlay_planes(p.input, p.channels, p.anomaly_map, hi);
    return rgb_text(block_means(planes, 3, h, w, d), d.h, d.w);
  }
  const auto& pixels = kind == RowKind::input ? p.input : p.reconstruction;
  const auto shown = block_means(pixels, p.channels, h, w, d);
  return rgb ? rgb_text(shown, d.h, d.w) : matrix_text(shown, d.h, d.w);
}

// "x y" of each defect pixel with a defect-free 4-neighbour (or on the image's edge): the outline.
std::string outline_points(const std::vector<uint8_t>& mask, int h, int w) {
  auto defect = [&](int y, int x) { return y >= 0 && y < h && x >= 0 && x < w && mask[static_cast<size_t>(y) * w + x]; };
  std::string text;
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      if (defect(y, x) && !(defect(y - 1, x) && defect(y + 1, x) && defect(y, x - 1) && defect(y, x + 1))) {
        text += std::to_string(x) + " " + std::to_string(y) + "\n";
      }
    }
  }
  return text;
}

void check_panels(const std::string& png_path, const std::vector<ResultPanel>& panels) {
  if (panels.empty()) throw Error("result grid " + png_path + ": no panels to draw; pass at least one");
  const auto& first = panels.front();
  for (size_t i = 0; i < panels.size(); ++i) {
    const auto& p = panels[i];
    std::string where = "result grid " + png_path + ", panel " + std::to_string(i) + " (" + p.title + "): ";
    if (p.height <= 0 || p.width <= 0 || p.height != first.height || p.width != first.width)
      throw Error(where + "image size " + std::to_string(p.height) + "x" + std::to_string(p.width) +
                  " must be positive and the same for every panel");
    if (p.channels != 1 && p.channels != 3)
      throw Error(where + "has " + std::to_string(p.channels) + " channels; images are grey (1) or colour (3)");
    size_t n = static_cast<size_t>(p.height) * p.width;
    if (!p.mask.empty() && p.mask.size() != n)
      throw Error(where + "has a mask of " + std::to_string(p.mask.size()) + " values, expected " + std::to_string(n));
    const std::vector<std::pair<const std::vector<float>*, size_t>> images{
        {&p.input, n * p.channels}, {&p.reconstruction, n * p.channels}, {&p.anomaly_map, n}};
    for (size_t k = 0; k < images.size(); ++k) {
      size_t got = images[k].first->size();
      if (got != images[k].second && !(got == 0 && k > 0))
        throw Error(where + "has " + std::to_string(got) + " values in an image, expected " +
                    std::to_string(images[k].second) + " (channels x height x width)");
    }
  }
}

// Shared color scale for all maps, so a brighter map means a larger error in every column.
double map_max(const std::vector<ResultPanel>& panels) {
  double hi = 0;
  for (const auto& p : panels)
    for (float v : p.anomaly_map)
      if (std::isfinite(v)) hi = std::max(hi, static_cast<double>(v));
  return hi > 0 ? hi : 1;
}

std::string label(const GridLayout& g, const std::string& text, double x_px, double y_px,
                  const char* align, const std::string& extra = "") {
  std::ostringstream s;
  s << "set label " << quote(text) << " at screen " << gnuplot_number(g.sx(x_px)) << ", screen " << gnuplot_number(g.sy(y_px))
    << " " << align << " front " << extra << "\n";
  return s.str();
}

// Every text of the grid: heading, row names, and under each column title, score and verdict.
std::string grid_labels(const GridLayout& g, const std::vector<ResultPanel>& panels,
                        const std::vector<std::pair<RowKind, std::string>>& rows, double threshold,
                        const std::string& heading) {
  std::string s = label(g, heading, g.width / 2.0, 30, "center", "font " + font(14, true));
  for (size_t r = 0; r < rows.size(); ++r)
    s += label(g, rows[r].second, g.left - 12, g.row_y(static_cast<int>(r)) + g.cell_h / 2, "right",
               "font " + font(12));
  const double line = 18, y0 = g.captions_y() + 10;
  s += label(g, "score > " + fmt::format("{:.4g}", threshold), g.left - 12, y0 + line, "right", "textcolor rgb 'gray30'");
  s += label(g, "→ flagged", g.left - 12, y0 + 2 * line, "right", "textcolor rgb 'gray30'");
  for (size_t c = 0; c < panels.size(); ++c) {
    const auto& p = panels[c];
    double x = g.col_x(static_cast<int>(c)) + g.cell_w / 2;
    bool mistake = p.flagged != p.is_anomaly;
    std::string verdict = std::string(p.is_anomaly ? "anomaly" : "normal") + " · " + (p.flagged ? "FLAGGED" : "pass");
    std::string color = mistake ? "textcolor rgb '#d00000'" : "textcolor rgb 'black'";
    s += label(g, p.title, x, y0, "center", "font " + font(11, true));
    s += label(g, "score " + fmt::format("{:.4g}", p.score), x, y0 + line, "center");
    s += label(g, verdict, x, y0 + 2 * line, "center", color + (mistake ? " font " + font(11, true) : ""));
    if (mistake)
      s += label(g, p.is_anomaly ? "missed anomaly" : "false alarm", x, y0 + 3 * line, "center", color);
  }
  return s;
}

// Palette, range and optional color bar of one row; gray for images, "hot" for maps (colour
// images and overlays carry their own colours).
std::string row_style(const GridLayout& g, RowKind kind, int row, double map_hi, bool with_colorbar) {
  std::ostringstream s;
  if (kind != RowKind::map) {
    s << "set palette gray\nset cbrange [0:1]\nunset colorbox\n";
    return s.str();
  }
  s << heat_palette()
    << "set cbrange [0:" << gnuplot_number(map_hi) << "]\n";
  if (!with_colorbar) return s.str() + "unset colorbox\n";
  double x = g.col_x(g.cols) - g.gap_x + 14, y_top = g.row_y(row);
  s << "set colorbox user origin screen " << gnuplot_number(g.sx(x)) << ", screen " << gnuplot_number(g.sy(y_top + g.cell_h))
    << " size screen " << gnuplot_number(g.sx(14)) << ", screen " << gnuplot_number(g.cell_h / g.height) << "\n"
    << "set cbtics font " << font(11) << " scale 0.5 textcolor rgb 'black'\nset format cb '%.2g'\n";
  if (g.cell_h < 100) s << "set cbtics " << gnuplot_number(map_hi / 2) << "\n";  // a short bar fits three labels
  return s.str();
}

std::string cell_plot(const GridLayout& g, int row, int col, int h, int w, const std::string& file, bool rgb,
                      const std::string& outline = "") {
  std::ostringstream s;
  double x = g.col_x(col), y = g.row_y(row);
  s << "set lmargin at screen " << gnuplot_number(g.sx(x)) << "\nset rmargin at screen " << gnuplot_number(g.sx(x + g.cell_w))
    << "\nset tmargin at screen " << gnuplot_number(g.sy(y)) << "\nset bmargin at screen " << gnuplot_number(g.sy(y + g.cell_h))
    << "\nset xrange [-0.5:" << w - 0.5 << "]\nset yrange [" << h - 0.5 << ":-0.5]\n"  // row 0 on top
    << "plot " << file << (rgb ? " using 1:2:3:4:5 with rgbimage notitle" : " matrix with image notitle");
  if (!outline.empty()) s << ", " << outline << " using 1:2 with points pt 5 ps 0.12 lc rgb '#00d0ff' notitle";
  s << "\n";
  return s.str();
}

std::string grid_body(const std::vector<ResultPanel>& panels, double threshold,
                      const std::string& heading, GridLayout& g, const DataSink& data) {
  std::vector<std::pair<RowKind, std::string>> rows{{RowKind::input, "input"}};
  auto any = [&](RowKind k) { return std::any_of(panels.begin(), panels.end(), [&](const auto& p) { return has_row(p, k); }); };
  if (any(RowKind::reconstruction)) rows.push_back({RowKind::reconstruction, "reconstruction"});
  if (any(RowKind::map)) rows.push_back({RowKind::map, "anomaly map"});
  if (any(RowKind::overlay)) rows.push_back({RowKind::overlay, "map on input"});
  int h = panels[0].height, w = panels[0].width, cols = static_cast<int>(panels.size());
  const Display d = display_of(h, w);
  g = make_layout(cols, static_cast<int>(rows.size()), d.h, d.w, any(RowKind::map), heading);
  double hi = map_max(panels);

  std::ostringstream s;
  s << "set multiplot\nunset key\nunset xtics\nunset ytics\nset border lw 0.5 lc rgb 'gray60'\n"
    << grid_labels(g, panels, rows, threshold, heading);
  bool labels_drawn = false;
  for (size_t r = 0; r < rows.size(); ++r) {
    const RowKind kind = rows[r].first;
    int last = -1;  // the last panel having this row carries the color bar
    for (int c = 0; c < cols; ++c)
      if (has_row(panels[c], kind)) last = c;
    for (int c = 0; c < cols; ++c) {
      if (!has_row(panels[c], kind)) continue;  // this detector gave no such image for this panel
      const auto mask = block_any(panels[c].mask, h, w, d);
      const bool outlined = (kind == RowKind::input || kind == RowKind::overlay) && !mask.empty();
      const std::string outline = outlined ? outline_points(mask, d.h, d.w) : "";
      bool rgb = false;
      const std::string pixels = cell_text(panels[c], kind, d, hi, rgb);
      s << row_style(g, kind, static_cast<int>(r), hi, c == last)
        << cell_plot(g, static_cast<int>(r), c, d.h, d.w, data(pixels), rgb, outline.empty() ? "" : data(outline));
      // Labels at screen positions are drawn by each plot; draw them with the first one only.
      if (!labels_drawn) s << "unset label\n", labels_drawn = true;
    }
  }
  s << "unset multiplot\n";
  return s.str();
}

}  // namespace

std::string result_grid_script(const std::string& png_path, const std::vector<ResultPanel>& panels, double threshold,
                               const std::string& heading, int& width, int& height, const DataSink& data) {
  check_panels(png_path, panels);
  GridLayout g;
  std::string body = grid_body(panels, threshold, heading, g, data);
  width = g.width;
  height = g.height;
  return body;
}

}  // namespace oneclass::report
