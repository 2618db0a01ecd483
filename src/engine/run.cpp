#include "oneclass/engine/run.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>

#include <torch/torch.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "oneclass/data/folder_dataset.h"
#include "oneclass/data/image_files.h"
#include "oneclass/data/idx.h"
#include "oneclass/data/split.h"
#include "oneclass/engine/experiment.h"
#include "oneclass/engine/localisation.h"
#include "oneclass/engine/score.h"
#include "oneclass/engine/scoring_model.h"
#include "oneclass/error.h"
#include "oneclass/eval/confidence.h"
#include "oneclass/eval/metrics.h"
#include "oneclass/report/figures.h"
#include "oneclass/report/run_outputs.h"
#include "oneclass/train/loop.h"
#include "oneclass/util/atomic_file.h"
#include "oneclass/util/clock.h"
#include "oneclass/util/system_info.h"

namespace oneclass {
namespace {

const std::vector<std::string> kRunFiles{"config.json", "detector.pt", "metrics.json", "scores.csv", "history.csv",
                                         "result.png", "loss.png", "roc.png", "scores.png"};

// A tensor's values as a std::vector<T> (T = double, float, int, int64_t or uint8_t).
template <typename T>
std::vector<T> to_vector(const at::Tensor& t) {
  auto c = t.to(torch::kCPU, c10::CppTypeToScalarType<T>::value).contiguous();
  const T* data = c.template data_ptr<T>();
  return {data, data + c.numel()};
}

// Colour images are shown in colour; other channel counts as their mean.
std::vector<float> displayed(const at::Tensor& image) {
  return to_vector<float>(image.size(1) == 3 ? image[0] : image.mean(1));
}

report::ResultPanel make_panel(Detector& detector, const at::Tensor& image, const report::GridPick& pick,
                               double score, int is_anomaly, double threshold, bool overlay) {
  report::ResultPanel panel;
  panel.height = static_cast<int>(image.size(2));
  panel.width = static_cast<int>(image.size(3));
  panel.channels = image.size(1) == 3 ? 3 : 1;
  panel.input = displayed(image);
  if (auto reconstruction = detector.reconstruct(image)) panel.reconstruction = displayed(*reconstruction);
  if (auto map = detector.anomaly_map(image)) panel.anomaly_map = to_vector<float>(*map);
  panel.overlay = overlay;
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
    // Camera images get the heat map over the input too: there a defect is found by where it is.
    panels.push_back(make_panel(detector, image, pick, scores[pick.row], is_anomaly[pick.row], threshold,
                                /*overlay=*/config.dataset == "folder"));
    if (split.test_masks.defined() && split.test_mask_known[pick.row].item<bool>()) {
      panels.back().mask = to_vector<uint8_t>(split.test_masks[pick.row]);
    }
  }
  const std::string source =
      config.threshold ? "given" : fmt::format("FPR {:g} on held-out normals", config.target_fpr);
  const std::string classes =
      split.label_names.empty()
          ? fmt::format("{}: normal {} vs anomaly {}", config.dataset, data::format_labels(split.normal),
                        data::format_labels(split.anomaly))
          : fmt::format("{}: {} vs {}", config.category, split.label_names.front(),
                        fmt::join(split.label_names.begin() + 1, split.label_names.end(), ", "));
  std::string pixels;
  if (metrics.contains("pixel_auroc") && metrics["pixel_auroc"].is_number()) {
    pixels = fmt::format(" | pixel AUROC {:.4f}, AUPRO {:.4f}", metrics["pixel_auroc"].get<double>(),
                         metrics["aupro"].get<double>());
  }
  const std::string heading = fmt::format("{} on {} | AUROC {:.4f}{} | threshold {:.4g} ({})", detector.name(),
                                          classes, metrics["auroc"].get<double>(), pixels, threshold, source);
  figures.add_result_grid((out / "result.png").string(), panels, threshold, heading);
  figures.render();
}

nlohmann::json interval_json(const eval::Interval& interval) { return {interval.low, interval.high}; }

// What the held-out normals say about the threshold: how many of them it flags, the interval of
// the false-alarm rate that implies, and a warning when they are too few for the target (a 1 %
// target on 30 images just takes their highest score).
void add_held_out_false_alarms(const RunConfig& config, const std::vector<double>& held_out, RunEvaluation& e) {
  if (held_out.empty()) return;
  const auto n = static_cast<long>(held_out.size());
  const long false_alarms = std::count_if(held_out.begin(), held_out.end(), [&](double s) { return s > e.threshold; });
  e.metrics["val_false_alarms"] = false_alarms;
  e.metrics["val_fpr_ci95"] = interval_json(eval::clopper_pearson(false_alarms, n));
  e.metrics["threshold_warning"] = "";
  if (!config.threshold && static_cast<double>(n) * config.target_fpr < 5.0) {
    const std::string warning = fmt::format(
        "only {} held-out normal images for a false-alarm target of {:g}: the threshold is one of their highest "
        "scores, and the false-alarm rate may be anywhere up to {:.3g} (95 % interval); {} or more held-out images "
        "pin it down",
        n, config.target_fpr, eval::clopper_pearson(false_alarms, n).high, std::ceil(5.0 / config.target_fpr));
    std::fprintf(stderr, "warning: %s\n", warning.c_str());
    e.metrics["threshold_warning"] = warning;
  }
}

RunEvaluation score_and_measure(const RunConfig& config, Detector& detector, const data::OneClassSplit& split) {
  const c10::Device device = detector.device();
  RunEvaluation e;
  const auto start = Clock::now();
  at::Tensor val_scores;
  {
    torch::NoGradGuard no_grad;
    e.scores = to_vector<double>(detector.score(split.test.to(device)));
    if (split.val.size(0) > 0) val_scores = detector.score(split.val.to(device));
  }
  const double score_seconds = seconds_since(start);
  e.is_anomaly = to_vector<int>(split.test_is_anomaly);
  if (!config.threshold && !val_scores.defined()) {
    // Nothing held out (the benchmark with --val-fraction 0): ranking metrics only, no threshold.
    e.threshold = std::numeric_limits<double>::quiet_NaN();
    e.roc = eval::roc_curve(e.scores, e.is_anomaly);
    e.metrics = {{"auroc", eval::auroc(e.scores, e.is_anomaly)},
                 {"auprc", eval::auprc(e.scores, e.is_anomaly)},
                 {"threshold", nullptr},
                 {"threshold_source", "none: no held-out normal images"},
                 {"score_seconds", score_seconds}};
    return e;
  }
  const std::vector<double> held_out = val_scores.defined() ? to_vector<double>(val_scores) : std::vector<double>{};
  e.threshold = config.threshold ? *config.threshold : eval::calibrate_threshold(held_out, config.target_fpr);
  const auto op = eval::at_threshold(e.scores, e.is_anomaly, e.threshold);
  e.roc = eval::roc_curve(e.scores, e.is_anomaly);
  e.metrics = {
      {"auroc", eval::auroc(e.scores, e.is_anomaly)},
      {"auprc", eval::auprc(e.scores, e.is_anomaly)},
      {"threshold", e.threshold},
      {"threshold_source", config.threshold ? "given" : "calibrated on held-out normal training images"},
      {"target_fpr", config.threshold ? nlohmann::json(nullptr) : nlohmann::json(config.target_fpr)},
      {"fpr", op.fpr}, {"tpr", op.tpr}, {"precision", op.precision}, {"f1", op.f1},
      {"tp", op.tp}, {"fp", op.fp}, {"tn", op.tn}, {"fn", op.fn},
      {"n_normal", op.fp + op.tn}, {"n_anomaly", op.tp + op.fn},
      {"score_seconds", score_seconds}};
  if (op.fp + op.tn > 0) e.metrics["fpr_ci95"] = interval_json(eval::clopper_pearson(op.fp, op.fp + op.tn));
  add_held_out_false_alarms(config, held_out, e);
  return e;
}

void write_tables(const RunConfig& config, Detector& detector, const data::OneClassSplit& split,
                  const train::History& history, const RunEvaluation& e) {
  namespace fs = std::filesystem;
  const fs::path out(config.out_dir);
  save_detector(detector, (out / "detector.pt").string());
  nlohmann::json resolved = to_json(config);
  resolved["anomaly"] = data::format_labels(split.anomaly);
  resolved["device"] = detector.device().str();
  resolved["model_options"] = detector.options();
  resolved["threshold"] = e.threshold;
  resolved["input_shape"] = detector.input_shape();
  write_file_atomic((out / "config.json").string(), resolved.dump(2) + "\n");
  std::vector<report::ScoredRow> rows;
  const auto test_index = to_vector<int64_t>(split.test_index);
  const auto test_labels = to_vector<int64_t>(split.test_labels);
  for (size_t i = 0; i < e.scores.size(); ++i) {
    rows.push_back({test_index[i], test_labels[i], e.is_anomaly[i], e.scores[i], e.scores[i] > e.threshold,
                    i < split.test_files.size() ? split.test_files[i] : ""});
  }
  write_file_atomic((out / "scores.csv").string(), report::scores_csv(rows));
  write_file_atomic((out / "history.csv").string(), report::history_csv(history.epoch_loss));
}

}  // namespace

