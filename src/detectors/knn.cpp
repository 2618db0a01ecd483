// knn: the raw-pixel nearest-neighbour baseline. The score of an image is its Euclidean distance
// (on the [0, 1] pixel scale) to its k-th nearest normal training image. No training: the normal
// images are the model. Candidate neighbours come from one matrix product per chunk of test images,
// |x - y|^2 = |x|^2 + |y|^2 - 2 x.y, not from a loop over pairs; that form loses digits to
// cancellation in float32, so the distances of the few best candidates are then computed directly.
#include <torch/torch.h>

#include "detectors/stored_shape.h"
#include "oneclass/detectors/registry.h"
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
  explicit NearestNeighbours(const nlohmann::json& given) : options_(merge_options("knn", defaults(), given)) {
    if (options_["k"].get<int64_t>() < 1) throw Error("knn: k=" + options_["k"].dump() + " must be at least 1");
  }

  static nlohmann::json defaults() { return {{"k", 1}}; }

  std::string name() const override { return "knn"; }
  nlohmann::json options() const override { return options_; }
  TrainPlan plan() const override { return {/*epochs=*/0, /*batch_size=*/0}; }
  c10::Device device() const override { return device_; }
  std::vector<int64_t> input_shape() const override { return input_shape_; }

  void begin_fit(const at::Tensor& normal_images, const FitContext& context) override {
    device_ = context.device;
    const int64_t k = options_["k"].get<int64_t>();
    if (normal_images.size(0) < k) {
      throw Error("knn: k=" + std::to_string(k) + " needs at least " + std::to_string(k) + " training images, got " +
                  std::to_string(normal_images.size(0)));
    }
    input_shape_ = normal_images.sizes().slice(1).vec();
    set_bank(normal_images.flatten(1).to(device_, torch::kFloat).contiguous());
  }

  at::Tensor score(const at::Tensor& images) override {
    require_fitted_shape("knn", images, input_shape_);
    const int64_t k = options_["k"].get<int64_t>();
    std::vector<at::Tensor> scores;
    for (int64_t start = 0; start < images.size(0); start += kQueryChunk) {
      auto x = images.narrow(0, start, std::min(kQueryChunk, images.size(0) - start)).flatten(1).to(device_,
                                                                                                     torch::kFloat);
      // [Q, N] approximate squared distances, then the exact ones of the best candidates [Q, C].
      auto approximate = torch::addmm(x.square().sum(1, /*keepdim=*/true) + bank_norms_, x, bank_.t(), 1.0, -2.0);
      const int64_t candidates = std::min(k + kExtraCandidates, bank_.size(0));
      auto nearest = std::get<1>(approximate.topk(candidates, /*dim=*/1, /*largest=*/false, /*sorted=*/false));
      auto exact = (bank_.index_select(0, nearest.flatten()).view({x.size(0), candidates, -1}) - x.unsqueeze(1))
                       .square()
                       .sum(2);
      auto kth = std::get<0>(exact.topk(k, /*dim=*/1, /*largest=*/false, /*sorted=*/true)).select(1, k - 1);
      scores.push_back(kth.to(torch::kDouble).sqrt());
    }
    return scores.empty() ? torch::zeros({0}, torch::kDouble) : torch::cat(scores);
  }

  void save_state(torch::serialize::OutputArchive& archive) const override {
    write_input_shape(archive, input_shape_);
    archive.write("bank", bank_);
  }

  void load_state(torch::serialize::InputArchive& archive, const c10::Device& device) override {
    device_ = device;
    at::Tensor bank;
    input_shape_ = read_input_shape(archive, "knn");
    archive.read("bank", bank);
    const int64_t d = input_shape_.size() == 3 ? input_shape_[0] * input_shape_[1] * input_shape_[2] : -1;
    if (bank.dim() != 2 || bank.size(1) != d || bank.size(0) < options_["k"].get<int64_t>()) {
      throw Error("knn: stored memory bank has shape " + c10::str(bank.sizes()) + ", which does not fit input shape " +
                  c10::str(input_shape_) + " and k=" + options_["k"].dump());
    }
    set_bank(bank.to(device_, torch::kFloat).contiguous());
  }

 private:
  void set_bank(at::Tensor bank) {
    bank_ = std::move(bank);                  // [N, D]
    bank_norms_ = bank_.square().sum(1).unsqueeze(0);  // [1, N]
  }

  nlohmann::json options_;
  c10::Device device_ = c10::Device(c10::kCPU);
  std::vector<int64_t> input_shape_;
  at::Tensor bank_, bank_norms_;
};

}  // namespace

std::unique_ptr<Detector> make_nearest_neighbours(const nlohmann::json& options) {
  return std::make_unique<NearestNeighbours>(options);
}

}  // namespace oneclass
