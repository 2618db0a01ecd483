// ocsvm: the one-class support vector machine of Schölkopf et al. (2001) with an RBF kernel
// K(x, y) = exp(-gamma |x - y|^2), on raw pixels or on `pca` principal components. libsvm finds
// the support vectors sv_i, their dual coefficients alpha_i (summing to nu * N) and the offset rho
// such that at most a fraction nu of the normal images fall outside the learned region; the score
// is minus the decision function, rho - sum_i alpha_i K(x, sv_i) (higher = more anomalous, > 0
// outside the region). gamma "scale" is 1 / (D * variance of all training feature values), as in
// scikit-learn. Only training uses libsvm: the support vectors, coefficients and rho are copied
// into tensors, and scoring is LibTorch arithmetic in float64, so a score does not depend on the
// batch, and the saved state is plain tensors. Training is deterministic (libsvm draws random
// numbers only for cross-validation and probability estimates, neither used here).
// Compiled to nothing when libsvm is not installed (ONECLASS_HAVE_LIBSVM, cmake/dependencies.cmake).
#include "oneclass/config.h"

#ifdef ONECLASS_HAVE_LIBSVM
#include <libsvm/svm.h>
#include <torch/torch.h>

#include <memory>
#include <mutex>

#include "detectors/pixel_features.h"
#include "oneclass/detectors/registry.h"
#include "oneclass/error.h"

namespace oneclass {
namespace {

// Test images per kernel matrix: 1024 x a few thousand support vectors of float64.
constexpr int64_t kQueryChunk = 1024;

// libsvm reports progress on stdout through one global function; ours discards it. Set once, as
// concurrent fits would otherwise write the same global at the same time.
void silence_libsvm() {
  static std::once_flag once;
  std::call_once(once, [] { svm_set_print_string_function([](const char*) {}); });
}

// The images in libsvm's sparse format (zero features left out, indices from 1, -1 ends a row),
// with the row pointers and labels svm_problem refers to: it must outlive the problem and model.
struct LibsvmProblem {
  std::vector<svm_node> nodes;
  std::vector<svm_node*> rows;
  std::vector<double> labels;
  svm_problem problem{};

  explicit LibsvmProblem(const at::Tensor& features) {  // [N, D] float64, contiguous, on the CPU
    const auto x = features.accessor<double, 2>();
    std::vector<size_t> starts;
    for (int64_t i = 0; i < x.size(0); ++i) {
      starts.push_back(nodes.size());
      for (int64_t j = 0; j < x.size(1); ++j) {
        if (x[i][j] != 0.0) nodes.push_back({static_cast<int>(j + 1), x[i][j]});
      }
      nodes.push_back({-1, 0.0});
    }
    for (const auto start : starts) rows.push_back(nodes.data() + start);  // nodes no longer grows
    labels.assign(rows.size(), 1.0);
    problem.l = static_cast<int>(rows.size());
    problem.y = labels.data();
    problem.x = rows.data();
  }
};

struct ModelDeleter {
  void operator()(svm_model* model) const { svm_free_and_destroy_model(&model); }
};

class OneClassSvm final : public Detector {
 public:
  explicit OneClassSvm(const nlohmann::json& given) : Detector("ocsvm", resolve_options(given)) {}

  static nlohmann::json defaults() { return {{"nu", 0.1}, {"gamma", "scale"}, {"pca", 0}}; }

  TrainPlan plan() const override { return {/*epochs=*/0, /*batch_size=*/0}; }

 protected:
  void prepare(const at::Tensor& normal_images, const FitContext& context) override {
    if (normal_images.size(0) < 2) {
      throw Error("ocsvm: needs at least 2 training images, got " + std::to_string(normal_images.size(0)));
    }
    features_.fit(normal_images, device());
    const auto x = features_.transform(normal_images).cpu().contiguous();
    gamma_ = resolved_gamma(x);
    LibsvmProblem data(x);
    const svm_parameter parameter = libsvm_parameter();
    if (const char* problem = svm_check_parameter(&data.problem, &parameter)) {
      throw Error(std::string("ocsvm: libsvm rejects the settings ") + options().dump() + ": " + problem);
    }
    silence_libsvm();
    const std::unique_ptr<svm_model, ModelDeleter> model(svm_train(&data.problem, &parameter));
    if (!model || model->l < 1) throw Error("ocsvm: libsvm found no support vectors; check nu and the images");
    // libsvm numbers its support vectors 1..N in the training set: take their rows from x.
    std::vector<int64_t> indices(model->sv_indices, model->sv_indices + model->l);
    for (auto& index : indices) --index;
    const std::vector<double> alpha(model->sv_coef[0], model->sv_coef[0] + model->l);
    set_state(x.index_select(0, torch::tensor(indices)), torch::tensor(alpha, torch::kDouble), model->rho[0]);
  }

