// patch-knn: nearest-neighbour distances of local patch descriptors, built for localisation (after
// PatchCore, Roth et al. 2022, with raw pixels in place of pretrained features, which this project
// cannot download).
//   Descriptors: at each cell of a G x G grid (G = side / stride), the 3 x 3 neighbourhood of the
//   image area-averaged to that grid, at `levels` scales (cells of stride, 2 x stride, ... pixels;
//   coarser levels upsampled to the grid), concatenated: levels * 9 * C values. At 256 x 256 with
//   stride 4 and 2 levels, a cell sees 12 and 24 pixels around it.
//   Memory bank: the descriptors of every normal training image, reduced to `coreset` of them (at
//   most `max_bank`) by greedy k-centre selection (each step adds the descriptor farthest from those
//   chosen), measured on a random projection to at most 32 dimensions, as PatchCore does to make the
//   selection cheap. The cap bounds the cost: each step is a pass over all descriptors, so without
//   it fitting grows with the square of the training set (300 images at 256 x 256 are 1.2 M
//   descriptors; 10,000 steps over them take minutes on a laptop core).
//   Pixel map: each cell's distance to its nearest bank descriptor, upsampled (bilinear) to the
//   image and smoothed with a Gaussian of sigma = 4 px at 256 x 256 (scaled with the side), the
//   field's usual choice. Image score: the maximum of the map.
#include <algorithm>
#include <cmath>

#include <torch/torch.h>

#include "oneclass/detectors/registry.h"
#include "detectors/pixel_features.h"
#include "oneclass/error.h"
#include "oneclass/util/random_streams.h"

namespace oneclass {
namespace {

namespace F = torch::nn::functional;

constexpr int64_t kProjection = 32;     // dimensions the coreset selection measures distances in
// Distances per matrix product: about 4 MB of them. A larger product is several times slower here:
// its output no longer stays in cache (and fresh pages cost a fault each).
constexpr int64_t kDistancesPerChunk = int64_t{1} << 20;

class PatchNearestNeighbours final : public Detector {
 public:
  explicit PatchNearestNeighbours(const nlohmann::json& given)
      : Detector("patch-knn", merge_options("patch-knn", defaults(), given)) {
    const double coreset = options()["coreset"].get<double>();
    if (stride() < 1 || levels() < 1 || levels() > 4 || !(coreset > 0 && coreset <= 1) ||
        options()["max_bank"].get<int64_t>() < 1 || options()["sigma"].get<double>() < 0) {
      throw Error("patch-knn: need stride >= 1, 1 <= levels <= 4, 0 < coreset <= 1, max_bank >= 1 and sigma >= 0 (got " +
                  options().dump() + ")");
    }
  }

  static nlohmann::json defaults() {
    return {{"stride", 4}, {"levels", 2}, {"coreset", 0.1}, {"max_bank", 10000}, {"sigma", 4.0}};
  }

  TrainPlan plan() const override { return {/*epochs=*/0, /*batch_size=*/0}; }

 protected:
  void prepare(const at::Tensor& normal_images, const FitContext& context) override {
    torch::NoGradGuard no_grad;
    const auto descriptors = describe(normal_images.to(device()));  // [N * G * G, D]
    const auto share = std::llround(options()["coreset"].get<double>() * static_cast<double>(descriptors.size(0)));
    const auto count = std::clamp<int64_t>(share, 1, options()["max_bank"].get<int64_t>());
    set_bank(descriptors.index_select(0, greedy_coreset(descriptors, count, context.seed)));
  }

  at::Tensor score_batch(const at::Tensor& images) override {
    return maps(images).flatten(1).amax(1).to(torch::kDouble);
  }

  std::optional<at::Tensor> anomaly_map_batch(const at::Tensor& images) override { return maps(images); }

  void save_state(torch::serialize::OutputArchive& archive) const override { archive.write("bank", bank_); }

  void load_state(torch::serialize::InputArchive& archive) override {
    at::Tensor bank;
    archive.read("bank", bank);
    const int64_t dims = levels() * 9 * input_shape()[0];
    if (bank.dim() != 2 || bank.size(0) < 1 || bank.size(1) != dims) {
      throw Error("patch-knn: stored memory bank has shape " + c10::str(bank.sizes()) + "; descriptors of input " +
                  c10::str(c10::IntArrayRef(input_shape())) + " with these options have " + std::to_string(dims) +
                  " values");
    }
    set_bank(bank.to(device(), torch::kFloat).contiguous());
  }

 private:
  int64_t stride() const { return options()["stride"].get<int64_t>(); }
  int64_t levels() const { return options()["levels"].get<int64_t>(); }
  int64_t grid_side() const { return std::max<int64_t>(1, input_shape()[1] / stride()); }

  // [B, C, H, W] -> [B, D, G, G]
  at::Tensor descriptor_maps(const at::Tensor& images) const {
    const int64_t g = grid_side();
    std::vector<at::Tensor> parts;
    for (int64_t level = 0; level < levels(); ++level) {
      const int64_t side = std::max<int64_t>(1, g >> level);
      auto cells = F::adaptive_avg_pool2d(images.to(torch::kFloat), F::AdaptiveAvgPool2dFuncOptions({side, side}));
      auto padded = F::pad(cells, F::PadFuncOptions({1, 1, 1, 1}).mode(torch::kReplicate));
      auto neighbourhoods = F::unfold(padded, F::UnfoldFuncOptions({3, 3})).view({images.size(0), -1, side, side});
      if (side != g) {
        neighbourhoods = F::interpolate(neighbourhoods, F::InterpolateFuncOptions()
                                                            .size(std::vector<int64_t>{g, g})
                                                            .mode(torch::kBilinear)
                                                            .align_corners(false));
      }
      parts.push_back(neighbourhoods);
    }
    return torch::cat(parts, 1);
  }

