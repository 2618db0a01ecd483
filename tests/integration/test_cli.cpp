// The real `oneclass` binary: version and model listing, a short run on the genuine MNIST files,
// scoring PNG files cut from the MNIST test set (which must score as they did in the run), and the
// exit codes and messages of bad input.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "oneclass/data/idx.h"
#include "support/cli_support.h"
#include "support/test_support.h"

#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using oneclass::testing_support::contains;
using oneclass::testing_support::read_file;
using oneclass::testing_support::TempDir;
using oneclass::testing_support::write_file;
using oneclass::testing_support::describe;
using oneclass::testing_support::quote;
using oneclass::testing_support::run_cli;
using Result = oneclass::testing_support::CliResult;

const std::string kBinary = oneclass::testing_support::cli_binary();
const std::string kDataDir = oneclass::testing_support::data_dir();

// Writes test image `index` of MNIST as an 8-bit grayscale PNG, enlarged `scale` times (nearest).
void write_mnist_png(const at::Tensor& images, int64_t index, const std::string& path, int scale = 1) {
  const auto image = images[index].contiguous();
  const int side = static_cast<int>(image.size(0)) * scale;
  std::vector<uint8_t> pixels(static_cast<size_t>(side * side));
  const auto* data = image.data_ptr<uint8_t>();
  for (int y = 0; y < side; ++y) {
    for (int x = 0; x < side; ++x) pixels[static_cast<size_t>(y * side + x)] = data[(y / scale) * 28 + (x / scale)];
  }
  ASSERT_NE(stbi_write_png(path.c_str(), side, side, 1, pixels.data(), side), 0) << path;
}

// Score of each test index in a run's scores.csv.
std::map<int64_t, double> scores_by_index(const std::string& csv_path) {
  std::map<int64_t, double> scores;
  std::istringstream in(read_file(csv_path));
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line)) {
    long long index = 0, label = 0;
    int is_anomaly = 0, flagged = 0;
    double score = 0;
    if (std::sscanf(line.c_str(), "%lld,%lld,%d,%lf,%d", &index, &label, &is_anomaly, &score, &flagged) == 5) {
      scores[index] = score;
    }
  }
  return scores;
}

// Each test gets its own scratch folder; the binary must exist (test_cli depends on oneclass_cli).
class Cli : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(fs::is_regular_file(kBinary)) << "build the CLI first: " << kBinary; }
  std::string scratch() const { return dir_.file(""); }
  TempDir dir_{"oneclass-cli"};
};

TEST_F(Cli, VersionNamesLibTorchAndBlas) {
  const auto r = run_cli("--version", scratch());
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_TRUE(contains(r.out, "LibTorch")) << describe(r);
  EXPECT_TRUE(contains(r.out, "BLAS")) << describe(r);
  EXPECT_TRUE(contains(r.out, "oneclass")) << describe(r);
  EXPECT_TRUE(contains(r.out, "(revision ")) << describe(r);
}

TEST_F(Cli, ModelsListsMlpAutoencoderWithItsOptions) {
  const auto r = run_cli("models", scratch());
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_TRUE(contains(r.out, "mlp-ae")) << describe(r);
  EXPECT_TRUE(contains(r.out, "epochs")) << describe(r);
}

void check_run_folder(const Result& run, const std::string& run_dir) {
  ASSERT_EQ(run.exit_code, 0) << describe(run);
  EXPECT_TRUE(contains(run.out, "AUROC")) << describe(run);
  ASSERT_TRUE(fs::is_regular_file(run_dir + "/metrics.json")) << describe(run);
  const json metrics = json::parse(read_file(run_dir + "/metrics.json"));
  // Which code and machine made the numbers.
  ASSERT_TRUE(metrics["environment"].is_object()) << metrics.dump(2);
  for (const char* field : {"oneclass", "revision", "libtorch", "blas", "threads", "device", "host"}) {
    EXPECT_TRUE(metrics["environment"].contains(field)) << field;
  }
  EXPECT_FALSE(metrics["environment"]["revision"].get<std::string>().empty());
  EXPECT_EQ(metrics["n_normal"], 1135);
  EXPECT_EQ(metrics["n_anomaly"], 1009);
  EXPECT_EQ(metrics["model_options"]["epochs"], 1);
  EXPECT_GE(metrics["auroc"].get<double>(), 0.98);
  for (const char* name : {"config.json", "detector.pt", "scores.csv", "history.csv"}) {
    EXPECT_TRUE(fs::is_regular_file(run_dir + "/" + name)) << name;
  }
}

