// ensemble: several detectors combined by standardised scores. The normal training images are
// split (seeded): the members are fitted on the larger part; their scores on the held-out part
// give each member's mean and standard deviation on normal images; the ensemble's score is the
// mean over members of (score - mean) / std. Standardising on images no member was fitted on
// matters: on its own training images kNN scores exactly 0.
//   members: detector names joined by '+', each with its default options (e.g. knn+geom)
//   holdout: share of the normal training images held out for the standardisation
#include <sstream>

#include <torch/torch.h>

#include "oneclass/detectors/registry.h"
#include "oneclass/error.h"
#include "oneclass/util/random_streams.h"

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
  explicit Ensemble(const nlohmann::json& given) : Detector("ensemble", merge_options("ensemble", defaults(), given)) {
    const double holdout = options()["holdout"].get<double>();
    if (!(holdout > 0 && holdout < 1)) throw Error("ensemble: holdout=" + options()["holdout"].dump() + " must be in (0, 1)");
    for (const auto& name : member_names(options()["members"].get<std::string>())) members_.push_back(make_detector(name));
  }

  static nlohmann::json defaults() { return {{"members", "knn+geom"}, {"holdout", 0.1}}; }

  TrainPlan plan() const override { return {0, 0}; }  // the members are fitted in prepare

 protected:
  void prepare(const at::Tensor& normal_images, const FitContext& context) override {
    if (!context.fit_member) throw Error("ensemble: fitted outside the training loop (FitContext has no fit_member)");
    const int64_t n = normal_images.size(0);
    const int64_t held = static_cast<int64_t>(std::llround(options()["holdout"].get<double>() * static_cast<double>(n)));
    if (held < 2 || n - held < 2) {
      throw Error("ensemble: " + std::to_string(n) + " training images are too few to hold out " +
                  options()["holdout"].dump() + " of them for standardising (need at least 2 on each side)");
    }
    auto generator = random_stream(context.seed, RandomStream::ensemble_holdout);
    const auto order = torch::randperm(n, generator, torch::kLong).to(normal_images.device());
    const auto held_out = normal_images.index_select(0, order.narrow(0, 0, held));
    const auto fit_part = normal_images.index_select(0, order.narrow(0, held, n - held));
    std::vector<at::Tensor> means, stds;
    for (auto& member : members_) {
      context.fit_member(*member, fit_part, context.seed);
      torch::NoGradGuard no_grad;
      const auto scores = member->score(held_out);
      means.push_back(scores.mean());
      stds.push_back(scores.std().clamp_min(kMinStd));
    }
    mean_ = torch::stack(means);
    std_ = torch::stack(stds);
  }

  at::Tensor score_batch(const at::Tensor& images) override {
    auto total = torch::zeros({images.size(0)}, torch::kDouble).to(device());
    for (size_t m = 0; m < members_.size(); ++m) {
      total += (members_[m]->score(images).to(device()) - mean_[m]) / std_[m];
    }
    return total / static_cast<double>(members_.size());
  }

  void save_state(torch::serialize::OutputArchive& archive) const override {
    archive.write("mean", mean_);
    archive.write("std", std_);
    for (size_t m = 0; m < members_.size(); ++m) {
      torch::serialize::OutputArchive member;
      members_[m]->save(member);
      archive.write("member_" + std::to_string(m), member);
    }
  }

  void load_state(torch::serialize::InputArchive& archive) override {
    at::Tensor mean, std;
    archive.read("mean", mean);
    archive.read("std", std);
    const auto m = static_cast<int64_t>(members_.size());
    if (mean.dim() != 1 || mean.size(0) != m || std.dim() != 1 || std.size(0) != m ||
        !torch::isfinite(mean).all().item<bool>() || !(std.to(torch::kDouble) > 0).all().item<bool>()) {
      throw Error("ensemble: stored standardisation of " + c10::str(mean.sizes()) + " does not fit its " +
                  std::to_string(m) + " members (" + options()["members"].get<std::string>() + ")");
    }
    mean_ = mean.to(device(), torch::kDouble);
    std_ = std.to(device(), torch::kDouble);
    for (size_t i = 0; i < members_.size(); ++i) {
      torch::serialize::InputArchive member;
      archive.read("member_" + std::to_string(i), member);
      members_[i]->load(member, device());
      if (members_[i]->input_shape() != input_shape()) {
        throw Error("ensemble: stored member " + members_[i]->name() + " was fitted on " +
                    c10::str(c10::IntArrayRef(members_[i]->input_shape())) + ", the ensemble on " + c10::str(c10::IntArrayRef(input_shape())));
      }
    }
  }

 private:
  std::vector<std::unique_ptr<Detector>> members_;
  at::Tensor mean_, std_;  // float64 [members]: each member's score on held-out normal images
};

}  // namespace

DetectorEntry ensemble_entry() {
  return {"ensemble",
          "several detectors (members=knn+geom); score = mean of their scores standardised on held-out "
          "normal images",
          [](const nlohmann::json& options) -> std::unique_ptr<Detector> {
            return std::make_unique<Ensemble>(options);
          },
          /*tiny_options=*/{{"members", "knn+pca"}}};
}

}  // namespace oneclass