  at::Tensor score_batch(const at::Tensor& images) override {
    const auto x = features_.transform(images);
    std::vector<at::Tensor> scores;
    for (int64_t start = 0; start < x.size(0); start += kQueryChunk) {
      const auto chunk = x.narrow(0, start, std::min(kQueryChunk, x.size(0) - start));
      const auto kernel = squared_distances(chunk, support_, support_norms_).mul_(-gamma_).exp_();  // [Q, S]
      scores.push_back(rho_ - kernel.mv(alpha_));
    }
    return scores.empty() ? torch::zeros({0}, torch::kDouble) : torch::cat(scores);
  }

  void save_state(torch::serialize::OutputArchive& archive) const override {
    features_.save(archive);
    archive.write("support_vectors", support_);
    archive.write("alpha", alpha_);
    archive.write("rho_gamma", torch::tensor({rho_, gamma_}, torch::kDouble));
  }

  void load_state(torch::serialize::InputArchive& archive) override {
    features_.load(archive, device(), input_size());
    at::Tensor support, alpha, rho_gamma;
    archive.read("support_vectors", support);
    archive.read("alpha", alpha);
    archive.read("rho_gamma", rho_gamma);
    if (support.dim() != 2 || support.size(0) < 1 || support.size(1) != features_.dim() || alpha.dim() != 1 ||
        alpha.size(0) != support.size(0) || rho_gamma.numel() != 2) {
      throw Error("ocsvm: stored support vectors " + c10::str(support.sizes()) + ", coefficients " +
                  c10::str(alpha.sizes()) + " and rho/gamma " + c10::str(rho_gamma.sizes()) +
                  " do not fit features of size " + std::to_string(features_.dim()) + "; refit the detector");
    }
    const auto values = rho_gamma.to(torch::kCPU, torch::kDouble);
    gamma_ = values[1].item<double>();
    if (!(gamma_ > 0)) throw Error("ocsvm: stored gamma=" + std::to_string(gamma_) + " is not positive; refit");
    set_state(support, alpha, values[0].item<double>());
  }

 private:
  // gamma is "scale" or a positive number, two JSON types, so it bypasses merge_options' type check.
  static nlohmann::json resolve_options(const nlohmann::json& given) {
    nlohmann::json rest = given;
    nlohmann::json gamma = "scale";
    if (given.is_object() && given.contains("gamma")) {
      gamma = given["gamma"];
      rest.erase("gamma");
    }
    auto options = merge_options("ocsvm", defaults(), rest);
    if (gamma.is_number()) gamma = gamma.get<double>();  // 1 and 1.0 are one setting
    if (!(gamma == "scale" || (gamma.is_number() && gamma.get<double>() > 0))) {
      throw Error("ocsvm: gamma=" + gamma.dump() + " must be \"scale\" or a positive number");
    }
    options["gamma"] = gamma;
    const double nu = options["nu"].get<double>();
    if (!(nu > 0 && nu <= 1) || options["pca"].get<int64_t>() < 0) {
      throw Error("ocsvm: need 0 < nu <= 1 and pca >= 0 (got nu=" + options["nu"].dump() +
                  ", pca=" + options["pca"].dump() + ")");
    }
    return options;
  }

  double resolved_gamma(const at::Tensor& x) const {
    if (options()["gamma"].is_number()) return options()["gamma"].get<double>();
    const double variance = x.var(/*unbiased=*/false).item<double>();
    if (!(variance > 0)) {
      throw Error("ocsvm: gamma=\"scale\" needs training images that vary, but every feature value is the same; "
                  "give gamma a positive number");
    }
    return 1.0 / (static_cast<double>(x.size(1)) * variance);
  }

  svm_parameter libsvm_parameter() const {
    svm_parameter parameter{};
    parameter.svm_type = ONE_CLASS;
    parameter.kernel_type = RBF;
    parameter.gamma = gamma_;
    parameter.nu = options()["nu"].get<double>();
    parameter.cache_size = 200;  // MB of kernel rows: all of them for a class of MNIST (~6,000 images)
    parameter.eps = 1e-3;
    parameter.C = 1;  // unused by ONE_CLASS, but checked
    parameter.shrinking = 1;
    parameter.probability = 0;
    return parameter;
  }

  void set_state(const at::Tensor& support, const at::Tensor& alpha, double rho) {
    support_ = support.to(device(), torch::kDouble).contiguous();
    support_norms_ = support_.square().sum(1).unsqueeze(0);
    alpha_ = alpha.to(device(), torch::kDouble).contiguous();
    rho_ = rho;
  }

  PixelFeatures features_{"ocsvm", options()["pca"].get<int64_t>()};
  at::Tensor support_, support_norms_, alpha_;  // [S, D], [1, S], [S]
  double rho_ = 0, gamma_ = 0;
};

}  // namespace

DetectorEntry ocsvm_entry() {
  return {"ocsvm",
          "one-class SVM with an RBF kernel (libsvm); score = minus its decision function",
          [](const nlohmann::json& options) -> std::unique_ptr<Detector> {
            return std::make_unique<OneClassSvm>(options);
          },
          /*tiny_options=*/{{"nu", 0.1}, {"gamma", "scale"}}};
}

}  // namespace oneclass

#endif  // ONECLASS_HAVE_LIBSVM