void check_score(const std::string& run_dir, const std::string& work) {
  fs::create_directories(work);
  const auto images = oneclass::data::read_idx_images(kDataDir + "/mnist/t10k-images-idx3-ubyte.gz");
  const auto labels = oneclass::data::read_idx_labels(kDataDir + "/mnist/t10k-labels-idx1-ubyte.gz");
  // Test images 2 and 5 are "1"s, 7 is a "9" (the test set starts 7 2 1 0 4 1 4 9 5 9).
  ASSERT_EQ(labels[2].item<int64_t>(), 1);
  ASSERT_EQ(labels[5].item<int64_t>(), 1);
  ASSERT_EQ(labels[7].item<int64_t>(), 9);
  const std::string inputs = work + "/inputs";
  fs::create_directories(inputs + "/nested");
  write_mnist_png(images, 2, inputs + "/one.png");
  write_mnist_png(images, 7, inputs + "/nine.png");
  write_mnist_png(images, 5, inputs + "/nested/big-one.png", /*scale=*/2);  // 56x56
  {
    std::ofstream corrupt(inputs + "/corrupt.png");
    corrupt << "this is not a PNG file\n";
  }
  { std::ofstream ignored(inputs + "/notes.txt"); ignored << "not an image, and not named like one\n"; }

  const auto r = run_cli("score " + quote(run_dir) + " " + quote(inputs), work);
  EXPECT_EQ(r.exit_code, 1) << "one file failed, so the exit code is 1\n" << describe(r);
  EXPECT_TRUE(contains(r.err, inputs + "/corrupt.png")) << describe(r);
  EXPECT_TRUE(contains(r.err, "big-one.png")) << "the resize warning names the file\n" << describe(r);
  EXPECT_TRUE(contains(r.err, "56")) << describe(r);
  EXPECT_FALSE(contains(r.err, "notes.txt")) << describe(r);

  const std::string csv_path = run_dir + "/scored.csv";
  ASSERT_TRUE(fs::is_regular_file(csv_path)) << describe(r);
  std::istringstream csv(read_file(csv_path));
  std::string line;
  std::getline(csv, line);
  EXPECT_EQ(line, "path,score,flagged");
  std::map<std::string, std::pair<double, int>> scored;
  while (std::getline(csv, line)) {
    const auto first = line.find(','), last = line.rfind(',');
    ASSERT_NE(first, std::string::npos) << line;
    ASSERT_NE(first, last) << line;
    const std::string path = line.substr(0, first);
    scored[fs::path(path).filename().string()] = {std::stod(line.substr(first + 1, last - first - 1)),
                                                  std::stoi(line.substr(last + 1))};
  }
  ASSERT_EQ(scored.size(), 3u) << read_file(csv_path);
  ASSERT_EQ(scored.count("one.png"), 1u);
  ASSERT_EQ(scored.count("nine.png"), 1u);
  ASSERT_EQ(scored.count("big-one.png"), 1u);
  EXPECT_GT(scored["nine.png"].first, scored["one.png"].first);

  // Inference on a PNG gives the score training gave the same test image.
  const auto run_scores = scores_by_index(run_dir + "/scores.csv");
  ASSERT_EQ(run_scores.count(2), 1u);
  ASSERT_EQ(run_scores.count(7), 1u);
  EXPECT_NEAR(scored["one.png"].first, run_scores.at(2), 1e-4 * std::abs(run_scores.at(2)));
  EXPECT_NEAR(scored["nine.png"].first, run_scores.at(7), 1e-4 * std::abs(run_scores.at(7)));
  // Flags follow the run's threshold.
  const double threshold = json::parse(read_file(run_dir + "/config.json"))["threshold"];
  for (const auto& [name, entry] : scored) EXPECT_EQ(entry.second, entry.first > threshold ? 1 : 0) << name;
  // The summary line counts them.
  EXPECT_TRUE(contains(r.out, "scored 3 image(s)")) << describe(r);
  EXPECT_TRUE(contains(r.out, "1 failed")) << describe(r);

  // Only good files: exit code 0, and --output chooses the CSV.
  const std::string output = work + "/only-good.csv";
  const auto good = run_cli("score " + quote(run_dir) + " " + quote(inputs + "/one.png") + " " +
                                quote(inputs + "/nine.png") + " --output " + quote(output),
                            work);
  EXPECT_EQ(good.exit_code, 0) << describe(good);
  EXPECT_TRUE(contains(read_file(output), "nine.png")) << read_file(output);
}

