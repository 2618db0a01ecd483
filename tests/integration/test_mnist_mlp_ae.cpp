// The seed experiment end to end on the genuine MNIST files: an MLP autoencoder trained for two
// epochs on "1", tested on "1" (normal) vs "9" (anomaly). Checks the run folder's files against
// each other, the data set and the trained detector, and that a second run with the same seed
// writes the same scores.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "oneclass/data/idx.h"
#include "oneclass/detectors/detector.h"
#include "oneclass/engine/run.h"
#include "oneclass/eval/metrics.h"
#include "oneclass/report/figures.h"
#include "oneclass/util/system_info.h"
#include "support/test_support.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using oneclass::testing_support::read_file;
using oneclass::testing_support::TempDir;

const std::string kDataDir = oneclass::testing_support::data_dir();

struct CsvRow {
  int64_t index = 0, label = 0;
  int is_anomaly = 0, flagged = 0;
  double score = 0;
};

std::vector<CsvRow> parse_scores_csv(const std::string& text, std::string& header) {
  std::istringstream in(text);
  std::getline(in, header);
  std::vector<CsvRow> rows;
  std::string line;
  while (std::getline(in, line)) {
    CsvRow row;
    long long index = 0, label = 0;
    if (std::sscanf(line.c_str(), "%lld,%lld,%d,%lf,%d", &index, &label, &row.is_anomaly, &row.score,
                    &row.flagged) != 5) {
      ADD_FAILURE() << "bad scores.csv line: " << line;
      continue;
    }
    row.index = index;
    row.label = label;
    rows.push_back(row);
  }
  return rows;
}

oneclass::RunConfig mnist_config(const std::string& out_dir, bool figures) {
  oneclass::RunConfig config;
  config.dataset = "mnist";
  config.data_dir = kDataDir;
  config.allow_download = false;
  config.normal = "1";
  config.anomaly = "9";
  config.model = "mlp-ae";
  config.model_options = {{"epochs", 2}};
  config.seed = 0;
  config.device = "cpu";
  config.out_dir = out_dir;
  config.progress = false;
  config.figures = figures;
  return config;
}

// The run's checks, one function per file. (One test: CTest runs each test in its own process, so
// separate tests would each train again.)
struct RunUnderTest {
  std::string dir;
  json metrics;  // as returned by run_experiment
};

void check_separation(const RunUnderTest& run) {
  const json& metrics = run.metrics;
  EXPECT_GE(metrics["auroc"].get<double>(), 0.99) << metrics.dump(2);
  EXPECT_GE(metrics["auprc"].get<double>(), 0.98) << metrics.dump(2);
  // The threshold is calibrated on held-out normal training images for a 1 % false-positive
  // rate; on the test normals it must stay of that order.
  EXPECT_LE(metrics["fpr"].get<double>(), 0.05) << metrics.dump(2);
  EXPECT_GE(metrics["tpr"].get<double>(), 0.5) << metrics.dump(2);
}

void check_metrics_json(const RunUnderTest& run) {
  const json on_disk = json::parse(read_file(run.dir + "/metrics.json"));
  for (const char* key : {"auroc", "auprc", "threshold", "target_fpr", "fpr", "tpr", "precision", "f1", "n_normal",
                          "n_anomaly", "train_seconds", "score_seconds", "dataset", "normal", "anomaly", "model",
                          "seed"}) {
    EXPECT_TRUE(on_disk.contains(key)) << "metrics.json lacks " << key;
  }
  EXPECT_EQ(on_disk["n_normal"], 1135);  // test images of "1"
  EXPECT_EQ(on_disk["n_anomaly"], 1009);  // test images of "9"
  EXPECT_EQ(on_disk["dataset"], "mnist");
  EXPECT_EQ(on_disk["normal"], json::array({1}));
  EXPECT_EQ(on_disk["anomaly"], json::array({9}));
  EXPECT_EQ(on_disk["model"], "mlp-ae");
  EXPECT_EQ(on_disk["seed"], 0);
  EXPECT_DOUBLE_EQ(on_disk["target_fpr"].get<double>(), 0.01);
  EXPECT_GT(on_disk["train_seconds"].get<double>(), 0.0);
  EXPECT_GE(on_disk["score_seconds"].get<double>(), 0.0);
  EXPECT_EQ(on_disk["auroc"], run.metrics["auroc"]);
  EXPECT_EQ(on_disk["threshold"], run.metrics["threshold"]);
  // 6742 training images of "1", 10 % (674) held out for the threshold.
  EXPECT_EQ(on_disk.value("n_train", -1), 6742 - 674);
  EXPECT_EQ(on_disk.value("n_val", -1), 674);
  // F1 and precision agree with the rates.
  const double tpr = on_disk["tpr"], precision = on_disk["precision"], f1 = on_disk["f1"];
  ASSERT_GT(precision + tpr, 0);
  EXPECT_NEAR(f1, 2 * precision * tpr / (precision + tpr), 1e-9);
}

