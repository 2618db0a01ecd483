// The `oneclass` command line: parses options, calls the library, prints results. The program
// (main.cpp) and the Python package (oneclass.run, oneclass.bench) both run it.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>
#include <sstream>
#include <thread>

#include <CLI/CLI.hpp>
#include <torch/torch.h>

#include "cli.h"

#include "oneclass/bench/bench.h"
#include "oneclass/detectors/registry.h"
#include "oneclass/engine/experiment.h"
#include "oneclass/engine/run.h"
#include "oneclass/data/demo_data.h"
#include "oneclass/data/split.h"
#include "oneclass/engine/score.h"
#include "oneclass/error.h"
#include "oneclass/report/figures.h"
#include "oneclass/serve/service.h"
#include "oneclass/util/progress.h"
#include "oneclass/util/system_info.h"

namespace {

std::string command_line(const std::vector<std::string>& args) {
  std::string line = "oneclass";
  for (const auto& arg : args) line += " " + arg;
  return line;
}

// "-o z=32" -> {"z": 32}; values that parse as JSON keep their type, others are strings.
nlohmann::json parse_model_options(const std::vector<std::string>& pairs) {
  nlohmann::json options = nlohmann::json::object();
  for (const auto& pair : pairs) {
    try {
      oneclass::add_option_pair(options, pair, "-o z=32");
    } catch (const oneclass::Error& e) {
      throw oneclass::Error(std::string("--option ") + e.what());
    }
  }
  return options;
}

// Flags of `oneclass run` before they become a RunConfig.
struct RunArgs {
  oneclass::RunConfig config;
  std::vector<std::string> option_pairs;
  std::optional<int> epochs;
  std::string score;
  int64_t labeled_anomalies = 0;
};

void add_run_command(CLI::App& app, RunArgs& args) {
  auto& config = args.config;
  auto& option_pairs = args.option_pairs;
  auto& epochs = args.epochs;
  auto& score = args.score;
  auto* run = app.add_subcommand("run", "Train on normal images, calibrate a threshold, evaluate, write a run folder");
  run->add_option("--dataset", config.dataset, "Data set: mnist, fashion-mnist, or folder (your images, --data)")
      ->capture_default_str();
  run->add_option("--data-dir", config.data_dir, "Folder holding <dataset>/ (else $ONECLASS_DATA_DIR, ~/.cache/oneclass)");
  run->add_option("--data", config.data_path,
                  "--dataset folder: MVTec AD layout (train/good, test/<defect>, ground_truth) or normal/ + abnormal/, "
                  "or a folder of such categories");
  run->add_option("--category", config.category, "--dataset folder: the category, when --data holds several");
  run->add_option("--channels", config.channels, "--dataset folder: 1 or 3 (default: 3 when the training images are colour)")
      ->check(CLI::IsMember({0, 1, 3}));
  run->add_option("--image-size", config.image_size,
                  "--dataset folder: short side resized to N, then centre-cropped to N x N")
      ->capture_default_str()->check(CLI::Range(8, 4096));
  run->add_option("--check-anomalies", config.check_anomalies,
                  "A folder of known defect images: only scored, never used to set anything; reports how many the "
                  "threshold catches");
  run->add_flag("!--no-download", config.allow_download, "Never download a missing data set");
  run->add_option("--normal", config.normal, "Normal class(es), e.g. 1 or 1,7")->capture_default_str();
  run->add_option("--anomaly", config.anomaly, "Anomaly class(es) in the test set (default: every other class)");
  run->add_option("--val-fraction", config.val_fraction, "Share of normal training images held out for the threshold")
      ->capture_default_str()->check(CLI::Range(0.0, 0.9));
  run->add_option("--target-fpr", config.target_fpr, "False-positive rate the threshold aims at on held-out normals")
      ->capture_default_str()->check(CLI::Range(0.0, 0.999));
  run->add_option("--threshold", config.threshold, "Use this threshold instead of calibrating one");
  run->add_option("--model", config.model, "Detector (see `oneclass models`)")->capture_default_str();
  run->add_option("-o,--option", option_pairs, "Detector option key=value, repeatable (e.g. -o z=32 -o lr=1e-3)");
  run->add_option("--epochs", epochs, "Training epochs (detector option 'epochs')")->check(CLI::NonNegativeNumber);
  run->add_option("--score", score, "Score of detectors that have several (see `oneclass models`), e.g. l2 for mlp-ae");
  run->add_option("--labeled-anomalies", args.labeled_anomalies,
                  "Training images of the anomaly classes given to a semi-supervised detector (deep-sad)")
      ->check(CLI::NonNegativeNumber);
  run->add_option("--seed", config.seed, "Seed: same seed, data and machine give identical scores")->capture_default_str();
  run->add_option("--device", config.device, "auto, cpu or cuda[:N]")->capture_default_str();
  run->add_option("--threads", config.threads, "CPU threads (0 = all cores)")->capture_default_str();
  run->add_option("--out", config.out_dir, "Run folder to write")->capture_default_str();
  run->add_flag("--overwrite", config.overwrite, "Replace an earlier run in the --out folder");
  run->add_option("--grid-columns", config.grid_columns, "Images in result.png")->capture_default_str()
      ->check(CLI::Range(2, 40));
  run->add_flag("!--no-progress", config.progress, "No progress bar");
  run->add_flag("!--no-figures", config.figures, "Skip the PNG figures");
}

// The lines beyond the headline: the threshold's uncertainty, pixel metrics, files left out, and
// the known defect images checked.
void print_run_details(const nlohmann::json& metrics) {
  if (metrics.contains("val_fpr_ci95")) {
    std::printf("held-out normals: %lld of %lld above the threshold; false-alarm rate %.3g to %.3g (95 %% interval)\n",
                metrics["val_false_alarms"].get<long long>(), metrics["n_val"].get<long long>(),
                metrics["val_fpr_ci95"][0].get<double>(), metrics["val_fpr_ci95"][1].get<double>());
  }
  if (metrics.contains("pixel_auroc")) {
    if (metrics["pixel_auroc"].is_number()) {
      std::printf("pixels: AUROC %.4f  AUPRO(0.3) %.4f over %lld test images with masks\n",
                  metrics["pixel_auroc"].get<double>(), metrics["aupro"].get<double>(),
                  metrics["pixel_metric_images"].get<long long>());
    } else {
      std::printf("pixels: no pixel metrics (%s)\n", metrics["pixel_metrics_note"].get<std::string>().c_str());
    }
  }
  if (metrics.contains("skipped_files") && !metrics["skipped_files"].empty()) {
    std::printf("skipped files: %zu (listed in metrics.json)\n", metrics["skipped_files"].size());
  }
  if (metrics.contains("check_anomalies")) {
    const auto& check = metrics["check_anomalies"];
    std::printf("known defect images (%s): the threshold catches %d of %zu\n", check["folder"].get<std::string>().c_str(),
                check["caught"].get<int>(), check["images"].get<size_t>());
  }
}

int do_run(RunArgs& args) {
  auto& config = args.config;
  config.model_options = parse_model_options(args.option_pairs);
  if (args.epochs) config.model_options["epochs"] = *args.epochs;
  if (!args.score.empty()) config.model_options = oneclass::with_score(config.model, config.model_options, args.score);
  config.model_options =
      oneclass::with_labeled_anomalies(config.model, config.model_options, args.labeled_anomalies);
  oneclass::configure_threads(config.threads);  // versions, BLAS and threads: `oneclass --version`, metrics.json
  const auto metrics = oneclass::run_experiment(config);
  const std::string what = metrics["dataset"] == "folder" ? "folder data, category " + metrics["category"].get<std::string>()
                                                          : metrics["dataset"].get<std::string>() + ", normal " + config.normal;
  std::printf("%s on %s: AUROC %.4f  AUPRC %.4f | threshold %.4g: FPR %.3f TPR %.3f precision %.3f F1 %.3f\n",
              metrics["model"].get<std::string>().c_str(), what.c_str(), metrics["auroc"].get<double>(),
              metrics["auprc"].get<double>(), metrics["threshold"].get<double>(), metrics["fpr"].get<double>(),
              metrics["tpr"].get<double>(), metrics["precision"].get<double>(), metrics["f1"].get<double>());
  print_run_details(metrics);
  std::printf("time: load %.2f s, train %.2f s, score %.2f s, figures %.2f s, total %.2f s\n",
              metrics["load_seconds"].get<double>(), metrics["train_seconds"].get<double>(),
              metrics["score_seconds"].get<double>(), metrics["figures_seconds"].get<double>(),
              metrics["total_seconds"].get<double>());
  std::string files = "metrics.json, scores.csv, history.csv, config.json, detector.pt";
  for (const auto& figure : metrics["figures"]) files += ", " + figure.get<std::string>();
  std::printf("results in %s/ (%s)\n", config.out_dir.c_str(), files.c_str());
  return 0;
}

// Flags of `oneclass bench` before they become a BenchConfig.
struct BenchArgs {
  oneclass::bench::BenchConfig config;
  std::string datasets = "mnist", models = "mlp-ae", classes = "0-9", seeds = "0-4";
  std::vector<std::string> option_pairs;
  std::optional<int> epochs;
  std::string labeled_anomalies;  // e.g. "0,10,100"
  int threads = 0;
};

void add_bench_command(CLI::App& app, BenchArgs& args) {
  auto& c = args.config;
  auto* bench = app.add_subcommand(
      "bench", "The one-class benchmark: every class of each data set as the normal class in turn, several seeds");
  bench->add_option("--datasets", args.datasets,
                    "Data sets, comma-separated: mnist, fashion-mnist, folder:PATH (your images: one job set per "
                    "category)")
      ->capture_default_str();
  bench->add_option("--models", args.models, "Detectors, comma-separated, each with :key=value options "
                                             "(e.g. mlp-ae,knn:k=5)")->capture_default_str();
  bench->add_option("-o,--option", args.option_pairs,
                    "Detector option key=value for every listed model that has it, repeatable");
  bench->add_option("--epochs", args.epochs, "Training epochs of every model that trains")
      ->check(CLI::NonNegativeNumber);
  bench->add_option("--labeled-anomalies", args.labeled_anomalies,
                    "Labelled anomalies for semi-supervised models (deep-sad), one job set per value, e.g. 0,10,100");
  bench->add_option("--classes", args.classes, "Normal classes of mnist and fashion-mnist, e.g. 0-9 or 1,7")
      ->capture_default_str();
  bench->add_option("--image-size", c.plan.image_size, "folder:PATH data sets: as `run --image-size`")
      ->capture_default_str()->check(CLI::Range(8, 4096));
  bench->add_option("--channels", c.plan.channels, "folder:PATH data sets: 1 or 3 (default: from the training images)")
      ->check(CLI::IsMember({0, 1, 3}));
  bench->add_option("--seeds", args.seeds, "Seeds, e.g. 0-4 or 0,3")->capture_default_str();
  bench->add_option("--val-fraction", c.plan.val_fraction,
                    "Share of each class's training images held out (never trained on; they set the threshold; 0 = train on all)")
      ->capture_default_str()->check(CLI::Range(0.0, 0.9));
  bench->add_option("--jobs", c.stack_size, "Jobs of one model trained at once as one stack (0 = one per thread)")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  bench->add_option("--out", c.out_dir, "Benchmark folder: results.sqlite, tables, figure, report.html")
      ->capture_default_str();
  bench->add_option("--data-dir", c.data_dir, "Folder holding <dataset>/ (else $ONECLASS_DATA_DIR, ~/.cache/oneclass)");
  bench->add_flag("!--no-download", c.allow_download, "Never download a missing data set");
  bench->add_option("--device", c.device, "auto, cpu or cuda[:N]")->capture_default_str();
  bench->add_option("--threads", args.threads, "CPU threads per process (0 = cores / processes on this machine)")
      ->capture_default_str();
  bench->add_flag("--keep-artifacts", c.keep_artifacts,
                  "Keep each job's run folder (scores, detector, figures) under runs/ in the benchmark folder");
  bench->add_flag("!--no-progress", c.progress, "No progress bar");
  auto* rerun = bench->add_flag_callback("--rerun-stale", [&c] { c.stale = oneclass::bench::StaleResults::rerun; },
                                         "Train again the finished jobs that other source revisions made");
  bench->add_flag_callback("--keep-stale", [&c] { c.stale = oneclass::bench::StaleResults::keep; },
                           "Keep the finished jobs that other source revisions made (the report lists the revisions)")
      ->excludes(rerun);
}

int do_bench(BenchArgs& args, const std::string& command) {
  auto& config = args.config;
  config.command = command;
  config.plan.datasets.clear();
  std::stringstream datasets(args.datasets);
  for (std::string name; std::getline(datasets, name, ',');) config.plan.datasets.push_back(name);
  config.plan.models = oneclass::bench::parse_model_list(args.models);
  nlohmann::json shared = parse_model_options(args.option_pairs);
  if (args.epochs) shared["epochs"] = *args.epochs;
  oneclass::bench::apply_shared_options(config.plan.models, shared);
  oneclass::bench::expand_labeled_anomalies(config.plan.models, args.labeled_anomalies);
  config.plan.classes = oneclass::data::parse_labels(args.classes);
  config.plan.seeds = oneclass::bench::parse_seeds(args.seeds);
  // Several processes on one machine (mpirun) share its cores.
  const int cores = static_cast<int>(std::thread::hardware_concurrency());
  oneclass::configure_threads(args.threads > 0 ? args.threads
                                               : std::max(1, cores / oneclass::bench::local_process_count()));
  const auto summary = oneclass::bench::run_bench(config);
  if (summary.interrupted) return 130;
  if (!summary.is_rank0) return 0;  // rank 0 speaks for an MPI job
  const int missing = summary.planned - summary.skipped - summary.finished;
  std::printf("bench: %d of %d jobs finished (%d now, %d earlier), %d failed, in %s -> %s/results.md, report.html\n",
              summary.skipped + summary.finished, summary.planned, summary.finished, summary.skipped, summary.failed,
              oneclass::format_duration(summary.wall_seconds).c_str(), config.out_dir.c_str());
  return missing == 0 ? 0 : 1;
}

int do_score(const oneclass::ScoreRequest& request) {
  oneclass::configure_threads(0);
  const auto summary = oneclass::score_images(request);
  for (const auto& error : summary.errors) std::fprintf(stderr, "error: %s\n", error.c_str());
  std::printf("scored %d image(s), %d flagged as anomalous, %zu failed -> %s\n", summary.scored, summary.flagged,
              summary.errors.size(), summary.output_csv.c_str());
  if (!request.maps_dir.empty()) {
    std::printf("maps and overlays in %s/ (overlay colours from 0 to %.4g, the largest map value here)\n",
                request.maps_dir.c_str(), summary.map_max);
  }
  return summary.errors.empty() ? 0 : 1;
}

int do_models() {
  for (const auto& entry : oneclass::detector_registry()) {
    std::printf("%-12s %s\n", entry.name.c_str(), entry.description.c_str());
    std::printf("%-12s options: %s\n", "", entry.make({})->options().dump().c_str());
    if (!entry.scores.empty()) {
      std::string scores;
      for (const auto& score : entry.scores) scores += (scores.empty() ? "" : ", ") + score;
      std::printf("%-12s --score: %s (default %s)\n", "", scores.c_str(), entry.scores.front().c_str());
    }
    if (entry.semi_supervised) std::printf("%-12s semi-supervised: --labeled-anomalies K\n", "");
  }
  return 0;
}

void add_demo_data_command(CLI::App& app, oneclass::data::DemoDataOptions& options) {
  auto* demo = app.add_subcommand("make-demo-data",
                                  "Write a synthetic inspection data set (MVTec AD layout, defects with exact masks)");
  demo->add_option("folder", options.folder, "Folder to write (one subfolder per category)")->required();
  demo->add_option("--seed", options.seed, "Seed: the same seed and options write byte-identical files")
      ->capture_default_str();
  demo->add_option("--size", options.size, "Image side in pixels")->capture_default_str()->check(CLI::Range(32, 1024));
  std::string known;
  for (const auto& c : oneclass::data::demo_categories()) known += (known.empty() ? "" : ", ") + c.name;
  demo->add_option("--categories", options.categories, "Categories (default all: " + known + ")")->delimiter(',');
  demo->add_option("--train", options.train_images, "Defect-free training images per category")->capture_default_str();
  demo->add_option("--good-test", options.good_test_images, "Defect-free test images per category")
      ->capture_default_str();
  demo->add_option("--defects", options.defect_images, "Test images per defect kind")->capture_default_str();
  demo->add_flag("--overwrite", options.overwrite, "Replace categories that an earlier make-demo-data wrote there");
}

int do_demo_data(const oneclass::data::DemoDataOptions& options) {
  for (const auto& written : oneclass::data::make_demo_data(options)) {
    std::printf("%-8s %4d files, %5.1f MB, surface: %s\n", written.name.c_str(), written.files,
                static_cast<double>(written.bytes) / 1e6, written.source.c_str());
  }
  std::printf("written to %s/ (MVTec AD layout); try: oneclass run --dataset folder --data %s --category wood\n",
              options.folder.c_str(), options.folder.c_str());
  return 0;
}

void add_serve_command(CLI::App& app, oneclass::serve::ServeOptions& options) {
  auto* serve = app.add_subcommand("serve", "Score uploaded images over HTTP, with a web page (GET /) and Prometheus metrics");
  serve->add_option("run_dir", options.run_dir, "Run folder written by `oneclass run`")->required();
  serve->add_option("--host", options.host, "Address to listen on (another than 127.0.0.1 exposes it to the network)")
      ->capture_default_str();
  serve->add_option("--port", options.port, "Port (0 = any free port, printed)")->capture_default_str()
      ->check(CLI::Range(0, 65535));
  serve->add_option("--threads", options.threads, "Request threads (0 = one per core)")->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  serve->add_option("--max-upload-mb", options.max_upload_mb, "Largest request body, in MB")->capture_default_str()
      ->check(CLI::Range(0.001, 1024.0));
  serve->add_option("--max-pixels", options.max_pixels,
                    "Largest image (width x height, read from its header before decoding)")
      ->capture_default_str()->check(CLI::Range(int64_t{1}, int64_t{1} << 28));
  serve->add_option("--max-batch", options.max_batch, "Most images in one POST /score/batch")->capture_default_str()
      ->check(CLI::Range(1, 1024));
  serve->add_option("--token-file", options.token_file,
                    "File holding a bearer token every request but /health must carry (Authorization: Bearer ...)");
  serve->add_option("--device", options.device, "auto, cpu or cuda[:N]")->capture_default_str();
}

}  // namespace