void check_damaged_run_folder(const std::string& run_dir, const std::string& work) {
  fs::create_directories(work);
  const std::string damaged = work + "/damaged-run";
  fs::create_directories(damaged);
  fs::copy_file(run_dir + "/config.json", damaged + "/config.json");
  // Half of a genuine detector file, then the same file overwritten with text.
  const std::string bytes = read_file(run_dir + "/detector.pt");
  {
    std::ofstream out(damaged + "/detector.pt", std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size() / 2));
  }
  const auto images = oneclass::data::read_idx_images(kDataDir + "/mnist/t10k-images-idx3-ubyte.gz");
  const std::string png = work + "/seven.png";
  write_mnist_png(images, 0, png);
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (attempt == 1) {
      std::ofstream out(damaged + "/detector.pt", std::ios::binary | std::ios::trunc);
      out << "not a detector\n";
    }
    const auto r = run_cli("score " + quote(damaged) + " " + quote(png), work);
    EXPECT_NE(r.exit_code, 0) << describe(r);
    EXPECT_LT(r.exit_code, 128) << "crashed\n" << describe(r);
    EXPECT_TRUE(contains(r.err, damaged + "/detector.pt")) << describe(r);
  }
  // A run folder whose config.json is damaged.
  {
    std::ofstream out(damaged + "/config.json", std::ios::trunc);
    out << "{ \"threshold\": ";
  }
  const auto r = run_cli("score " + quote(damaged) + " " + quote(png), work);
  EXPECT_NE(r.exit_code, 0) << describe(r);
  EXPECT_TRUE(contains(r.err, damaged + "/config.json")) << describe(r);
}

// `oneclass run` for one epoch, then `oneclass score` with that run folder: one test, because CTest
// runs each test in its own process and the run is the slow part.
TEST_F(Cli, RunThenScoreImagesThenDamageTheRunFolder) {
  const std::string run_dir = dir_.file("run");
  const Result run = run_cli("run --dataset mnist --normal 1 --anomaly 9 --epochs 1 --no-download --data-dir " +
                                 quote(kDataDir) + " --out " + quote(run_dir) + " --no-progress",
                             scratch());
  {
    SCOPED_TRACE("oneclass run");
    check_run_folder(run, run_dir);
  }
  ASSERT_EQ(run.exit_code, 0) << describe(run);
  {
    SCOPED_TRACE("oneclass score");
    check_score(run_dir, dir_.file("score"));
  }
  {
    SCOPED_TRACE("a finished run is not overwritten unless asked");
    const std::string metrics_before = read_file(run_dir + "/metrics.json");
    const Result again = run_cli("run --dataset mnist --normal 1 --anomaly 9 --epochs 1 --no-download --data-dir " +
                                     quote(kDataDir) + " --out " + quote(run_dir) + " --no-progress",
                                 scratch());
    EXPECT_EQ(again.exit_code, 1) << describe(again);
    EXPECT_TRUE(contains(again.err, "already holds a run") && contains(again.err, "--overwrite")) << describe(again);
    EXPECT_EQ(read_file(run_dir + "/metrics.json"), metrics_before);
  }
  {
    SCOPED_TRACE("damaged run folder");
    check_damaged_run_folder(run_dir, dir_.file("damaged"));
  }
}

