// knn: the raw-pixel nearest-neighbour baseline. The score of an image is its Euclidean distance
// (on the [0, 1] pixel scale) to its k-th nearest normal training image. No training: the normal
// images are the model. Candidate neighbours come from one matrix product per chunk of test images,
// |x - y|^2 = |x|^2 + |y|^2 - 2 x.y, not from a loop over pairs; that form loses digits to
// cancellation in float32, so the distances of the few best candidates are then computed directly.
#include <algorithm>
#include <vector>

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include "oneclass/detectors/registry.h"
#include "detectors/pixel_features.h"
#include "oneclass/error.h"

namespace oneclass {
namespace {

// Test images per distance matrix: 1024 x 6,000 normals is 24 MB of float distances.
constexpr int64_t kQueryChunk = 1024;
// Candidates re-measured beyond the k-th. Rounding in the fast form moves a squared distance by
// about 1e-6 of the squared norms; for a true k-th neighbour to fall behind 8 others, 8 images
// would have to lie within that margin of it.
constexpr int64_t kExtraCandidates = 8;

class NearestNeighbours final : public Detector {
 public:
  explicit NearestNeighbours(const nlohmann::json& given) : Detector("knn", merge_options("knn", defaults(), given)) {
    if (k() < 1) throw Error("knn: k=" + options()["k"].dump() + " must be at least 1");
  }

  static nlohmann::json defaults() { return {{"k", 1}}; }

  TrainPlan plan() const override { return {/*epochs=*/0, /*batch_size=*/0}; }

 protected:
  void prepare(const at::Tensor& normal_images, const FitContext& context) override {
    if (normal_images.size(0) < k()) {
      throw Error("knn: k=" + std::to_string(k()) + " needs at least " + std::to_string(k()) + " training images, got " +
                  std::to_string(normal_images.size(0)));
    }
    set_bank(normal_images.flatten(1).to(device(), torch::kFloat).contiguous());
  }

  at::Tensor score_batch(const at::Tensor& images) override {
    // OpenBLAS runs single-threaded under the launcher (docs/performance.md), so on the CPU the
    // chunks are spread over LibTorch's threads, each chunk's product on one core. A score depends
    // on its own image alone (the last step measures its candidates exactly), not on the chunking.
    const int64_t n = images.size(0);
    const int64_t threads = device().is_cpu() ? at::get_num_threads() : 1;
    const int64_t chunk = std::max<int64_t>(1, std::min(kQueryChunk, (n + threads - 1) / threads));
    const int64_t chunks = (n + chunk - 1) / chunk;
    std::vector<at::Tensor> scores(static_cast<size_t>(chunks));
    auto score_chunks = [&](int64_t first, int64_t last) {
      for (int64_t c = first; c < last; ++c) {
        scores[static_cast<size_t>(c)] = score_chunk(images.narrow(0, c * chunk, std::min(chunk, n - c * chunk)));
      }
    };
    if (threads > 1) {
      at::parallel_for(0, chunks, /*grain_size=*/1, score_chunks);
    } else {
      score_chunks(0, chunks);
    }
    return torch::cat(scores);
  }

  void save_state(torch::serialize::OutputArchive& archive) const override { archive.write("bank", bank_); }

  void load_state(torch::serialize::InputArchive& archive) override {
    at::Tensor bank;
    archive.read("bank", bank);
    if (bank.dim() != 2 || bank.size(1) != input_size() || bank.size(0) < k()) {
      throw Error("knn: stored memory bank has shape " + c10::str(bank.sizes()) + ", which does not fit input shape " +
                  c10::str(c10::IntArrayRef(input_shape())) + " and k=" + options()["k"].dump());
    }
    set_bank(bank.to(device(), torch::kFloat).contiguous());
  }

 private:
  int64_t k() const { return options()["k"].get<int64_t>(); }

  // float64 [Q]: the distance of each image of `chunk` to its k-th nearest normal image.
  at::Tensor score_chunk(const at::Tensor& chunk) const {
    const int64_t k = this->k();
    auto x = chunk.flatten(1).to(device(), torch::kFloat);
    // [Q, N] approximate squared distances, then the exact ones of the best candidates [Q, C].
    auto approximate = squared_distances(x, bank_, bank_norms_);
    const int64_t candidates = std::min(k + kExtraCandidates, bank_.size(0));
    auto nearest = std::get<1>(approximate.topk(candidates, /*dim=*/1, /*largest=*/false, /*sorted=*/false));
    auto exact = (bank_.index_select(0, nearest.flatten()).view({x.size(0), candidates, -1}) - x.unsqueeze(1))
                     .square()
                     .sum(2);
    auto kth = std::get<0>(exact.topk(k, /*dim=*/1, /*largest=*/false, /*sorted=*/true)).select(1, k - 1);
    return kth.to(torch::kDouble).sqrt();
  }

  void set_bank(at::Tensor bank) {
    bank_ = std::move(bank);                  // [N, D]
    bank_norms_ = bank_.square().sum(1).unsqueeze(0);  // [1, N]
  }

  at::Tensor bank_, bank_norms_;
};

}  // namespace

DetectorEntry knn_entry() {
  return {"knn",
          "k-nearest-neighbour baseline on raw pixels; score = distance to the k-th nearest normal image",
          [](const nlohmann::json& options) -> std::unique_ptr<Detector> {
            return std::make_unique<NearestNeighbours>(options);
          },
          /*tiny_options=*/{{"k", 2}}};
}

}  // namespace oneclass
