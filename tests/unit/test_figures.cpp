// Figures: every figure type renders to a real PNG in one gnuplot run, failures throw a helpful
// Error and leave neither a final PNG nor temporary files behind.
#include "oneclass/report/figures.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <stb_image.h>  // the decoder compiled into the library (src/data/images.cpp)

#include "oneclass/error.h"
#include "support/test_support.h"

namespace fs = std::filesystem;
using oneclass::Error;
using oneclass::eval::RocCurve;
using oneclass::report::BarPanel;
using oneclass::report::FigureSet;
using oneclass::report::figures_available;
using oneclass::report::figures_status;
using oneclass::report::ResultPanel;
using oneclass::testing_support::read_file;
using oneclass::testing_support::ScopedEnv;
using oneclass::testing_support::TempDir;

namespace {

std::vector<std::string> names_in(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// Width and height from the IHDR chunk, which always follows the 8-byte signature.
std::pair<unsigned, unsigned> png_size(const std::string& bytes) {
  auto be32 = [&](size_t at) {
    unsigned v = 0;
    for (size_t i = 0; i < 4; ++i) v = v << 8 | static_cast<unsigned char>(bytes[at + i]);
    return v;
  };
  return {be32(16), be32(20)};
}

void expect_png(const fs::path& file, size_t min_bytes = 5000) {
  ASSERT_TRUE(fs::exists(file)) << file;
  std::string bytes = read_file(file);
  ASSERT_GE(bytes.size(), 24u) << file;
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8)) << file;
  EXPECT_GE(bytes.size(), min_bytes) << file << " looks empty";
}

std::vector<double> synthetic_loss(int epochs) {
  std::vector<double> loss;
  for (int e = 0; e < epochs; ++e) loss.push_back(0.1 * std::exp(-e / 4.0) + 0.003);
  return loss;
}

// Deterministic, overlapping score distributions: normals around 5, anomalies around 15.
std::vector<double> spread(int n, double center, double width) {
  std::vector<double> v;
  for (int i = 0; i < n; ++i) v.push_back(center + width * std::sin(i * 1.7) * std::cos(i * 0.3));
  return v;
}

RocCurve synthetic_roc() {
  RocCurve roc;
  for (int i = 0; i <= 20; ++i) {
    double f = i / 20.0;
    roc.fpr.push_back(f);
    roc.tpr.push_back(std::sqrt(f) * 0.2 + 0.8 * (i > 0));
    roc.thresholds.push_back(i == 0 ? INFINITY : 20 - i);
  }
  return roc;
}

ResultPanel synthetic_panel(int i, int h, int w, bool recon, bool map) {
  ResultPanel p;
  p.height = h;
  p.width = w;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) p.input.push_back(std::abs(x - w / 2 - (i % 3) + 1) < 2 && y > 3 ? 1.f : 0.f);
  if (recon) p.reconstruction.assign(p.input.begin(), p.input.end());
  if (map)
    for (size_t k = 0; k < p.input.size(); ++k) p.anomaly_map.push_back(0.1f * i * (k % 7 == 0));
  p.is_anomaly = i >= 3;
  p.score = 2.0 + 3 * i;
  p.flagged = p.score > 10;
  p.title = "panel " + std::to_string(i);
  return p;
}

std::vector<ResultPanel> synthetic_panels(int n) {
  std::vector<ResultPanel> panels;
  for (int i = 0; i < n; ++i) panels.push_back(synthetic_panel(i, 28, 28, true, true));
  return panels;
}

class FiguresTest : public ::testing::Test {
 protected:
  void SetUp() override {
    out_ = dir_.path() / "out";
    scratch_ = dir_.path() / "scratch";
    fs::create_directories(out_);
    fs::create_directories(scratch_);
    // The library makes its private folder under TMPDIR: pointing it here shows any leftovers.
    tmpdir_.emplace("TMPDIR", scratch_.string());
  }
  void TearDown() override { tmpdir_.reset(); }
  std::string out(const std::string& name) const { return (out_ / name).string(); }

  TempDir dir_{"oneclass-figures"};  // removed with everything in it after TearDown
  fs::path out_, scratch_;
  std::optional<ScopedEnv> tmpdir_;
};

#define SKIP_WITHOUT_GNUPLOT()                                                     \
  if (!figures_available()) GTEST_SKIP() << "no usable gnuplot: " << figures_status()