TEST_F(Cli, BadInputGivesANonZeroExitAndAMessage) {
  const std::string data = " --no-download --data-dir " + quote(kDataDir) + " --no-progress --no-figures --epochs 1";
  struct Case {
    std::string arguments;
    std::vector<std::string> message_parts;
  };
  write_file(dir_.file("plain-file"), "not a folder");
  const std::vector<Case> cases{
      {"run --out " + quote(dir_.file("plain-file")) + data, {"plain-file", "is a file"}},
      {"run --epochs -1 --out " + quote(dir_.file("bad-epochs")), {"epochs"}},
      {"run --threshold nan --out " + quote(dir_.file("bad-threshold")) + data, {"--threshold", "finite"}},
      {"run --model no-such-model --out " + quote(dir_.file("bad-model")) + data, {"no-such-model", "mlp-ae"}},
      {"run --normal 12 --out " + quote(dir_.file("bad-normal")) + data, {"12"}},
      {"run --normal 1 --anomaly 1 --out " + quote(dir_.file("both-roles")) + data, {"label 1"}},
      {"run -o no_such_option=3 --out " + quote(dir_.file("bad-option")) + data, {"no_such_option"}},
      {"run -o z --out " + quote(dir_.file("bad-pair")) + data, {"key=value"}},
      {"run --val-fraction 2 --out " + quote(dir_.file("bad-fraction")) + data, {"val-fraction"}},
      {"run --dataset no-such-data --out " + quote(dir_.file("bad-dataset")) + data, {"no-such-data"}},
      {"run --model knn --labeled-anomalies 5 --out " + quote(dir_.file("not-semi")) + data, {"knn", "deep-sad"}},
      {"run --model deep-sad --labeled-anomalies 99999 --out " + quote(dir_.file("too-many")) + data,
       {"--labeled-anomalies 99999"}},
      {"score " + quote(dir_.file("no-such-run")) + " " + quote(dir_.file("x.png")), {"no-such-run"}},
      {"no-such-command", {"no-such-command"}},
  };
  for (const auto& c : cases) {
    const auto r = run_cli(c.arguments, scratch());
    EXPECT_NE(r.exit_code, 0) << c.arguments << "\n" << describe(r);
    EXPECT_LT(r.exit_code, 128) << "crashed on: " << c.arguments << "\n" << describe(r);
    for (const auto& part : c.message_parts) {
      EXPECT_TRUE(contains(r.err + r.out, part)) << "message should name '" << part << "'\n" << describe(r);
    }
  }
}

}  // namespace

