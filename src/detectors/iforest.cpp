// iforest: Isolation Forest (Liu, Ting and Zhou 2008) on raw pixels or on `pca` principal
// components. Each of `trees` trees is grown on `samples` (psi) normal images drawn without
// replacement: a node splits its images on a random feature at a threshold drawn uniformly between
// that feature's minimum and maximum in the node, until one image is left or the depth reaches
// ceil(log2 psi). Anomalies are isolated in few splits. An image's path length in a tree is the
// depth of the external node it reaches plus c(n), the average path length of an unbuilt subtree
// over the n training images that stopped there; the score is 2^(-E[h(x)] / c(psi)), in (0, 1],
// higher = more anomalous. All settings are the paper's.
//
// One deviation from the paper's "pick an attribute at random": the split feature is drawn
// uniformly among the features that are not constant over the node's images (as scikit-learn's
// tree splitter does). Over the training images of one MNIST class more than a quarter of the
// pixels are 0 in every image (28 % for class 0, 26 % for 1, 29 % for 8), and deeper nodes leave
// even more constant; a split on one of them separates nothing and only adds depth. A node whose
// features are all constant becomes an external node.
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "detectors/pixel_features.h"
#include "oneclass/detectors/registry.h"
#include "oneclass/error.h"

namespace oneclass {
namespace {

// Average path length of an unsuccessful search in a binary search tree of n keys: the expected
// depth still to go below an external node that n training images reached.
double average_path_length(int64_t n) {
  if (n <= 1) return 0.0;
  if (n == 2) return 1.0;
  constexpr double kEulerGamma = 0.5772156649015329;
  const double m = static_cast<double>(n);
  return 2.0 * (std::log(m - 1.0) + kEulerGamma) - 2.0 * (m - 1.0) / m;
}

// Draws from the raw 64-bit stream (not std::uniform_*_distribution, whose algorithms differ
// between standard libraries) so that a seed gives the same forest everywhere.
struct Random {
  std::mt19937_64 engine;
  int64_t below(int64_t n) { return static_cast<int64_t>(engine() % static_cast<uint64_t>(n)); }
  double unit() { return static_cast<double>(engine() >> 11) * 0x1.0p-53; }  // [0, 1)
};

// Every tree's nodes in one set of arrays, each tree in preorder (children after their parent).
struct Forest {
  std::vector<int64_t> feature;   // split feature; -1 at an external node
  std::vector<double> threshold;  // an image goes left when its feature value < threshold
  std::vector<int64_t> left, right;
  std::vector<int64_t> size;      // training images that reached an external node
  std::vector<int64_t> roots;     // first node of each tree

  int64_t add_node() {
    feature.push_back(-1);
    threshold.push_back(0.0);
    left.push_back(-1);
    right.push_back(-1);
    size.push_back(0);
    return static_cast<int64_t>(feature.size()) - 1;
  }
};

// Grows one tree over rows of x [N, D] (float64, contiguous).
class TreeGrower {
 public:
  TreeGrower(const at::Tensor& x, int height_limit, Random& random, Forest& forest)
      : x_(x.data_ptr<double>()), d_(x.size(1)), height_limit_(height_limit), random_(random), forest_(forest) {}

  // Grows the subtree over rows [first, last) of `rows`, reordering them; returns its root.
  int64_t grow(int64_t* first, int64_t* last, int depth) {
    const int64_t node = forest_.add_node();
    forest_.size[node] = last - first;
    if (depth >= height_limit_ || last - first <= 1) return node;
    const auto features = varying_features(first, last);
    if (features.empty()) return node;
    const Range split = features[random_.below(static_cast<int64_t>(features.size()))];
    const double threshold = split.low + (split.high - split.low) * random_.unit();
    int64_t* middle = std::partition(first, last, [&](int64_t row) { return value(row, split.feature) < threshold; });
    forest_.feature[node] = split.feature;
    forest_.threshold[node] = threshold;
    const int64_t left = grow(first, middle, depth + 1);
    const int64_t right = grow(middle, last, depth + 1);
    forest_.left[node] = left;
    forest_.right[node] = right;
    return node;
  }

