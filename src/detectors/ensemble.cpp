// ensemble: several detectors combined by standardised scores. The normal training images are
// split (seeded): the members are fitted on the larger part; their scores on the held-out part
// give each member's mean and standard deviation on normal images; the ensemble's score is the
// mean over members of (score - mean) / std. Standardising on images no member was fitted on
// matters: on its own training images kNN scores exactly 0.
//   members: detector names joined by '+', each with its default options (e.g. knn+geom)
//   holdout: share of the normal training images held out for the standardisation
#include <sstream>

#include <torch/torch.h>

#include "detectors/stored_shape.h"
#include "oneclass/detectors/registry.h"
#include "oneclass/error.h"
#include "oneclass/train/loop.h"

namespace oneclass {
namespace {

constexpr double kMinStd = 1e-12;  // a member that scores every held-out image alike still divides safely

std::vector<std::string> member_names(const std::string& text) {
  std::vector<std::string> names;
  std::stringstream parts(text + "+");
  for (std::string name; std::getline(parts, name, '+');) {
    if (name.empty()) throw Error("ensemble: members='" + text + "' has an empty name; write e.g. members=knn+geom");
    if (name == "ensemble") throw Error("ensemble: an ensemble cannot be its own member");
    names.push_back(name);
  }
  return names;
}

class Ensemble final : public Detector {
 public:
  explicit Ensemble(const nlohmann::json& given) : options_(merge_options("ensemble", defaults(), given)) {
    const double holdout = options_["holdout"].get<double>();
    if (!(holdout > 0 && holdout < 1)) throw Error("ensemble: holdout=" + options_["holdout"].dump() + " must be in (0, 1)");
    for (const auto& name : member_names(options_["members"].get<std::string>())) members_.push_back(make_detector(name));
  }

  static nlohmann::json defaults() { return {{"members", "knn+geom"}, {"holdout", 0.1}}; }

  std::string name() const override { return "ensemble"; }
  nlohmann::json options() const override { return options_; }
  TrainPlan plan() const override { return {0, 0}; }  // the members are fitted in begin_fit
  c10::Device device() const override { return device_; }
  std::vector<int64_t> input_shape() const override { return input_shape_; }

  void begin_fit(const at::Tensor& normal_images, const FitContext& context) override {
    device_ = context.device;
    input_shape_ = normal_images.sizes().slice(1).vec();
    const int64_t n = normal_images.size(0);
    const int64_t held = static_cast<int64_t>(std::llround(options_["holdout"].get<double>() * static_cast<double>(n)));
    if (held < 2 || n - held < 2) {
      throw Error("ensemble: " + std::to_string(n) + " training images are too few to hold out " +
                  options_["holdout"].dump() + " of them for standardising (need at least 2 on each side)");
    }
    auto generator = at::make_generator<at::CPUGeneratorImpl>(context.seed + 3);
    const auto order = torch::randperm(n, generator, torch::kLong).to(normal_images.device());
    const auto held_out = normal_images.index_select(0, order.narrow(0, 0, held));
    const auto fit_part = normal_images.index_select(0, order.narrow(0, held, n - held));
    std::vector<at::Tensor> means, stds;
    for (auto& member : members_) {
      train::LoopOptions loop;
      loop.seed = context.seed;
      loop.progress = false;
      train::fit(*member, fit_part, device_, loop);
      torch::NoGradGuard no_grad;
      const auto scores = member->score(held_out);
      means.push_back(scores.mean());
      stds.push_back(scores.std().clamp_min(kMinStd));
    }
    mean_ = torch::stack(means);
    std_ = torch::stack(stds);
  }

  at::Tensor score(const at::Tensor& images) override {
    require_fitted_shape("ensemble", images, input_shape_);
    auto total = torch::zeros({images.size(0)}, torch::kDouble).to(device_);
    for (size_t m = 0; m < members_.size(); ++m) {
      total += (members_[m]->score(images).to(device_) - mean_[m]) / std_[m];
    }
    return total / static_cast<double>(members_.size());
  }

  void save_state(torch::serialize::OutputArchive& archive) const override {
    write_input_shape(archive, input_shape_);
    archive.write("mean", mean_);
    archive.write("std", std_);
    for (size_t m = 0; m < members_.size(); ++m) {
      torch::serialize::OutputArchive member;
      members_[m]->save_state(member);
      archive.write("member_" + std::to_string(m), member);
    }
  }

  void load_state(torch::serialize::InputArchive& archive, const c10::Device& device) override {
    device_ = device;
    at::Tensor mean, std;
    input_shape_ = read_input_shape(archive, "ensemble");
    archive.read("mean", mean);
    archive.read("std", std);
    const auto m = static_cast<int64_t>(members_.size());
    if (mean.dim() != 1 || mean.size(0) != m || std.dim() != 1 || std.size(0) != m ||
        !torch::isfinite(mean).all().item<bool>() || !(std.to(torch::kDouble) > 0).all().item<bool>()) {
      throw Error("ensemble: stored standardisation of " + c10::str(mean.sizes()) + " does not fit its " +
                  std::to_string(m) + " members (" + options_["members"].get<std::string>() + ")");
    }
    mean_ = mean.to(device_, torch::kDouble);
    std_ = std.to(device_, torch::kDouble);
    for (size_t i = 0; i < members_.size(); ++i) {
      torch::serialize::InputArchive member;
      archive.read("member_" + std::to_string(i), member);
      members_[i]->load_state(member, device_);
    }
  }

 private:
  nlohmann::json options_;
  std::vector<std::unique_ptr<Detector>> members_;
  c10::Device device_ = c10::Device(c10::kCPU);
  std::vector<int64_t> input_shape_;
  at::Tensor mean_, std_;  // float64 [members]: each member's score on held-out normal images
};

}  // namespace

std::unique_ptr<Detector> make_ensemble(const nlohmann::json& options) { return std::make_unique<Ensemble>(options); }

}  // namespace oneclass