TEST_F(FiguresTest, RendersAllFourFigureTypesInOneRun) {
  SKIP_WITHOUT_GNUPLOT();
  FigureSet set;
  set.add_loss_curve(out("loss.png"), synthetic_loss(25));
  set.add_roc(out("roc.png"), synthetic_roc(), 0.9987, 0.010, 0.950);
  set.add_score_histogram(out("scores.png"), spread(300, 5, 3), spread(200, 15, 6), 9.5);
  auto panels = synthetic_panels(8);
  panels[5].mask.assign(panels[5].input.size(), 0);  // a defect square outlined on one input
  for (int y = 4; y < 9; ++y) {
    for (int x = 4; x < 9; ++x) panels[5].mask[static_cast<size_t>(y * panels[5].width + x)] = 1;
  }
  set.add_result_grid(out("grid.png"), panels, 10, "test grid; threshold 10");
  set.render();

  for (const char* name : {"loss.png", "roc.png", "scores.png", "grid.png"}) expect_png(out(name));
  EXPECT_EQ(png_size(read_file(out("loss.png"))), std::make_pair(900u, 600u));
  auto [grid_w, grid_h] = png_size(read_file(out("grid.png")));
  EXPECT_GT(grid_w, grid_h) << "8 columns x 3 rows should be a wide picture";
  EXPECT_EQ(names_in(out_), (std::vector<std::string>{"grid.png", "loss.png", "roc.png", "scores.png"}))
      << "temporary PNGs left next to the figures";
  EXPECT_TRUE(names_in(scratch_).empty()) << "script or data files left in the temp folder";
}

// Camera images: a colour input is drawn in colour, and the map laid over it as a heat map. The
// panels are 200x200 (averaged down 2x for display): a red surface with a map hot on its left half.
TEST_F(FiguresTest, ColourImagesAndHeatMapOverlaysAreDrawnInColour) {
  SKIP_WITHOUT_GNUPLOT();
  const int side = 200, n = side * side;
  std::vector<ResultPanel> panels;
  for (int i = 0; i < 2; ++i) {
    ResultPanel p;
    p.height = p.width = side;
    p.channels = 3;
    p.input.assign(3 * n, 0.1F);
    std::fill(p.input.begin(), p.input.begin() + n, 0.9F);  // the red plane
    p.anomaly_map.assign(n, 0.0F);
    p.mask.assign(n, 0);
    for (int y = 0; y < side; ++y) {
      for (int x = 0; x < side / 2; ++x) p.anomaly_map[y * side + x] = 1.0F;
    }
    for (int y = 80; y < 120; ++y) {
      for (int x = 80; x < 120; ++x) p.mask[y * side + x] = 1;
    }
    p.overlay = true;
    p.title = "panel " + std::to_string(i);
    panels.push_back(p);
  }
  FigureSet set;
  set.add_result_grid(out("colour.png"), panels, 0.5, "colour");
  auto plain = panels;
  for (auto& p : plain) p.overlay = false;
  set.add_result_grid(out("plain.png"), plain, 0.5, "colour");
  set.render();
  const std::string png = read_file(out("colour.png"));
  int w = 0, h = 0, c = 0;
  unsigned char* pixels = stbi_load_from_memory(reinterpret_cast<const unsigned char*>(png.data()),
                                                static_cast<int>(png.size()), &w, &h, &c, 3);
  ASSERT_NE(pixels, nullptr);
  // The input's red; the overlay's grey surface (its cold half) and white-hot half over it.
  int red = 0, grey = 0, heat = 0;
  for (int i = 0; i < w * h; ++i) {
    const int r = pixels[3 * i], g = pixels[3 * i + 1], b = pixels[3 * i + 2];
    red += r > 200 && g < 60 && b < 60;
    grey += std::abs(r - g) < 8 && std::abs(g - b) < 8 && r > 60 && r < 120;
    heat += r > 200 && g > 200 && b > 200 && r < 250;
  }
  stbi_image_free(pixels);
  // Each panel's cells are about 132 x 132 px; the overlay's halves about half of that.
  EXPECT_GT(red, 2 * 110 * 110) << "the red inputs in colour";
  EXPECT_GT(grey, 2 * 50 * 100) << "the overlays' cold halves: the surface in grey";
  EXPECT_GT(heat, 2 * 50 * 100) << "the overlays' hot halves";
  const auto grid_h = png_size(png).second, plain_h = png_size(read_file(out("plain.png"))).second;
  EXPECT_GE(grid_h, plain_h + 132) << "one more row of ~132 px cells: the map on the input";

  panels[0].channels = 2;
  FigureSet bad;
  EXPECT_THROW(bad.add_result_grid(out("bad.png"), panels, 0.5, "two channels"), Error);
}