 private:
  struct Range {
    int64_t feature;
    double low, high;
  };

  double value(int64_t row, int64_t feature) const { return x_[row * d_ + feature]; }

  // Features whose value is not the same for all rows in [first, last), with their range.
  std::vector<Range> varying_features(const int64_t* first, const int64_t* last) const {
    std::vector<double> low(x_ + *first * d_, x_ + (*first + 1) * d_), high = low;
    for (const int64_t* row = first + 1; row != last; ++row) {
      const double* values = x_ + *row * d_;
      for (int64_t j = 0; j < d_; ++j) {
        low[j] = std::min(low[j], values[j]);
        high[j] = std::max(high[j], values[j]);
      }
    }
    std::vector<Range> ranges;
    for (int64_t j = 0; j < d_; ++j) {
      if (low[j] < high[j]) ranges.push_back({j, low[j], high[j]});
    }
    return ranges;
  }

  const double* x_;
  int64_t d_;
  int height_limit_;
  Random& random_;
  Forest& forest_;
};

class IsolationForest final : public Detector {
 public:
  explicit IsolationForest(const nlohmann::json& given) : Detector("iforest", merge_options("iforest", defaults(), given)) {
    if (options()["trees"].get<int64_t>() < 1 || options()["samples"].get<int64_t>() < 2 ||
        options()["pca"].get<int64_t>() < 0) {
      throw Error("iforest: need trees >= 1, samples >= 2 and pca >= 0 (got trees=" + options()["trees"].dump() +
                  ", samples=" + options()["samples"].dump() + ", pca=" + options()["pca"].dump() + ")");
    }
  }

  static nlohmann::json defaults() { return {{"trees", 100}, {"samples", 256}, {"pca", 0}}; }

  TrainPlan plan() const override { return {/*epochs=*/0, /*batch_size=*/0}; }

 protected:
  void prepare(const at::Tensor& normal_images, const FitContext& context) override {
    const int64_t n = normal_images.size(0);
    if (n < 2) throw Error("iforest: needs at least 2 training images, got " + std::to_string(n));
    features_.fit(normal_images, device());
    const auto x = features_.transform(normal_images).cpu().contiguous();
    // Fewer images than `samples`: every tree sees all of them (the paper's psi is at most N).
    psi_ = std::min(options()["samples"].get<int64_t>(), n);
    const int height_limit = static_cast<int>(std::ceil(std::log2(static_cast<double>(psi_))));
    Random random{std::mt19937_64(context.seed)};
    forest_ = Forest();
    std::vector<int64_t> rows(n);
    std::iota(rows.begin(), rows.end(), 0);
    TreeGrower grower(x, height_limit, random, forest_);
    for (int64_t tree = 0; tree < options()["trees"].get<int64_t>(); ++tree) {
      for (int64_t i = 0; i < psi_; ++i) std::swap(rows[i], rows[i + random.below(n - i)]);  // partial shuffle
      std::vector<int64_t> sample(rows.begin(), rows.begin() + psi_);
      forest_.roots.push_back(grower.grow(sample.data(), sample.data() + psi_, 0));
    }
  }

  at::Tensor score_batch(const at::Tensor& images) override {
    const auto x = features_.transform(images).cpu().contiguous();
    const double* values = x.data_ptr<double>();
    const int64_t d = x.size(1);
    auto scores = torch::empty({x.size(0)}, torch::kDouble);
    auto* out = scores.data_ptr<double>();
    const double normaliser = average_path_length(psi_) * static_cast<double>(forest_.roots.size());
    for (int64_t i = 0; i < x.size(0); ++i) {
      double total = 0.0;
      for (const int64_t root : forest_.roots) total += path_length(values + i * d, root);
      out[i] = std::exp2(-total / normaliser);
    }
    return scores.to(device());
  }