void check_scores_csv(const RunUnderTest& run) {
  std::string header;
  const auto rows = parse_scores_csv(read_file(run.dir + "/scores.csv"), header);
  EXPECT_EQ(header, "index,label,is_anomaly,score,flagged");
  ASSERT_EQ(rows.size(), 2144u);

  const auto test_labels = oneclass::data::read_idx_labels(kDataDir + "/mnist/t10k-labels-idx1-ubyte.gz");
  const double threshold = run.metrics["threshold"];
  std::vector<double> scores;
  std::vector<int> is_anomaly;
  long flagged_normals = 0, flagged_anomalies = 0, normals = 0;
  for (const auto& row : rows) {
    ASSERT_TRUE(row.label == 1 || row.label == 9) << row.label;
    ASSERT_GE(row.index, 0);
    ASSERT_LT(row.index, 10000);
    EXPECT_EQ(test_labels[row.index].item<int64_t>(), row.label) << "test index " << row.index;
    EXPECT_EQ(row.is_anomaly, row.label == 9 ? 1 : 0);
    EXPECT_TRUE(std::isfinite(row.score));
    // Scores are written with 9 significant digits; only a score that close to the threshold
    // could round across it.
    if (std::abs(row.score - threshold) > 1e-8 * std::abs(threshold)) {
      EXPECT_EQ(row.flagged, row.score > threshold ? 1 : 0) << "index " << row.index << " score " << row.score;
    }
    scores.push_back(row.score);
    is_anomaly.push_back(row.is_anomaly);
    normals += row.is_anomaly ? 0 : 1;
    (row.is_anomaly ? flagged_anomalies : flagged_normals) += row.flagged;
  }
  EXPECT_EQ(normals, 1135);
  // Every test "1" and "9" appears once, in data set order.
  for (size_t i = 1; i < rows.size(); ++i) EXPECT_LT(rows[i - 1].index, rows[i].index);
  const auto expected_rows = (test_labels.eq(1) | test_labels.eq(9)).sum().item<int64_t>();
  EXPECT_EQ(static_cast<int64_t>(rows.size()), expected_rows);

  // The metrics are those of these scores.
  EXPECT_NEAR(oneclass::eval::auroc(scores, is_anomaly), run.metrics["auroc"].get<double>(), 1e-6);
  EXPECT_NEAR(static_cast<double>(flagged_normals) / 1135.0, run.metrics["fpr"].get<double>(), 1e-12);
  EXPECT_NEAR(static_cast<double>(flagged_anomalies) / 1009.0, run.metrics["tpr"].get<double>(), 1e-12);
}