ExperimentSpec experiment_of(const RunConfig& config) {
  ExperimentSpec spec;
  spec.normal = data::parse_labels(config.normal);
  spec.anomaly = config.anomaly.empty() ? std::vector<int>{} : data::parse_labels(config.anomaly);
  spec.val_fraction = config.val_fraction;
  spec.seed = config.seed;
  spec.model = config.model;
  spec.model_options = config.model_options;
  return spec;
}

nlohmann::json to_json(const RunConfig& c) {
  return {{"dataset", c.dataset},       {"data_dir", c.data_dir},   {"normal", c.normal},
          {"anomaly", c.anomaly},       {"val_fraction", c.val_fraction}, {"target_fpr", c.target_fpr},
          {"threshold", c.threshold ? nlohmann::json(*c.threshold) : nlohmann::json(nullptr)},
          {"model", c.model},           {"model_options", c.model_options}, {"seed", c.seed},
          {"device", c.device},         {"threads", c.threads},     {"out_dir", c.out_dir},
          {"grid_columns", c.grid_columns}, {"data", c.data_path}, {"category", c.category},
          {"channels", c.channels},     {"image_size", c.image_size}, {"check_anomalies", c.check_anomalies}};
}

RunEvaluation evaluate_run(const RunConfig& config, Detector& detector, const data::OneClassSplit& split,
                           const train::History& history) {
  RunEvaluation e = score_and_measure(config, detector, split);
  e.metrics.update({{"n_train", split.train.size(0)}, {"n_val", split.val.size(0)},
                    {"dataset", config.dataset}, {"normal", split.normal}, {"anomaly", split.anomaly},
                    {"model", detector.name()}, {"model_options", detector.options()}, {"seed", config.seed},
                    {"epochs", history.epoch_loss.size()}, {"steps", history.steps},
                    {"final_loss", history.epoch_loss.empty() ? nlohmann::json(nullptr)
                                                              : nlohmann::json(history.epoch_loss.back())},
                    {"train_seconds", history.seconds}, {"environment", environment_record(detector.device())},
                    {"figures", nlohmann::json::array()}});
  if (config.dataset == "folder") {
    e.metrics.update({{"category", config.category}, {"label_names", split.label_names},
                      {"input_shape", detector.input_shape()}});
  }
  if (auto health = detector.training_health(); !health.is_null()) e.metrics["training_health"] = std::move(health);
  if (split.test_masks.defined()) {
    const auto phase = Clock::now();
    e.metrics.update(pixel_metrics(detector, split));
    e.metrics["pixel_metrics_seconds"] = seconds_since(phase);
  }
  return e;
}