TEST_F(FiguresTest, DrawsDegenerateInputs) {
  SKIP_WITHOUT_GNUPLOT();
  FigureSet set;
  set.add_loss_curve(out("one_epoch.png"), {0.25});
  set.add_loss_curve(out("flat_with_nan.png"), {0.5, 0.4, NAN, 0.45});
  RocCurve two_points{{0, 1}, {0, 1}, {INFINITY, 0}};
  set.add_roc(out("roc_no_point.png"), two_points, 0.5, NAN, NAN);
  set.add_score_histogram(out("equal_scores.png"), {3, 3, 3}, {}, 100);
  // Non-square images, input row only, no color bar, and a heading wider than the grid.
  std::vector<ResultPanel> panels{synthetic_panel(0, 10, 30, false, false)};
  set.add_result_grid(out("one_panel.png"), panels, 1.5,
                      "a heading much longer than one small panel with quotes ' \" and _under_scores");
  set.render();
  for (const char* name : {"one_epoch.png", "flat_with_nan.png", "roc_no_point.png", "equal_scores.png",
                           "one_panel.png"})
    expect_png(out(name), 2000);
  EXPECT_EQ(names_in(out_).size(), 5u);
  EXPECT_TRUE(names_in(scratch_).empty());
}

TEST_F(FiguresTest, RenderWithNothingAddedDoesNothing) {
  ScopedEnv missing("ONECLASS_GNUPLOT", (dir_.path() / "no-such-gnuplot").string());
  EXPECT_NO_THROW(FigureSet().render());
}

TEST_F(FiguresTest, RejectsInputItCannotDraw) {
  FigureSet set;
  EXPECT_THROW(set.add_loss_curve(out("a.png"), {}), Error);
  EXPECT_THROW(set.add_roc(out("b.png"), RocCurve{{0, 1}, {0}, {}}, 0.5, 0, 0), Error);
  EXPECT_THROW(set.add_score_histogram(out("c.png"), {}, {}, 1), Error);
  EXPECT_THROW(set.add_result_grid(out("d.png"), {}, 1, "empty"), Error);
  auto bad = synthetic_panels(2);
  bad[1].reconstruction.pop_back();
  EXPECT_THROW(set.add_result_grid(out("e.png"), bad, 1, "short reconstruction"), Error);
  bad = synthetic_panels(2);
  bad[1].height = 14;
  EXPECT_THROW(set.add_result_grid(out("f.png"), bad, 1, "mixed sizes"), Error);
  bad = synthetic_panels(2);
  bad[1].mask = {1, 0, 1};
  EXPECT_THROW(set.add_result_grid(out("h.png"), bad, 1, "short mask"), Error);
  set.add_loss_curve(out("g.png"), {1, 2});
  EXPECT_THROW(set.add_loss_curve(out("g.png"), {1, 2}), Error) << "same file added twice";
}

TEST_F(FiguresTest, MissingProgramTurnsFiguresOffAndRenderThrows) {
  std::string missing = (dir_.path() / "no-such-gnuplot").string();
  {
    ScopedEnv env("ONECLASS_GNUPLOT", missing);
    EXPECT_FALSE(figures_available());
    std::string status = figures_status();
    EXPECT_EQ(status.rfind("figures: off (", 0), 0u) << status;
    EXPECT_NE(status.find(missing), std::string::npos) << status;

    FigureSet set;
    set.add_loss_curve(out("loss.png"), synthetic_loss(5));
    try {
      set.render();
      FAIL() << "render() should throw without gnuplot";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("gnuplot"), std::string::npos) << e.what();
    }
    EXPECT_TRUE(names_in(out_).empty());
    EXPECT_TRUE(names_in(scratch_).empty());
  }
  // The cache is keyed by program, so the real gnuplot (if any) is usable again.
  if (figures_status().find("not found") == std::string::npos) {
    EXPECT_TRUE(figures_available()) << figures_status();
  }
}

