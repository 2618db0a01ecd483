#include "oneclass/engine/run.h"

#include <chrono>
#include <cstdio>
#include <filesystem>

#include <torch/torch.h>

#include "oneclass/data/idx.h"
#include "oneclass/data/split.h"
#include "oneclass/detectors/registry.h"
#include "oneclass/error.h"
#include "oneclass/eval/metrics.h"
#include "oneclass/report/figures.h"
#include "oneclass/report/run_outputs.h"
#include "oneclass/train/loop.h"
#include "oneclass/util/atomic_file.h"
#include "oneclass/util/system_info.h"

namespace oneclass {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::vector<double> to_vector(const at::Tensor& t) {
  auto c = t.to(torch::kCPU, torch::kDouble).contiguous();
  return {c.data_ptr<double>(), c.data_ptr<double>() + c.numel()};
}

std::vector<int> to_int_vector(const at::Tensor& t) {
  auto c = t.to(torch::kCPU, torch::kInt).contiguous();
  return {c.data_ptr<int>(), c.data_ptr<int>() + c.numel()};
}

std::vector<float> to_float_vector(const at::Tensor& t) {
  auto c = t.to(torch::kCPU, torch::kFloat).contiguous();
  return {c.data_ptr<float>(), c.data_ptr<float>() + c.numel()};
}

report::ResultPanel make_panel(Detector& detector, const at::Tensor& image, const report::GridPick& pick,
                               double score, int is_anomaly, double threshold) {
  report::ResultPanel panel;
  panel.height = static_cast<int>(image.size(2));
  panel.width = static_cast<int>(image.size(3));
  panel.input = to_float_vector(image.mean(1));  // channels averaged for display
  if (auto reconstruction = detector.reconstruct(image)) panel.reconstruction = to_float_vector(reconstruction->mean(1));
  if (auto map = detector.anomaly_map(image)) panel.anomaly_map = to_float_vector(*map);
  panel.score = score;
  panel.is_anomaly = is_anomaly != 0;
  panel.flagged = score > threshold;
  panel.title = pick.title;
  return panel;
}

void draw_figures(const RunConfig& config, Detector& detector, const data::OneClassSplit& split,
                  const train::History& history, const std::vector<double>& scores, const std::vector<int>& is_anomaly,
                  const eval::RocCurve& roc, const nlohmann::json& metrics) {
  namespace fs = std::filesystem;
  const double threshold = metrics["threshold"];
  report::FigureSet figures;
  const fs::path out(config.out_dir);
  if (!history.epoch_loss.empty()) figures.add_loss_curve((out / "loss.png").string(), history.epoch_loss);
  figures.add_roc((out / "roc.png").string(), roc, metrics["auroc"], metrics["fpr"], metrics["tpr"]);
  std::vector<double> normal_scores, anomaly_scores;
  for (size_t i = 0; i < scores.size(); ++i) (is_anomaly[i] ? anomaly_scores : normal_scores).push_back(scores[i]);
  figures.add_score_histogram((out / "scores.png").string(), normal_scores, anomaly_scores, threshold);

  torch::NoGradGuard no_grad;
  std::vector<report::ResultPanel> panels;
  for (const auto& pick : report::pick_grid_columns(scores, is_anomaly, config.grid_columns)) {
    auto image = split.test.narrow(0, pick.row, 1).to(detector.device());
    panels.push_back(make_panel(detector, image, pick, scores[pick.row], is_anomaly[pick.row], threshold));
  }
  char heading[256];
  std::snprintf(heading, sizeof heading, "%s on %s: normal %s vs anomaly %s | AUROC %.4f | threshold %.4g (%s)",
                detector.name().c_str(), config.dataset.c_str(), data::format_labels(split.normal).c_str(),
                data::format_labels(split.anomaly).c_str(), metrics["auroc"].get<double>(), threshold,
                config.threshold ? "given" : ("FPR " + std::to_string(config.target_fpr).substr(0, 5) + " on held-out normals").c_str());
  figures.add_result_grid((out / "result.png").string(), panels, threshold, heading);
  figures.render();
}

}  // namespace

nlohmann::json to_json(const RunConfig& c) {
  return {{"dataset", c.dataset},       {"data_dir", c.data_dir},   {"normal", c.normal},
          {"anomaly", c.anomaly},       {"val_fraction", c.val_fraction}, {"target_fpr", c.target_fpr},
          {"threshold", c.threshold ? nlohmann::json(*c.threshold) : nlohmann::json(nullptr)},
          {"model", c.model},           {"model_options", c.model_options}, {"seed", c.seed},
          {"device", c.device},         {"threads", c.threads},     {"out_dir", c.out_dir}};
}