namespace {

// `images` float [K, C, H, W] in [0, 1] as one uint8 picture of `columns` per row, for write_png:
// [H', W'] when grey, [H', W', 3] when colour (other channel counts as their mean). Small images
// are enlarged by whole pixels to at least 84 (a 28x28 digit three times).
at::Tensor tiled(const at::Tensor& images, int64_t columns) {
  auto x = images.size(1) == 3 ? images : images.mean(1, /*keepdim=*/true);
  const int64_t enlarge = std::max<int64_t>(1, 84 / std::max<int64_t>(1, x.size(2)));
  if (enlarge > 1) x = x.repeat_interleave(enlarge, 2).repeat_interleave(enlarge, 3);
  const int64_t k = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3), rows = (k + columns - 1) / columns;
  x = torch::cat({x, torch::zeros({rows * columns - k, c, h, w}, x.options())});
  x = x.view({rows, columns, c, h, w}).permute({0, 3, 1, 4, 2}).reshape({rows * h, columns * w, c});
  x = x.clamp(0, 1).mul(255).round().to(torch::kByte);
  return c == 1 ? x.squeeze(2).contiguous() : x.contiguous();
}

// The images a GAN made after each epoch, samples/epoch-NNN.png, so that a person can see what it
// learned; returns the files written.
nlohmann::json write_epoch_samples(const Detector& detector, const std::filesystem::path& out) {
  const auto samples = detector.epoch_samples();
  nlohmann::json files = nlohmann::json::array();
  if (samples.empty()) return files;
  if (!data::image_files_supported()) {
    std::fprintf(stderr, "note: the per-epoch samples are not written: %s\n", data::image_files_status().c_str());
    return files;
  }
  std::error_code ec;
  std::filesystem::create_directories(out / "samples", ec);
  if (ec) throw Error("cannot create " + (out / "samples").string() + ": " + ec.message() + "; check the run folder's permissions and free space");
  const auto columns = static_cast<int64_t>(std::ceil(std::sqrt(static_cast<double>(samples.front().size(0)))));
  for (size_t i = 0; i < samples.size(); ++i) {
    const std::string name = fmt::format("samples/epoch-{:03d}.png", i + 1);
    data::write_png((out / name).string(), tiled(samples[i], columns));
    files.push_back(name);
  }
  return files;
}