TEST_F(FiguresTest, ProgramThatFailsThrowsAndLeavesNoPng) {
  ScopedEnv env("ONECLASS_GNUPLOT", "/bin/false");
  EXPECT_FALSE(figures_available());
  EXPECT_NE(figures_status().find("/bin/false"), std::string::npos) << figures_status();
  FigureSet set;
  set.add_loss_curve(out("loss.png"), synthetic_loss(5));
  set.add_result_grid(out("grid.png"), synthetic_panels(3), 10, "grid");
  EXPECT_THROW(set.render(), Error);
  EXPECT_TRUE(names_in(out_).empty());
  EXPECT_TRUE(names_in(scratch_).empty());
}

TEST_F(FiguresTest, GnuplotErrorThrowsAndWritesNoFigureAtAll) {
  SKIP_WITHOUT_GNUPLOT();
  FigureSet set;
  set.add_loss_curve(out("fine.png"), synthetic_loss(5));
  set.add_loss_curve(out("no-such-folder/loss.png"), synthetic_loss(5));
  try {
    set.render();
    FAIL() << "render() should throw when gnuplot cannot write a figure";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("gnuplot"), std::string::npos) << msg;
    EXPECT_NE(msg.find("no-such-folder"), std::string::npos) << "gnuplot's own words missing: " << msg;
  }
  EXPECT_TRUE(names_in(out_).empty()) << "the figure drawn before the error must not survive";
  EXPECT_TRUE(names_in(scratch_).empty());
}

TEST_F(FiguresTest, BenchBarsRejectSeriesThatDoNotMatchTheGroups) {
  FigureSet set;
  EXPECT_THROW(set.add_bench_bars(out("a.png"), "h", {}), Error);
  BarPanel panel{"MNIST", "class", "AUROC (%)", {"0", "1"}, {{"m", {90, 91}, {1}}}};
  try {
    set.add_bench_bars(out("b.png"), "h", {panel});
    FAIL() << "one error for two groups should throw";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("panel 0 (MNIST)"), std::string::npos) << msg;
    EXPECT_NE(msg.find("series m"), std::string::npos) << msg;
  }
  panel.series[0].error.clear();
  EXPECT_NO_THROW(set.add_bench_bars(out("c.png"), "h", {panel})) << "error bars may be left out";
  panel.series.clear();
  EXPECT_THROW(set.add_bench_bars(out("d.png"), "h", {panel}), Error);
}

TEST_F(FiguresTest, BenchBarsDrawPanelsWithMissingValues) {
  SKIP_WITHOUT_GNUPLOT();
  std::vector<BarPanel> panels{
      {"MNIST", "normal class", "AUROC (%)", {"0", "1", "mean"},
       {{"mlp_ae", {97.1, NAN, 96}, {0.4, NAN, 0.2}}, {"it's <quoted>", {95.2, 99.0, 97}, {}}}},
      {"Fashion-MNIST", "normal class", "AUROC (%)", {"0", "mean"}, {{"mlp_ae", {60.5, 60.5}, {3, 3}}}}};
  FigureSet set;
  set.add_bench_bars(out("bars.png"), "heading with 'quotes'", panels);
  set.render();
  expect_png(out("bars.png"), 10000);
  auto [w, h] = png_size(read_file(out("bars.png")));
  EXPECT_GT(h, 700u) << "two panels stacked";
  EXPECT_GE(w, 900u);
  EXPECT_EQ(names_in(out_), std::vector<std::string>{"bars.png"});
  EXPECT_TRUE(names_in(scratch_).empty());
}

TEST_F(FiguresTest, StatusNamesVersionAndPath) {
  SKIP_WITHOUT_GNUPLOT();
  std::string status = figures_status();
  EXPECT_EQ(status.rfind("figures: gnuplot ", 0), 0u) << status;
  EXPECT_NE(status.find("(/"), std::string::npos) << status;
}

TEST_F(FiguresTest, OverrideByNameIsLookedUpOnPath) {
  SKIP_WITHOUT_GNUPLOT();
  ScopedEnv path("PATH", "/usr/local/bin:/usr/bin:/bin");
  ScopedEnv env("ONECLASS_GNUPLOT", "gnuplot");
  if (!fs::exists("/usr/bin/gnuplot") && !fs::exists("/usr/local/bin/gnuplot") && !fs::exists("/bin/gnuplot"))
    GTEST_SKIP() << "gnuplot is not in a standard folder";
  EXPECT_TRUE(figures_available()) << figures_status();
}

}  // namespace