  // [B, C, H, W] -> [B * G * G, D]
  at::Tensor describe(const at::Tensor& images) const {
    const auto maps = descriptor_maps(images);
    return maps.permute({0, 2, 3, 1}).reshape({-1, maps.size(1)}).contiguous();
  }

  // Greedy k-centre selection: `count` rows of `descriptors`, the first at random (seeded).
  at::Tensor greedy_coreset(const at::Tensor& descriptors, int64_t count, uint64_t seed) const {
    const int64_t n = descriptors.size(0);
    if (count >= n) return torch::arange(n, torch::TensorOptions().dtype(torch::kLong).device(device()));
    auto generator = random_stream(seed, RandomStream::detector);
    at::Tensor points = descriptors;
    if (descriptors.size(1) > kProjection) {
      const auto projection = torch::randn({descriptors.size(1), kProjection}, generator).to(device());
      points = descriptors.mm(projection / std::sqrt(static_cast<double>(kProjection)));
    }
    points = points.contiguous();
    const auto norms = points.square().sum(1);
    std::vector<int64_t> chosen{torch::randint(n, {1}, generator).item<int64_t>()};
    chosen.reserve(static_cast<size_t>(count));
    auto nearest = torch::full({n}, std::numeric_limits<float>::infinity(), points.options());
    for (int64_t i = 1; i < count; ++i) {
      const auto last = points[chosen.back()];
      // |p - c|^2 = |p|^2 + |c|^2 - 2 p.c: one matrix-vector product per step.
      const auto distances = torch::addmv(norms + last.dot(last), points, last, 1.0, -2.0);
      nearest = torch::minimum(nearest, distances);
      chosen.push_back(nearest.argmax().item<int64_t>());
    }
    return torch::tensor(chosen, torch::kLong).to(device());
  }

  // [B, C, H, W] -> [B, H, W]: nearest-bank distances, upsampled and smoothed.
  at::Tensor maps(const at::Tensor& images) const {
    const int64_t g = grid_side();
    const auto queries = describe(images.to(device()));
    std::vector<at::Tensor> distances;
    const int64_t rows = std::clamp<int64_t>(kDistancesPerChunk / bank_.size(0), 16, 4096);
    for (int64_t first = 0; first < queries.size(0); first += rows) {
      const auto chunk = queries.narrow(0, first, std::min(rows, queries.size(0) - first));
      distances.push_back(nearest_distances(chunk));
    }
    auto grid = torch::cat(distances).view({images.size(0), 1, g, g});
    auto full = F::interpolate(grid, F::InterpolateFuncOptions()
                                         .size(std::vector<int64_t>{input_shape()[1], input_shape()[2]})
                                         .mode(torch::kBilinear)
                                         .align_corners(false));
    return smooth(full).squeeze(1);
  }

  // Distance of each descriptor [Q, D] to its nearest bank descriptor [Q]. The product form of the
  // squared distance loses digits to cancellation in float32 (and would make a score depend on its
  // batch), so the nearest candidate's distance is measured again directly.
  at::Tensor nearest_distances(const at::Tensor& queries) const {
    const auto nearest = std::get<1>(squared_distances(queries, bank_, bank_norms_).min(1));
    return (bank_.index_select(0, nearest) - queries).square().sum(1).sqrt();
  }

  // Gaussian smoothing, separable, truncated at 4 sigma, edges replicated.
  at::Tensor smooth(const at::Tensor& maps) const {
    const double sigma = options()["sigma"].get<double>() * static_cast<double>(input_shape()[1]) / 256.0;
    if (sigma < 0.3) return maps;
    const auto radius = static_cast<int64_t>(std::ceil(4 * sigma));
    auto x = torch::arange(-radius, radius + 1, maps.options());
    auto kernel = torch::exp(-x.square() / (2 * sigma * sigma));
    kernel = kernel / kernel.sum();
    auto padded = F::pad(maps, F::PadFuncOptions({radius, radius, radius, radius}).mode(torch::kReplicate));
    auto rows = F::conv2d(padded, kernel.view({1, 1, 1, -1}));
    return F::conv2d(rows, kernel.view({1, 1, -1, 1}));
  }

  void set_bank(at::Tensor bank) {
    bank_ = std::move(bank);                           // [M, D]
    bank_norms_ = bank_.square().sum(1).unsqueeze(0);  // [1, M]
  }

  at::Tensor bank_, bank_norms_;
};

}  // namespace

DetectorEntry patch_knn_entry() {
  return {"patch-knn",
          "nearest-neighbour distances of multi-scale pixel-patch descriptors to a coreset memory bank "
          "(PatchCore without pretrained features); map = per-location distance, score = its maximum",
          [](const nlohmann::json& options) -> std::unique_ptr<Detector> {
            return std::make_unique<PatchNearestNeighbours>(options);
          },
          /*tiny_options=*/{{"stride", 2}, {"coreset", 0.5}}};
}

}  // namespace oneclass