// A training that can fail without an error (a GAN) reports how it went (evaluate_run puts it in
// metrics.json): a warning for each problem found, so that a collapsed GAN's AUROC is not taken at
// face value.
void warn_of_training_health(const Detector& detector, const nlohmann::json& metrics) {
  if (!metrics.contains("training_health")) return;
  for (const auto& problem : metrics["training_health"]["problems"]) {
    std::fprintf(stderr, "warning: %s training: %s\n", detector.name().c_str(), problem.get<std::string>().c_str());
  }
}

}  // namespace

void write_run_folder(const RunConfig& config, Detector& detector, const data::OneClassSplit& split,
                      const train::History& history, RunEvaluation& e) {
  // The results first, so that nothing computed is lost if a figure cannot be drawn.
  nlohmann::json& metrics = e.metrics;
  const std::filesystem::path out(config.out_dir);
  write_tables(config, detector, split, history, e);
  write_file_atomic((out / "metrics.json").string(), metrics.dump(2) + "\n");

  const auto phase = Clock::now();
  if (config.figures && report::figures_available()) {
    try {
      draw_figures(config, detector, split, history, e.scores, e.is_anomaly, e.roc, metrics);
      metrics["figures"] = {"result.png", "roc.png", "scores.png"};
      if (!history.epoch_loss.empty()) metrics["figures"].push_back("loss.png");
      for (const auto& file : write_epoch_samples(detector, out)) metrics["figures"].push_back(file);
    } catch (const Error& error) {
      std::fprintf(stderr, "warning: figures not drawn: %s\n", error.what());
    }
  } else if (config.figures) {
    std::fprintf(stderr, "%s\n", report::figures_status().c_str());
  }
  metrics["figures_seconds"] = seconds_since(phase);
  write_file_atomic((out / "metrics.json").string(), metrics.dump(2) + "\n");
}

// A folder holding an earlier run is only reused when asked, and then its old outputs go first,
// so files from two runs never sit side by side.
void prepare_run_folder(const RunConfig& config) {
  namespace fs = std::filesystem;
  const fs::path out(config.out_dir);
  std::error_code ec;
  if (fs::exists(out, ec) && !fs::is_directory(out, ec)) {
    throw Error("--out " + config.out_dir + " is a file, not a folder; choose another --out");
  }
  const bool holds_run = fs::exists(out / "config.json", ec) || fs::exists(out / "metrics.json", ec);
  if (holds_run && !config.overwrite) {
    throw Error("--out " + config.out_dir + " already holds a run; choose another --out, or pass --overwrite to "
                "replace it");
  }
  for (const auto& name : kRunFiles) fs::remove(out / name, ec);
  fs::remove_all(out / "samples", ec);
  fs::create_directories(out, ec);
  if (ec) throw Error("cannot create run folder " + config.out_dir + ": " + ec.message());
}

