// kde: a Gaussian kernel density estimate over the normal images, on raw pixels or on `pca`
// principal components. The density at x is the mean over the N training images x_i of an
// isotropic Gaussian of bandwidth h in D dimensions; the score is its negative logarithm,
//   -log p(x) = -logsumexp_i(-|x - x_i|^2 / (2 h^2)) + log N + (D / 2) log(2 pi h^2),
// higher = more anomalous. The last two terms are the same for every image and do not change the
// ranking; they are kept so that the score is the true negative log-density (and comparable across
// bandwidths, which choosing h needs).
// Bandwidth: `bandwidth` > 0 fixes h. With bandwidth=0 (the default) h is chosen on held-out normal
// images: the seed splits the normal images 90 / 10, and of 12 values log-spaced between 0.1 and 3
// times the median nearest-neighbour distance within the 90 %, the one with the highest mean
// log-density of the 10 % (under the estimate on the 90 %) wins. All training images then form the
// estimate. Squared distances come from one float64 matrix product per chunk of images: the
// logsumexp is dominated by the nearest images, whose small distances float32 would blur.
#include <torch/torch.h>

#include <cmath>

#include "detectors/pixel_features.h"
#include "oneclass/detectors/registry.h"
#include "oneclass/error.h"
#include "oneclass/util/random_streams.h"

namespace oneclass {
namespace {

// Images per distance matrix: 1024 x 6,000 training images is 49 MB of float64.
constexpr int64_t kQueryChunk = 1024;
constexpr int kBandwidths = 12;
constexpr double kSmallestBandwidth = 0.1, kLargestBandwidth = 3.0;  // times the median neighbour distance
constexpr double kHeldOutShare = 0.1;

// Applies `reduce` to the squared distances [Q, N] of each chunk of x to the bank; concatenates.
template <typename Reduce>
at::Tensor over_chunks(const at::Tensor& x, const at::Tensor& bank, Reduce reduce) {
  const auto bank_norms = bank.square().sum(1).unsqueeze(0);
  std::vector<at::Tensor> parts;
  for (int64_t start = 0; start < x.size(0); start += kQueryChunk) {
    const int64_t rows = std::min(kQueryChunk, x.size(0) - start);
    parts.push_back(reduce(squared_distances(x.narrow(0, start, rows), bank, bank_norms), start));
  }
  return parts.empty() ? torch::zeros({0}, x.options()) : torch::cat(parts);
}

// log p(x) of each row of x under the estimate on `bank` with bandwidth h, from squared distances.
at::Tensor log_density(const at::Tensor& squared, int64_t bank_size, int64_t dim, double h) {
  const double log_normaliser =
      std::log(static_cast<double>(bank_size)) + 0.5 * static_cast<double>(dim) * std::log(2.0 * M_PI * h * h);
  return torch::logsumexp(squared / (-2.0 * h * h), 1) - log_normaliser;
}

class KernelDensity final : public Detector {
 public:
  explicit KernelDensity(const nlohmann::json& given) : Detector("kde", merge_options("kde", defaults(), given)) {
    if (!(options()["bandwidth"].get<double>() >= 0) || options()["pca"].get<int64_t>() < 0) {
      throw Error("kde: need bandwidth >= 0 (0 = choose on held-out normal images) and pca >= 0 (got bandwidth=" +
                  options()["bandwidth"].dump() + ", pca=" + options()["pca"].dump() + ")");
    }
  }

  static nlohmann::json defaults() { return {{"bandwidth", 0.0}, {"pca", 0}}; }

  TrainPlan plan() const override { return {/*epochs=*/0, /*batch_size=*/0}; }

 protected:
  void prepare(const at::Tensor& normal_images, const FitContext& context) override {
    if (normal_images.size(0) < 1) throw Error("kde: needs at least 1 training image, got none");
    features_.fit(normal_images, device());
    const auto x = features_.transform(normal_images);
    const double fixed = options()["bandwidth"].get<double>();
    set_state(x, fixed > 0 ? fixed : chosen_bandwidth(x, context.seed));
  }

  at::Tensor score_batch(const at::Tensor& images) override {
    return over_chunks(features_.transform(images), bank_, [&](const at::Tensor& squared, int64_t) {
      return -log_density(squared, bank_.size(0), bank_.size(1), bandwidth_);
    });
  }