namespace {

// Folder data through the real program: make-demo-data (and its refusal to write over a set), a
// run on one category, score --maps, and the messages of folder-data mistakes.
TEST_F(Cli, DemoDataThenFolderRunMapsAndBench) {
  const std::string demo = dir_.file("demo");
  const std::string small = " --size 32 --train 6 --good-test 3 --defects 2 --categories wood,gravel";
  const auto made = run_cli("make-demo-data " + quote(demo) + small, scratch());
  if (made.exit_code != 0 && contains(made.err, "OpenCV")) {
    if (std::getenv("CI")) FAIL() << "CI: folder data is off\n" << describe(made);
    GTEST_SKIP() << "folder data is off in this build: " << made.err;
  }
  ASSERT_EQ(made.exit_code, 0) << describe(made);
  EXPECT_TRUE(contains(made.out, "wood")) << made.out;
  const auto again = run_cli("make-demo-data " + quote(demo) + small, scratch());
  EXPECT_NE(again.exit_code, 0);
  EXPECT_TRUE(contains(again.err, "--overwrite")) << describe(again);

  const std::string out = dir_.file("run");
  const auto run = run_cli("run --dataset folder --data " + quote(demo) + " --category wood --image-size 32 --model pca"
                           " --no-progress --no-figures --out " + quote(out),
                           scratch());
  ASSERT_EQ(run.exit_code, 0) << describe(run);
  EXPECT_TRUE(contains(run.out, "category wood")) << run.out;
  EXPECT_TRUE(contains(run.out, "pixels: AUROC")) << run.out;
  EXPECT_TRUE(contains(run.err, "held-out normal images")) << "a small line must be warned about\n" << describe(run);
  const auto metrics = json::parse(read_file(out + "/metrics.json"));
  EXPECT_TRUE(metrics["pixel_auroc"].is_number());
  const std::string scores = read_file(out + "/scores.csv");
  EXPECT_EQ(scores.rfind("index,label,is_anomaly,score,flagged,path\n", 0), 0u) << scores;
  EXPECT_TRUE(contains(scores, "/wood/test/hole/")) << "each row names its image file\n" << scores;

  const auto scored = run_cli("score " + quote(out) + " " + quote(demo + "/wood/test/hole") + " --maps " +
                              quote(dir_.file("maps")), scratch());
  ASSERT_EQ(scored.exit_code, 0) << describe(scored);
  EXPECT_TRUE(contains(scored.out, "scored 2 image(s)")) << scored.out;
  EXPECT_TRUE(fs::exists(dir_.file("maps") + "/maps.json"));

  // The benchmark on the whole folder: one job set per category, tables per category with pixel
  // metrics, and the heat maps of the best model on each category in the report.
  const std::string bench_dir = dir_.file("bench");
  const std::string bench = "bench --datasets folder:" + quote(demo) + " --models pca,knn --seeds 0 --image-size 32 "
                            "--keep-artifacts --no-progress --out " + quote(bench_dir);
  const auto benched = run_cli(bench, scratch());
  ASSERT_EQ(benched.exit_code, 0) << describe(benched);
  const std::string markdown = read_file(bench_dir + "/results.md");
  EXPECT_TRUE(contains(markdown, "| model | source | mean | gravel | wood |")) << markdown;
  EXPECT_TRUE(contains(markdown, "pixel AUROC")) << markdown;
  EXPECT_TRUE(contains(markdown, "AUPRO")) << markdown;
  const auto results = json::parse(read_file(bench_dir + "/results.json"));
  ASSERT_EQ(results["summaries"].size(), 2u);
  for (const auto& summary : results["summaries"]) {
    ASSERT_EQ(summary["per_class"].size(), 2u) << summary.dump();
    EXPECT_EQ(summary["per_class"][0]["category"], "gravel");
    // pca has pixel maps, knn none: its pixel cells stay empty.
    const bool maps = summary["model"] == "pca";
    EXPECT_EQ(summary["per_class"][1].contains("pixel_auroc"), maps) << summary.dump();
    EXPECT_EQ(summary.contains("overall_aupro"), maps) << summary.dump();
    if (maps) {
      EXPECT_TRUE(summary["overall_aupro"]["mean"].is_number()) << summary.dump();
    }
  }
  const std::string page = read_file(bench_dir + "/report.html");
  EXPECT_TRUE(contains(page, "heat maps of the best model per category")) << page;
  for (const auto& row : results["rows"]) {
    EXPECT_TRUE(fs::exists(bench_dir + "/" + row["artifacts"].get<std::string>() + "/result.png")) << row.dump();
  }
  const auto resumed = run_cli(bench, scratch());
  ASSERT_EQ(resumed.exit_code, 0) << describe(resumed);
  EXPECT_TRUE(contains(resumed.err, "4 already finished, 0 to run")) << describe(resumed);
  const auto no_layout = run_cli("bench --datasets folder:" + quote(scratch()) + " --no-progress --out " +
                                 quote(dir_.file("bench-no-layout")), scratch());
  EXPECT_NE(no_layout.exit_code, 0);
  EXPECT_TRUE(contains(no_layout.err, "expected the MVTec AD layout")) << describe(no_layout);

  const std::vector<std::pair<std::string, std::string>> mistakes{
      {"run --dataset folder --out " + quote(dir_.file("no-data")), "needs --data"},
      {"run --dataset folder --data " + quote(demo) + " --out " + quote(dir_.file("which")), "pick one with --category"},
      {"run --dataset folder --data " + quote(scratch()) + " --out " + quote(dir_.file("no-layout")),
       "expected the MVTec AD layout"},
      {"run --dataset folder --data " + quote(demo) + " --category wood --model deep-sad --labeled-anomalies 3 --out " +
           quote(dir_.file("semi")),
       "no labelled anomalies"},
  };
  for (const auto& [arguments, message] : mistakes) {
    const auto r = run_cli(arguments + " --no-progress --no-figures", scratch());
    EXPECT_NE(r.exit_code, 0) << arguments;
    EXPECT_TRUE(contains(r.err, message)) << "expected '" << message << "'\n" << describe(r);
  }
}

}  // namespace