void check_config_and_detector(const RunUnderTest& run) {
  ASSERT_TRUE(fs::is_regular_file(run.dir + "/config.json"));
  ASSERT_TRUE(fs::is_regular_file(run.dir + "/detector.pt"));
  const json config = json::parse(read_file(run.dir + "/config.json"));
  EXPECT_EQ(config["model"], "mlp-ae");
  EXPECT_EQ(config["model_options"]["epochs"], 2);
  EXPECT_EQ(config["threshold"], run.metrics["threshold"]);
  EXPECT_EQ(config["input_shape"], json::array({1, 28, 28}));

  // The saved detector scores the test images as the run did.
  auto detector = oneclass::load_detector(run.dir + "/detector.pt", c10::Device(c10::kCPU));
  EXPECT_EQ(detector->name(), "mlp-ae");
  std::string header;
  const auto rows = parse_scores_csv(read_file(run.dir + "/scores.csv"), header);
  ASSERT_FALSE(rows.empty());
  const auto test = oneclass::data::read_idx_images(kDataDir + "/mnist/t10k-images-idx3-ubyte.gz");
  std::vector<int64_t> index;
  for (const auto& row : rows) index.push_back(row.index);
  const auto images = test.index_select(0, torch::tensor(index, torch::kLong)).unsqueeze(1).to(torch::kFloat).div(255.0);
  torch::NoGradGuard no_grad;
  const auto scores = detector->score(images);
  ASSERT_EQ(scores.size(0), static_cast<int64_t>(rows.size()));
  for (size_t i = 0; i < rows.size(); ++i) {
    ASSERT_NEAR(scores[static_cast<int64_t>(i)].item<double>(), rows[i].score, 1e-6 * std::abs(rows[i].score) + 1e-9)
        << "test index " << rows[i].index;
  }
}

void check_history_and_figures(const RunUnderTest& run) {
  const std::string history = read_file(run.dir + "/history.csv");
  std::istringstream lines(history);
  std::string line;
  std::getline(lines, line);
  EXPECT_EQ(line, "epoch,loss");
  int epochs = 0;
  double first = 0, last = 0;
  while (std::getline(lines, line)) {
    int epoch = 0;
    double loss = 0;
    ASSERT_EQ(std::sscanf(line.c_str(), "%d,%lf", &epoch, &loss), 2) << line;
    EXPECT_EQ(epoch, ++epochs);
    EXPECT_GT(loss, 0);
    (epochs == 1 ? first : last) = loss;
  }
  EXPECT_EQ(epochs, 2);
  EXPECT_LT(last, first) << "the loss should fall from epoch 1 to epoch 2";

  if (!oneclass::report::figures_available()) {
    std::printf("not checking the PNG figures: %s\n", oneclass::report::figures_status().c_str());
    return;
  }
  for (const char* name : {"result.png", "loss.png", "roc.png", "scores.png"}) {
    const auto path = run.dir + "/" + name;
    ASSERT_TRUE(fs::is_regular_file(path)) << path;
    const std::string bytes = read_file(path);
    ASSERT_GT(bytes.size(), 1000u) << path;
    EXPECT_EQ(bytes.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8)) << path;
  }
  // No temporary files left behind.
  for (const auto& entry : fs::directory_iterator(run.dir)) {
    EXPECT_EQ(entry.path().filename().string().find(".tmp"), std::string::npos) << entry.path();
  }
}

TEST(MnistMlpAe, OnesVsNinesTwoEpochsThenTheSameSeedAgain) {
  // One LibTorch thread: CTest runs two tests at a time on small machines, and this one does not
  // test parallel speed-ups (same seed, same thread count: same scores).
  oneclass::configure_threads(1);
  TempDir dir("oneclass-mnist");
  RunUnderTest run{dir.file("run"), json()};
  run.metrics = oneclass::run_experiment(mnist_config(run.dir, /*figures=*/true));
  {
    SCOPED_TRACE("separation");
    check_separation(run);
  }
  {
    SCOPED_TRACE("metrics.json");
    check_metrics_json(run);
  }
  {
    SCOPED_TRACE("scores.csv");
    check_scores_csv(run);
  }
  {
    SCOPED_TRACE("config.json and detector.pt");
    check_config_and_detector(run);
  }
  {
    SCOPED_TRACE("history.csv and figures");
    check_history_and_figures(run);
  }

  // Same seed, same data, same machine: the same scores, byte for byte.
  const auto again = dir.file("again");
  const json metrics = oneclass::run_experiment(mnist_config(again, /*figures=*/false));
  EXPECT_EQ(read_file(again + "/scores.csv"), read_file(run.dir + "/scores.csv"));
  EXPECT_EQ(metrics["auroc"], run.metrics["auroc"]);
  EXPECT_EQ(metrics["threshold"], run.metrics["threshold"]);
  EXPECT_FALSE(fs::exists(again + "/result.png")) << "figures were off";
}

}  // namespace
