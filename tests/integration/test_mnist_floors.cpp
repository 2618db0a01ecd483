// Quality floors on the genuine MNIST files, one per detector, under the benchmark's protocol (train
// on one class, test on the other classes as anomalies). The floors sit below what the detectors
// measured (docs/results.md, or the cheap settings below) so that only a real regression fails them.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "oneclass/config.h"
#include "oneclass/data/idx.h"
#include "oneclass/data/split.h"
#include "oneclass/detectors/registry.h"
#include "oneclass/eval/metrics.h"
#include "oneclass/train/loop.h"
#include "support/test_support.h"

namespace {

const oneclass::data::Dataset& mnist() {
  static const oneclass::data::Dataset dataset =
      oneclass::data::load_dataset({"mnist", oneclass::testing_support::data_dir(), /*allow_download=*/false, ""});
  return dataset;
}

// AUROC of `model` trained on class `normal` (by default 90 % of its training images, seed 0; the
// rest is held out as in the benchmark), tested on the first `test_images` test images (0 = all).
double one_class_auroc(const std::string& model, const nlohmann::json& options, int normal,
                       double val_fraction = 0.1, int64_t test_images = 0) {
  auto detector = oneclass::make_detector(model, options);
  oneclass::data::SplitOptions split_options;
  split_options.normal = {normal};
  split_options.val_fraction = val_fraction;
  split_options.labeled_anomalies = detector->labeled_anomalies_wanted();
  const auto split = oneclass::data::make_one_class_split(mnist(), split_options);
  oneclass::train::LoopOptions loop;
  loop.progress = false;
  loop.labeled_anomalies = split.labeled_anomalies;
  oneclass::train::fit(*detector, split.train, c10::Device(c10::kCPU), loop);
  const int64_t n = test_images > 0 ? std::min(test_images, split.test.size(0)) : split.test.size(0);
  torch::NoGradGuard no_grad;
  const auto scores = detector->score(split.test.narrow(0, 0, n)).contiguous();
  const auto labels = split.test_is_anomaly.narrow(0, 0, n).to(torch::kInt).contiguous();
  return oneclass::eval::auroc({scores.data_ptr<double>(), scores.data_ptr<double>() + scores.numel()},
                               {labels.data_ptr<int>(), labels.data_ptr<int>() + labels.numel()});
}

// Measured by `oneclass bench` for classes 0, 1 and 8: knn 0.993 / 0.999 / 0.884 (mean of seeds
// 0-4), pca 0.992 / 0.999 / 0.800 (seed 0).
TEST(MnistQualityFloor, KnnOnClasses018) {
  EXPECT_GE(one_class_auroc("knn", {}, 0), 0.98);
  EXPECT_GE(one_class_auroc("knn", {}, 1), 0.99);
  EXPECT_GE(one_class_auroc("knn", {}, 8), 0.86);
}

TEST(MnistQualityFloor, PcaOnClasses018) {
  EXPECT_GE(one_class_auroc("pca", {}, 0), 0.98);
  EXPECT_GE(one_class_auroc("pca", {}, 1), 0.99);
  EXPECT_GE(one_class_auroc("pca", {}, 8), 0.77);
}

// Measured by `oneclass bench` for classes 0, 1 and 8 (seed 0): iforest 0.966 / 0.994 / 0.753.
TEST(MnistQualityFloor, IsolationForestOnClasses018) {
  EXPECT_GE(one_class_auroc("iforest", {}, 0), 0.95);
  EXPECT_GE(one_class_auroc("iforest", {}, 1), 0.98);
  EXPECT_GE(one_class_auroc("iforest", {}, 8), 0.72);
}

// ocsvm and kde train on 20 % of the class (val_fraction 0.8) to stay fast: libsvm's training
// grows with the square of the images, and kde scores against every training image. Measured
// this way (seed 0), classes 0 / 1 / 8: ocsvm 0.987 / 0.997 / 0.892, kde 0.992 / 0.999 / 0.873;
// on 90 % (`oneclass bench`): ocsvm 0.988 / 0.997 / 0.893, kde 0.993 / 0.999 / 0.884.
#ifdef ONECLASS_HAVE_LIBSVM
TEST(MnistQualityFloor, OneClassSvmOnClasses018) {
  EXPECT_GE(one_class_auroc("ocsvm", {}, 0, 0.8), 0.97);
  EXPECT_GE(one_class_auroc("ocsvm", {}, 1, 0.8), 0.99);
  EXPECT_GE(one_class_auroc("ocsvm", {}, 8, 0.8), 0.86);
}
#endif

TEST(MnistQualityFloor, KernelDensityOnClasses018) {
  EXPECT_GE(one_class_auroc("kde", {}, 0, 0.8), 0.98);
  EXPECT_GE(one_class_auroc("kde", {}, 1, 0.8), 0.99);
  EXPECT_GE(one_class_auroc("kde", {}, 8, 0.8), 0.85);
}

// The trained detectors, cheaply: half of the class's training images (val_fraction 0.5), three
// epochs (Deep SVDD / SAD: two of pretraining, one on the hypersphere), the first 3,000 test
// images, classes 0 and 1. So short a training leaves some of them far below their benchmark
// figures (docs/results.md), but still far above chance: a detector that breaks falls through.
// Measured this way (seed 0, 2 threads), class 0 / class 1; "> x" where a first floor of x passed.
double cheap_auroc(const std::string& model, const nlohmann::json& options, int normal) {
  return one_class_auroc(model, options, normal, /*val_fraction=*/0.5, /*test_images=*/3000);
}

TEST(MnistQualityFloor, ConvAutoencoderThreeEpochs) {  // 0.852 / > .99
  EXPECT_GE(cheap_auroc("conv-ae", {{"epochs", 3}}, 0), 0.80);
  EXPECT_GE(cheap_auroc("conv-ae", {{"epochs", 3}}, 1), 0.97);
}

TEST(MnistQualityFloor, AttributeRestorationThreeEpochs) {  // 0.757 / 0.989
  EXPECT_GE(cheap_auroc("arnet", {{"epochs", 3}}, 0), 0.70);
  EXPECT_GE(cheap_auroc("arnet", {{"epochs", 3}}, 1), 0.95);
}

TEST(MnistQualityFloor, VariationalAutoencoderThreeEpochs) {  // conv, recon-prob 0.752; mlp, elbo > .99
  EXPECT_GE(cheap_auroc("vae", {{"epochs", 3}}, 0), 0.70);
  EXPECT_GE(cheap_auroc("vae", {{"epochs", 3}, {"arch", "mlp"}, {"score", "elbo"}}, 1), 0.97);
}

TEST(MnistQualityFloor, MemoryAutoencoderThreeEpochs) {  // 0.918 / 0.977
  EXPECT_GE(cheap_auroc("memae", {{"epochs", 3}}, 0), 0.87);
  EXPECT_GE(cheap_auroc("memae", {{"epochs", 3}}, 1), 0.94);
}

TEST(MnistQualityFloor, DeepSvddThreeEpochs) {  // 0.626 / > .99
  const nlohmann::json options{{"pretrain_epochs", 2}, {"epochs", 1}};
  EXPECT_GE(cheap_auroc("deep-svdd", options, 0), 0.57);
  EXPECT_GE(cheap_auroc("deep-svdd", options, 1), 0.97);
}

// 0.624 / 0.993 (seed 0; class 1 with seeds 1 and 2: 0.990 / 0.993), as deep-svdd measures.
TEST(MnistQualityFloor, DeepSadWithTenLabelledAnomaliesThreeEpochs) {
  const nlohmann::json options{{"pretrain_epochs", 2}, {"epochs", 1}, {"labeled_anomalies", 10}};
  EXPECT_GE(cheap_auroc("deep-sad", options, 0), 0.57);
  EXPECT_GE(cheap_auroc("deep-sad", options, 1), 0.97);
}

TEST(MnistQualityFloor, GeometricTransformationsThreeEpochs) {  // 0.718 / 0.783
  EXPECT_GE(cheap_auroc("geom", {{"epochs", 3}}, 0), 0.66);
  EXPECT_GE(cheap_auroc("geom", {{"epochs", 3}}, 1), 0.72);
}

TEST(MnistQualityFloor, EnsembleOfKnnAndPca) {  // > .99 / > .99
  EXPECT_GE(cheap_auroc("ensemble", {{"members", "knn+pca"}}, 0), 0.97);
  EXPECT_GE(cheap_auroc("ensemble", {{"members", "knn+pca"}}, 1), 0.97);
}

// The GAN family (src/detectors/gan.h), class 0 only (a GAN's training costs a few times a LeNet
// autoencoder's). Measured this way (seed 0): ganomaly at six epochs 0.963 (three: 0.723, its
// reconstructions only begin to follow their input), f-anogan at 3 + 2 encoder epochs 0.780 (0.724
// before its izi_f terms were scaled and kappa became 0.01). anovaegan, anogan and egbad have no
// floor: anovaegan's reconstructions leave the mean image only after 600-850 steps (0.574 at eight
// of these epochs, 376 steps), egbad's encoder inverts its generator only after several epochs of
// the whole class (3 epochs of half of it: 0.334, flagged), and anogan searches 500 steps per
// image: its 30 epochs on half of class 0 and a search over these 3,000 test images would take
// minutes (its ten-class figures are in docs/results.md).
TEST(MnistQualityFloor, GanFamily) {
  EXPECT_GE(cheap_auroc("ganomaly", {{"epochs", 6}}, 0), 0.91);
  EXPECT_GE(cheap_auroc("f-anogan", {{"epochs", 3}, {"encoder_epochs", 2}}, 0), 0.66);
}

}  // namespace
