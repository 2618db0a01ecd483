#include "oneclass/engine/fit_images.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include <torch/torch.h>

#include <fmt/format.h>

#include "oneclass/detectors/detector.h"
#include "oneclass/engine/experiment.h"
#include "oneclass/engine/run.h"
#include "oneclass/error.h"
#include "oneclass/eval/confidence.h"
#include "oneclass/eval/metrics.h"
#include "oneclass/train/loop.h"
#include "oneclass/util/atomic_file.h"
#include "oneclass/util/random_streams.h"
#include "oneclass/util/system_info.h"

namespace oneclass {

FittedImages::FittedImages() = default;
FittedImages::~FittedImages() = default;
FittedImages::FittedImages(FittedImages&&) noexcept = default;
FittedImages& FittedImages::operator=(FittedImages&&) noexcept = default;

namespace {

void check_images(const at::Tensor& images, const ImageFitOptions& options) {
  if (!images.defined() || images.dim() != 4) {
    throw Error("images must be [N, C, H, W] (N images of C channels, H x W pixels), got " +
                (images.defined() ? c10::str(images.sizes()) : std::string("nothing")));
  }
  if (images.scalar_type() != torch::kFloat) throw Error("images must be 32-bit floats in [0, 1]");
  if (images.size(1) != 1 && images.size(1) != 3) {
    throw Error(fmt::format("images have {} channels; give 1 (grey) or 3 (RGB)", images.size(1)));
  }
  if (options.val_fraction <= 0 || options.val_fraction > 0.9) {
    throw Error(fmt::format("val_fraction {:g} must be in (0, 0.9]: the held-out images set the threshold",
                            options.val_fraction));
  }
  if (images.size(0) < 2) throw Error(fmt::format("{} image(s): give at least 2 (some are held out)", images.size(0)));
  const double low = images.min().item<double>(), high = images.max().item<double>();
  if (!(low >= 0 && high <= 1)) {
    throw Error(fmt::format("pixel values span [{:g}, {:g}]; give values in [0, 1] (8-bit images divided by 255)",
                            low, high));
  }
}

}  // namespace

FittedImages fit_images(const at::Tensor& images, const ImageFitOptions& options) {
  check_images(images, options);
  const c10::Device device = resolve_device(options.device);
  FittedImages fitted;
  fitted.detector = make_seeded_detector(options.model, options.model_options, options.seed);
  if (fitted.detector->labeled_anomalies_wanted() > 0) {
    throw Error(options.model + " learns from labelled anomalies, which arrays of normal images do not have; "
                "choose a one-class detector (oneclass.models())");
  }
  // The held-out share is drawn as `oneclass run` draws it from a folder: a seeded permutation.
  const int64_t n = images.size(0);
  const int64_t n_val = std::clamp<int64_t>(std::llround(options.val_fraction * static_cast<double>(n)), 1, n - 1);
  auto generator = random_stream(options.seed, RandomStream::normal_split);
  const auto order = torch::randperm(n, generator, torch::kLong);
  const auto all = images.contiguous();
  const auto val = all.index_select(0, order.narrow(0, 0, n_val)).to(device);
  const auto train = all.index_select(0, order.narrow(0, n_val, n - n_val)).to(device);

  train::LoopOptions loop;
  loop.seed = options.seed;
  loop.progress = options.progress;
  const train::History history = train::fit(*fitted.detector, train, device, loop);
  torch::NoGradGuard no_grad;
  const auto held_out_tensor = fitted.detector->score(val).to(torch::kCPU).contiguous();
  const std::vector<double> held_out(held_out_tensor.data_ptr<double>(),
                                     held_out_tensor.data_ptr<double>() + held_out_tensor.numel());
  fitted.threshold = eval::calibrate_threshold(held_out, options.target_fpr);
  const long false_alarms =
      std::count_if(held_out.begin(), held_out.end(), [&](double s) { return s > fitted.threshold; });

  const auto& shape = fitted.detector->input_shape();
  fitted.config = {{"dataset", "arrays"},       {"model", options.model},
                   {"model_options", fitted.detector->options()}, {"seed", options.seed},
                   {"val_fraction", options.val_fraction}, {"target_fpr", options.target_fpr},
                   {"threshold", fitted.threshold}, {"input_shape", shape},
                   {"n_images", n},             {"device", device.str()}};
  fitted.metrics = {{"dataset", "arrays"},
                    {"model", options.model},
                    {"model_options", fitted.detector->options()},
                    {"n_train", n - n_val},
                    {"n_val", n_val},
                    {"threshold", fitted.threshold},
                    {"threshold_source", "calibrated on held-out normal training images"},
                    {"target_fpr", options.target_fpr},
                    {"val_false_alarms", false_alarms},
                    {"epochs", history.epoch_loss.size()},
                    {"final_loss", history.epoch_loss.empty() ? nlohmann::json(nullptr)
                                                              : nlohmann::json(history.epoch_loss.back())},
                    {"train_seconds", history.seconds},
                    {"environment", environment_record(device)}};
  return fitted;
}

void save_fitted_images(const FittedImages& fitted, const std::string& run_dir, bool overwrite) {
  if (!fitted.detector) throw Error("nothing to save: fit first");
  RunConfig folder;
  folder.out_dir = run_dir;
  folder.overwrite = overwrite;
  prepare_run_folder(folder);
  const std::filesystem::path out(run_dir);
  save_detector(*fitted.detector, (out / "detector.pt").string());
  nlohmann::json config = fitted.config;
  config["out_dir"] = run_dir;
  write_file_atomic((out / "config.json").string(), config.dump(2) + "\n");
  write_file_atomic((out / "metrics.json").string(), fitted.metrics.dump(2) + "\n");
}

}  // namespace oneclass
