// geom: geometric-transformation prediction (Golan & El-Yaniv 2018). A classifier learns which of
// T transformations was applied to a normal image; on an anomaly it recognises them less surely.
//   transforms=rotflip: horizontal flip x 4 quarter turns (T = 8)
//   transforms=all:     flip x translations by a quarter of the side in x and y (-, 0, +) x 4
//                       quarter turns (T = 72, the paper's set)
// Each training step gives every image one transformation drawn at random (an epoch costs one
// pass over the images, not T). score = -1/T sum_t log p(t | T_t(x)): the paper's simplified
// normality score, negated so that higher is more anomalous. No pixel map.
#include "detectors/neural.h"
#include "oneclass/detectors/registry.h"
#include "oneclass/error.h"

namespace oneclass {
namespace {

namespace F = torch::nn::functional;

struct Transformation {
  bool flip = false;
  int64_t shift_x = 0, shift_y = 0;  // in quarters of the side: -1, 0, 1
  int64_t quarter_turns = 0;
};

std::vector<Transformation> transformation_set(const std::string& kind) {
  std::vector<Transformation> set;
  const std::vector<int64_t> shifts = kind == "all" ? std::vector<int64_t>{0, -1, 1} : std::vector<int64_t>{0};
  for (bool flip : {false, true}) {
    for (int64_t x : shifts) {
      for (int64_t y : shifts) {
        for (int64_t turns = 0; turns < 4; ++turns) set.push_back({flip, x, y, turns});
      }
    }
  }
  return set;
}

// Moves the image content by `dx`, `dy` pixels, filling with zeros (the background of the data sets).
at::Tensor translate(const at::Tensor& x, int64_t dx, int64_t dy) {
  if (dx == 0 && dy == 0) return x;
  const int64_t h = x.size(2), w = x.size(3);
  auto padded = F::pad(x, F::PadFuncOptions({std::abs(dx), std::abs(dx), std::abs(dy), std::abs(dy)}));
  return padded.narrow(2, std::abs(dy) - dy, h).narrow(3, std::abs(dx) - dx, w);
}

at::Tensor apply(const Transformation& t, const at::Tensor& x) {
  auto y = t.flip ? x.flip(3) : x;
  y = translate(y, t.shift_x * x.size(3) / 4, t.shift_y * x.size(2) / 4);
  return rotate_quarter_turns(y, t.quarter_turns);
}

// A small all-convolutional classifier: 3x3 stages (width, 2 width, then 4 width channels) with
// batch norm and ReLU, a 2x2 max pool between stages, global average pooling, one linear layer to
// the T transformation logits. Two pools suit 28x28 and 32x32 images; a larger image gets one
// more pool (and stage) while the map left is even and larger than 8x8, so 256x256 is pooled 5
// times and the averaged features see patches of about 160 px, not of a digit's size.
int64_t pool_count(int64_t side) {
  int64_t pools = 2;
  for (side /= 4; side % 2 == 0 && side > 8; side /= 2) ++pools;
  return pools;
}

class TransformClassifierImpl : public torch::nn::Module {
 public:
  TransformClassifierImpl(int64_t channels, int64_t side, int64_t width, int64_t classes) {
    const int64_t pools = pool_count(side);
    int64_t in = channels;
    for (int64_t stage = 0; stage <= pools; ++stage) {
      const int64_t out = width << std::min<int64_t>(stage, 2);
      layers_->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).padding(1).bias(false)));
      layers_->push_back(torch::nn::BatchNorm2d(out));
      layers_->push_back(torch::nn::ReLU());
      if (stage < pools) layers_->push_back(torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(2)));
      in = out;
    }
    register_module("layers", layers_);
    head_ = register_module("head", torch::nn::Linear(in, classes));
  }
  at::Tensor forward(const at::Tensor& x) { return head_(layers_->forward(x).mean({2, 3})); }

 private:
  torch::nn::Sequential layers_;
  torch::nn::Linear head_{nullptr};
};
TORCH_MODULE(TransformClassifier);

class GeometricTransformations final : public NeuralDetector {
 public:
  explicit GeometricTransformations(const nlohmann::json& given)
      : NeuralDetector("geom", merge_options("geom", defaults(), given)) {
    const auto kind = settings()["transforms"].get<std::string>();
    if ((kind != "rotflip" && kind != "all") || settings()["width"].get<int64_t>() < 1) {
      throw Error("geom: need transforms rotflip or all, and width >= 1 (got " + settings().dump() + ")");
    }
    transformations_ = transformation_set(kind);
  }

  // Fixed in advance, sized for a laptop: 8 transformations and a narrow network (the paper: 72
  // and a wide residual network).
  static nlohmann::json defaults() {
    return {{"transforms", "rotflip"}, {"width", 16}, {"epochs", 10}, {"batch_size", 128}, {"lr", 1e-3},
            {"weight_decay", 5e-7}};
  }

 protected:
  std::shared_ptr<torch::nn::Module> build(const std::vector<int64_t>& input_shape) override {
    if (input_shape.size() != 3 || input_shape[1] != input_shape[2] || input_shape[1] < 4) {
      throw Error("geom: needs square images of at least 4x4 for its quarter turns (got " + c10::str(c10::IntArrayRef(input_shape)) +
                  "); resize them");
    }
    network_ = TransformClassifier(input_shape[0], input_shape[1], settings()["width"].get<int64_t>(),
                                   static_cast<int64_t>(transformations_.size()));
    return network_.ptr();
  }

  // Cross-entropy of the transformation each image was given.
  at::Tensor loss(const at::Tensor& batch) override {
    const auto labels = torch::randint(static_cast<int64_t>(transformations_.size()), {batch.size(0)}, generator(),
                                       torch::kLong).to(batch.device());
    auto transformed = torch::empty_like(batch);
    for (size_t t = 0; t < transformations_.size(); ++t) {
      const auto rows = labels.eq(static_cast<int64_t>(t)).nonzero().squeeze(1);
      if (rows.numel() > 0) transformed.index_copy_(0, rows, apply(transformations_[t], batch.index_select(0, rows)));
    }
    return F::cross_entropy(network_(transformed), labels);
  }

  // Not built of the LeNet layers: its 3x3 convolutions of 16-64 channels ran slower on the own
  // convolution kernel, with LibTorch's batch norms and pools around them in the plain layout,
  // than all on LibTorch's in channels-last layout (bench_detectors at 2a92d61: 3,655 against
  // 6,200 training images/s at 28x28).
  bool runs_own_kernels() const override { return false; }

  at::Tensor score_chunk(const at::Tensor& images) override {
    auto total = torch::zeros({images.size(0)}, images.options().dtype(torch::kDouble));
    for (size_t t = 0; t < transformations_.size(); ++t) {
      const auto log_p = torch::log_softmax(network_(apply(transformations_[t], images)), 1);
      total -= log_p.select(1, static_cast<int64_t>(t)).to(torch::kDouble);
    }
    return total / static_cast<double>(transformations_.size());
  }

 private:
  std::vector<Transformation> transformations_;
  TransformClassifier network_{nullptr};
};

}  // namespace

DetectorEntry geom_entry() {
  return {"geom",
          "geometric-transformation prediction (Golan & El-Yaniv 2018); score = how unsure the classifier is "
          "of the transformations",
          [](const nlohmann::json& options) -> std::unique_ptr<Detector> {
            return std::make_unique<GeometricTransformations>(options);
          },
          /*tiny_options=*/{{"epochs", 10}, {"batch_size", 16}, {"width", 4}}};
}

}  // namespace oneclass