PreparedExperiment prepare_run_data(RunConfig& config) {
  if (config.dataset != "folder") {
    if (!config.data_path.empty()) throw Error("--data is for --dataset folder; for " + config.dataset + " use --data-dir");
    const data::Dataset dataset = data::load_dataset({config.dataset, config.data_dir, config.allow_download, ""});
    return prepare_experiment(experiment_of(config), dataset);
  }
  if (config.data_path.empty()) throw Error("--dataset folder needs --data PATH, the folder of your images");
  const auto categories = data::find_folder_categories(config.data_path);
  const data::FolderCategory& category = data::pick_category(categories, config.category);
  config.category = category.name;
  config.normal = "0";  // label 0 is "good" in every folder data set
  data::FolderOptions folder;
  folder.channels = config.channels;
  folder.image_size = config.image_size;
  ExperimentSpec spec = experiment_of(config);
  return prepare_folder_experiment(spec, category, folder);
}

nlohmann::json skipped_files_json(const std::vector<data::SkippedFile>& skipped) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& s : skipped) list.push_back({{"path", s.path}, {"reason", s.reason}});
  return list;
}

namespace {

// Known defect images: scored against the threshold, never used to set anything.
nlohmann::json check_known_anomalies(const RunConfig& config, Detector& detector, double threshold) {
  std::vector<std::string> errors;
  const auto files = expand_image_inputs({config.check_anomalies}, errors);
  nlohmann::json scored = nlohmann::json::array();
  int caught = 0;
  const nlohmann::json run_config = to_json(config);
  torch::NoGradGuard no_grad;
  for (const auto& file : files) {
    try {
      const auto image = prepare_image_file(file, run_config, detector.input_shape()).pixels;
      const double score = detector.score(image.unsqueeze(0).to(detector.device())).item<double>();
      caught += score > threshold ? 1 : 0;
      scored.push_back({{"path", file}, {"score", score}, {"flagged", score > threshold}});
    } catch (const Error& e) {
      errors.push_back(e.what());
    }
  }
  for (const auto& error : errors) std::fprintf(stderr, "warning: --check-anomalies: %s\n", error.c_str());
  return {{"folder", config.check_anomalies}, {"images", scored.size()}, {"caught", caught}, {"scores", scored},
          {"errors", errors}};
}

}  // namespace

nlohmann::json run_experiment(const RunConfig& config) {
  const auto run_start = Clock::now();
  const c10::Device device = resolve_device(config.device);
  if (config.threshold && !std::isfinite(*config.threshold)) throw Error("--threshold must be a finite number");
  prepare_run_folder(config);

  // Data: only normal training images are trained on; a held-out part of them sets the threshold.
  auto phase = Clock::now();
  RunConfig resolved = config;
  PreparedExperiment experiment = prepare_run_data(resolved);
  const data::OneClassSplit& split = experiment.split;
  Detector& detector = *experiment.detector;
  if (split.val.size(0) == 0 && !config.threshold) {
    throw Error("--val-fraction 0 leaves no held-out normal images to calibrate the threshold; give --threshold or a "
                "positive --val-fraction");
  }
  const double load_seconds = seconds_since(phase);

  train::LoopOptions loop_options;
  loop_options.seed = config.seed;
  loop_options.labeled_anomalies = split.labeled_anomalies;
  loop_options.progress = config.progress;
  const train::History history = train::fit(detector, split.train, device, loop_options);

  RunEvaluation e = evaluate_run(resolved, detector, split, history);
  warn_of_training_health(detector, e.metrics);
  e.metrics["load_seconds"] = load_seconds;
  if (resolved.dataset == "folder") e.metrics["skipped_files"] = skipped_files_json(experiment.skipped);
  if (!config.check_anomalies.empty()) e.metrics["check_anomalies"] = check_known_anomalies(resolved, detector, e.threshold);
  e.metrics["total_seconds"] = seconds_since(run_start);  // until the figures are drawn
  write_run_folder(resolved, detector, split, history, e);
  e.metrics["total_seconds"] = seconds_since(run_start);
  write_file_atomic((std::filesystem::path(config.out_dir) / "metrics.json").string(), e.metrics.dump(2) + "\n");
  return e.metrics;
}

}  // namespace oneclass