namespace oneclass::cli {

int run_command_line(const std::vector<std::string>& args) {
  CLI::App app{"oneclass: image anomaly detection trained on normal images only"};
  app.require_subcommand(0, 1);
  bool version = false;
  app.add_flag("--version", version, "Print the version and source revision, LibTorch, BLAS, threads and host, then exit");

  RunArgs run_args;
  add_run_command(app, run_args);

  oneclass::ScoreRequest score_request;
  auto* score = app.add_subcommand("score", "Score image files or folders with a trained run");
  score->add_option("run_dir", score_request.run_dir, "Run folder written by `oneclass run`")->required();
  score->add_option("paths", score_request.inputs, "Image files (PNG, JPEG, ...) or folders")->required();
  score->add_option("--output", score_request.output_csv, "CSV to write (default RUN_DIR/scored.csv)");
  score->add_option("--device", score_request.device, "auto, cpu or cuda[:N]")->capture_default_str();
  score->add_option("--maps", score_request.maps_dir,
                    "Folder for each image's anomaly map (<name>_map.tiff, 32-bit float) and heat-map overlay "
                    "(<name>_overlay.png)");
  app.add_subcommand("models", "List the registered detectors");
  BenchArgs bench_args;
  add_bench_command(app, bench_args);
  oneclass::data::DemoDataOptions demo_options;
  add_demo_data_command(app, demo_options);
  oneclass::serve::ServeOptions serve_options;
  add_serve_command(app, serve_options);

  // CLI11 reads argv; the program name is not an option.
  std::vector<const char*> argv{"oneclass"};
  for (const auto& arg : args) argv.push_back(arg.c_str());
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return 0;
  } catch (const CLI::CallForAllHelp&) {
    std::cout << app.help("", CLI::AppFormatMode::All);
    return 0;
  } catch (const CLI::ParseError& e) {
    throw oneclass::Error(std::string(e.what()) + "; see `oneclass " +
                          (app.get_subcommands().empty() ? std::string() : app.get_subcommands().front()->get_name() + " ") +
                          "--help`");
  }
  if (version) {
    oneclass::configure_threads(0);
    std::printf("%s\n%s\n", oneclass::doctor_line(oneclass::resolve_device("auto")).c_str(),
                oneclass::report::figures_status().c_str());
    return 0;
  }
  if (app.got_subcommand("run")) return do_run(run_args);
  if (app.got_subcommand("score")) return do_score(score_request);
  if (app.got_subcommand("models")) return do_models();
  if (app.got_subcommand("bench")) return do_bench(bench_args, command_line(args));
  if (app.got_subcommand("make-demo-data")) return do_demo_data(demo_options);
  if (app.got_subcommand("serve")) return oneclass::serve::serve(serve_options);
  std::cout << app.help();
  return 0;
}

}  // namespace oneclass::cli