nlohmann::json run_experiment(const RunConfig& config) {
  const auto run_start = Clock::now();
  const c10::Device device = resolve_device(config.device);
  namespace fs = std::filesystem;
  fs::create_directories(config.out_dir);

  // Data: only normal training images are trained on; a held-out part of them sets the threshold.
  auto phase = Clock::now();
  const data::Dataset dataset = data::load_dataset({config.dataset, config.data_dir, config.allow_download, ""});
  data::SplitOptions split_options;
  split_options.normal = data::parse_labels(config.normal);
  if (!config.anomaly.empty()) split_options.anomaly = data::parse_labels(config.anomaly);
  split_options.val_fraction = config.val_fraction;
  split_options.seed = config.seed;
  const data::OneClassSplit split = data::make_one_class_split(dataset, split_options);
  if (split.val.size(0) == 0 && !config.threshold) {
    throw Error("--val-fraction 0 leaves no held-out normal images to calibrate the threshold; give --threshold or a "
                "positive --val-fraction");
  }
  const double load_seconds = seconds_since(phase);

  // Train.
  torch::manual_seed(config.seed);
  auto detector = make_detector(config.model, config.model_options);
  train::LoopOptions loop_options;
  loop_options.seed = config.seed;
  loop_options.progress = config.progress;
  const train::History history = train::fit(*detector, split.train, device, loop_options);

  // Score, calibrate, evaluate.
  phase = Clock::now();
  at::Tensor test_scores_tensor, val_scores_tensor;
  {
    torch::NoGradGuard no_grad;
    test_scores_tensor = detector->score(split.test.to(device));
    if (split.val.size(0) > 0) val_scores_tensor = detector->score(split.val.to(device));
  }
  const double score_seconds = seconds_since(phase);
  const auto scores = to_vector(test_scores_tensor);
  const auto is_anomaly = to_int_vector(split.test_is_anomaly);
  const double threshold =
      config.threshold ? *config.threshold : eval::calibrate_threshold(to_vector(val_scores_tensor), config.target_fpr);
  const auto op = eval::at_threshold(scores, is_anomaly, threshold);
  const auto roc = eval::roc_curve(scores, is_anomaly);

  nlohmann::json metrics = {
      {"auroc", eval::auroc(scores, is_anomaly)},
      {"auprc", eval::auprc(scores, is_anomaly)},
      {"threshold", threshold},
      {"threshold_source", config.threshold ? "given" : "calibrated on held-out normal training images"},
      {"target_fpr", config.threshold ? nlohmann::json(nullptr) : nlohmann::json(config.target_fpr)},
      {"fpr", op.fpr}, {"tpr", op.tpr}, {"precision", op.precision}, {"f1", op.f1},
      {"tp", op.tp}, {"fp", op.fp}, {"tn", op.tn}, {"fn", op.fn},
      {"n_normal", op.fp + op.tn}, {"n_anomaly", op.tp + op.fn},
      {"n_train", split.train.size(0)}, {"n_val", split.val.size(0)},
      {"dataset", dataset.name}, {"normal", split.normal}, {"anomaly", split.anomaly},
      {"model", detector->name()}, {"model_options", detector->options()}, {"seed", config.seed},
      {"epochs", history.epoch_loss.size()}, {"steps", history.steps},
      {"final_loss", history.epoch_loss.empty() ? nlohmann::json(nullptr) : nlohmann::json(history.epoch_loss.back())},
      {"load_seconds", load_seconds}, {"train_seconds", history.seconds}, {"score_seconds", score_seconds},
      {"environment", doctor_line(device)}};

  // Outputs: the detector and its config first, so `oneclass score` works even if a figure fails.
  const fs::path out(config.out_dir);
  save_detector(*detector, (out / "detector.pt").string());
  nlohmann::json resolved = to_json(config);
  resolved["model_options"] = detector->options();
  resolved["threshold"] = threshold;
  resolved["input_shape"] = detector->input_shape();
  write_file_atomic((out / "config.json").string(), resolved.dump(2) + "\n");
  std::vector<report::ScoredRow> rows;
  const auto test_index = split.test_index.accessor<int64_t, 1>();
  const auto test_labels = split.test_labels.accessor<int64_t, 1>();
  for (size_t i = 0; i < scores.size(); ++i) {
    const auto row = static_cast<int64_t>(i);
    rows.push_back({test_index[row], test_labels[row], is_anomaly[i], scores[i], scores[i] > threshold});
  }
  write_file_atomic((out / "scores.csv").string(), report::scores_csv(rows));
  write_file_atomic((out / "history.csv").string(), report::history_csv(history.epoch_loss));

  phase = Clock::now();
  if (config.figures && report::figures_available()) {
    draw_figures(config, *detector, split, history, scores, is_anomaly, roc, metrics);
  } else if (config.figures) {
    std::fprintf(stderr, "%s\n", report::figures_status().c_str());
  }
  metrics["figures_seconds"] = seconds_since(phase);
  metrics["total_seconds"] = seconds_since(run_start);
  write_file_atomic((out / "metrics.json").string(), metrics.dump(2) + "\n");
  return metrics;
}

}  // namespace oneclass