  void save_state(torch::serialize::OutputArchive& archive) const override {
    features_.save(archive);
    archive.write("bank", bank_);
    archive.write("bandwidth", torch::tensor({bandwidth_}, torch::kDouble));
  }

  void load_state(torch::serialize::InputArchive& archive) override {
    features_.load(archive, device(), input_size());
    at::Tensor bank, bandwidth;
    archive.read("bank", bank);
    archive.read("bandwidth", bandwidth);
    if (bank.dim() != 2 || bank.size(0) < 1 || bank.size(1) != features_.dim() || bandwidth.numel() != 1) {
      throw Error("kde: stored bank " + c10::str(bank.sizes()) + " and bandwidth " + c10::str(bandwidth.sizes()) +
                  " do not fit features of size " + std::to_string(features_.dim()) + "; refit the detector");
    }
    const double h = bandwidth.to(torch::kCPU, torch::kDouble).item<double>();
    if (!(h > 0 && std::isfinite(h))) throw Error("kde: stored bandwidth " + std::to_string(h) + " is not positive");
    set_state(bank, h);
  }

 private:
  // The grid value with the highest mean log-density of held-out normal images (see the header).
  static double chosen_bandwidth(const at::Tensor& x, uint64_t seed) {
    const int64_t n = x.size(0);
    const int64_t held = std::max<int64_t>(1, std::llround(kHeldOutShare * static_cast<double>(n)));
    if (n - held < 2) {
      throw Error("kde: choosing the bandwidth needs at least 3 training images, got " + std::to_string(n) +
                  "; give bandwidth=<h> > 0");
    }
    auto generator = random_stream(seed, RandomStream::kde_bandwidth);
    const auto order = torch::randperm(n, generator, torch::kLong).to(x.device());
    const auto held_out = x.index_select(0, order.narrow(0, 0, held));
    const auto fit = x.index_select(0, order.narrow(0, held, n - held));
    const double median = median_neighbour_distance(fit);
    const auto squared = over_chunks(held_out, fit, [](const at::Tensor& s, int64_t) { return s; });
    double best = kSmallestBandwidth * median, best_likelihood = -INFINITY;
    for (int k = 0; k < kBandwidths; ++k) {
      const double h = median * kSmallestBandwidth *
                       std::pow(kLargestBandwidth / kSmallestBandwidth, static_cast<double>(k) / (kBandwidths - 1));
      const double likelihood = log_density(squared, fit.size(0), fit.size(1), h).mean().item<double>();
      if (likelihood > best_likelihood) {  // ties keep the smaller bandwidth
        best = h;
        best_likelihood = likelihood;
      }
    }
    return best;
  }

  // Median over the images of the distance to their nearest other image.
  static double median_neighbour_distance(const at::Tensor& x) {
    const auto nearest = over_chunks(x, x, [](const at::Tensor& squared, int64_t start) {
      squared.narrow(1, start, squared.size(0)).diagonal().fill_(INFINITY);  // not itself
      return std::get<0>(squared.min(1));
    });
    const double median = nearest.median().sqrt().item<double>();
    if (!(median > 0)) {
      throw Error("kde: the median distance between a training image and its nearest neighbour is 0 (most images "
                  "are duplicates), so no bandwidth can be chosen from it; give bandwidth=<h> > 0");
    }
    return median;
  }

  void set_state(const at::Tensor& bank, double bandwidth) {
    bank_ = bank.to(device(), torch::kDouble).contiguous();
    bandwidth_ = bandwidth;
  }

  PixelFeatures features_{"kde", options()["pca"].get<int64_t>()};
  at::Tensor bank_;  // [N, D] float64 features of the training images
  double bandwidth_ = 0;
};

}  // namespace

DetectorEntry kde_entry() {
  return {"kde",
          "Gaussian kernel density of the normal images; score = -log density",
          [](const nlohmann::json& options) -> std::unique_ptr<Detector> {
            return std::make_unique<KernelDensity>(options);
          },
          /*tiny_options=*/{{"pca", 8}}};
}

}  // namespace oneclass