  void save_state(torch::serialize::OutputArchive& archive) const override {
    features_.save(archive);
    const auto nodes = static_cast<int64_t>(forest_.feature.size());
    auto links = torch::empty({4, nodes}, torch::kLong);  // feature, left, right, size
    const std::vector<const std::vector<int64_t>*> columns{&forest_.feature, &forest_.left, &forest_.right,
                                                           &forest_.size};
    for (int64_t c = 0; c < 4; ++c) {
      std::copy(columns[c]->begin(), columns[c]->end(), links[c].data_ptr<int64_t>());
    }
    archive.write("nodes", links);
    archive.write("thresholds", torch::tensor(forest_.threshold, torch::kDouble));
    archive.write("roots", torch::tensor(forest_.roots, torch::kLong));
    archive.write("psi", torch::tensor({psi_}, torch::kLong));
  }

  void load_state(torch::serialize::InputArchive& archive) override {
    features_.load(archive, device(), input_size());
    at::Tensor links, thresholds, roots, psi;
    archive.read("nodes", links);
    archive.read("thresholds", thresholds);
    archive.read("roots", roots);
    archive.read("psi", psi);
    links = links.to(torch::kCPU, torch::kLong).contiguous();
    roots = roots.to(torch::kCPU, torch::kLong).contiguous();
    const int64_t nodes = links.dim() == 2 ? links.size(1) : -1;
    if (links.dim() != 2 || links.size(0) != 4 || thresholds.dim() != 1 || thresholds.size(0) != nodes ||
        roots.dim() != 1 || roots.size(0) != options()["trees"].get<int64_t>() || psi.numel() != 1 ||
        psi.item<int64_t>() < 2) {
      throw Error("iforest: stored forest (nodes " + c10::str(links.sizes()) + ", thresholds " +
                  c10::str(thresholds.sizes()) + ", roots " + c10::str(roots.sizes()) + ") does not fit trees=" +
                  options()["trees"].dump() + "; refit the detector");
    }
    Forest forest;
    auto column = [&](int64_t c) {
      const int64_t* begin = links[c].data_ptr<int64_t>();
      return std::vector<int64_t>(begin, begin + nodes);
    };
    forest.feature = column(0), forest.left = column(1), forest.right = column(2), forest.size = column(3);
    const auto t = thresholds.to(torch::kCPU, torch::kDouble).contiguous();
    forest.threshold.assign(t.data_ptr<double>(), t.data_ptr<double>() + nodes);
    forest.roots.assign(roots.data_ptr<int64_t>(), roots.data_ptr<int64_t>() + roots.numel());
    check_links(forest);
    forest_ = std::move(forest);
    psi_ = psi.item<int64_t>();
  }

 private:
  double path_length(const double* image, int64_t node) const {
    double depth = 0.0;
    while (forest_.feature[node] >= 0) {
      node = image[forest_.feature[node]] < forest_.threshold[node] ? forest_.left[node] : forest_.right[node];
      depth += 1.0;
    }
    return depth + average_path_length(forest_.size[node]);
  }

  // A damaged file must not send path_length out of bounds or round in circles: every split
  // feature exists and every child lies after its parent.
  void check_links(const Forest& forest) const {
    const auto nodes = static_cast<int64_t>(forest.feature.size());
    auto bad = [&](const std::string& what) {
      throw Error("iforest: stored forest is damaged (" + what + "); refit the detector");
    };
    for (const int64_t root : forest.roots) {
      if (root < 0 || root >= nodes) bad("root " + std::to_string(root) + " of " + std::to_string(nodes) + " nodes");
    }
    for (int64_t i = 0; i < nodes; ++i) {
      if (forest.feature[i] < 0) continue;
      if (forest.feature[i] >= features_.dim() || forest.left[i] <= i || forest.left[i] >= nodes ||
          forest.right[i] <= i || forest.right[i] >= nodes) {
        bad("node " + std::to_string(i));
      }
    }
  }

  PixelFeatures features_{"iforest", options()["pca"].get<int64_t>()};
  Forest forest_;
  int64_t psi_ = 0;
};

}  // namespace

DetectorEntry iforest_entry() {
  return {"iforest",
          "isolation forest; score = 2^(-mean path length / c(samples)), short paths are anomalous",
          [](const nlohmann::json& options) -> std::unique_ptr<Detector> {
            return std::make_unique<IsolationForest>(options);
          },
          /*tiny_options=*/{{"trees", 50}, {"samples", 64}}};
}

}  // namespace oneclass
