// The detector contract, checked for every registered detector on tiny synthetic 1x8x8 images:
// fit -> finite float64 scores that rank anomalies above normals -> save / load with identical
// scores -> batch-size independence -> seeded reproducibility -> wrong shapes and empty batches
// -> optional maps and reconstructions. Each detector's tiny variant is its registry entry's
// tiny_options.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "oneclass/config.h"
#include "oneclass/detectors/detector.h"
#include "oneclass/detectors/registry.h"
#include "oneclass/engine/experiment.h"
#include "oneclass/error.h"
#include "oneclass/train/loop.h"
#include "nn/lenet.h"
#include "support/test_support.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using oneclass::Detector;
using oneclass::Error;
using oneclass::detector_registry;
using oneclass::load_detector;
using oneclass::make_detector;
using oneclass::save_detector;
using oneclass::testing_support::error_of;
using oneclass::testing_support::read_file;
using oneclass::testing_support::TempDir;
using oneclass::testing_support::write_file;

// Small, fast settings of a registered detector (a few milliseconds of training on 8x8 images).
const json& tiny_options(const std::string& name) { return oneclass::detector_entry(name).tiny_options; }

const c10::Device kCpu(c10::kCPU);

// Normal: a horizontal bar (rows 2-3) on a dark background; anomaly: a vertical bar (columns 5-6)
// with the same number of bright pixels, so brightness alone cannot tell them apart.
struct Synthetic {
  at::Tensor train;    // [96, 1, 8, 8] normal
  at::Tensor test;     // [32, 1, 8, 8]: 16 normal, then 16 anomalies
  at::Tensor is_anomaly;
};

at::Tensor noisy(const at::Tensor& pattern, int64_t n, at::Generator& generator) {
  auto noise = torch::randn({n, 1, 8, 8}, generator) * 0.03;
  return (pattern.expand({n, 1, 8, 8}) + noise).clamp(0.0, 1.0).to(torch::kFloat).contiguous();
}

const Synthetic& synthetic() {
  static const Synthetic data = [] {
    auto generator = at::make_generator<at::CPUGeneratorImpl>(2024);
    auto normal = torch::full({1, 1, 8, 8}, 0.1);
    normal.narrow(2, 2, 2).fill_(0.9);
    auto anomaly = torch::full({1, 1, 8, 8}, 0.1);
    anomaly.narrow(3, 5, 2).fill_(0.9);
    Synthetic s;
    s.train = noisy(normal, 96, generator);
    s.test = torch::cat({noisy(normal, 16, generator), noisy(anomaly, 16, generator)});
    s.is_anomaly = torch::cat({torch::zeros({16}, torch::kLong), torch::ones({16}, torch::kLong)});
    return s;
  }();
  return data;
}

std::unique_ptr<Detector> fit_tiny(const std::string& name, uint64_t seed) {
  torch::manual_seed(seed);  // as run_experiment does
  auto detector = make_detector(name, tiny_options(name));
  oneclass::train::LoopOptions options;
  options.seed = seed;
  options.progress = false;
  oneclass::train::fit(*detector, synthetic().train, kCpu, options);
  return detector;
}

at::Tensor score(Detector& detector, const at::Tensor& images) {
  torch::NoGradGuard no_grad;
  return detector.score(images);
}

std::vector<std::string> registered_names() {
  std::vector<std::string> names;
  for (const auto& entry : detector_registry()) names.push_back(entry.name);
  return names;
}

TEST(DetectorRegistry, EveryEntryDescribesItselfAndItsTinyVariantIsValid) {
  ASSERT_FALSE(detector_registry().empty());
  std::set<std::string> names;
  for (const auto& entry : detector_registry()) {
    SCOPED_TRACE(entry.name);
    EXPECT_TRUE(names.insert(entry.name).second) << "registered twice";
    EXPECT_FALSE(entry.description.empty());
    ASSERT_TRUE(entry.tiny_options.is_object());
    EXPECT_FALSE(entry.tiny_options.empty()) << "a tiny variant makes the contract tests fast";
    auto detector = entry.make(entry.tiny_options);
    EXPECT_EQ(detector->name(), entry.name);
  }
}

// What an entry declares matches what the detector does: its scores are accepted and others are
// refused with the detector's own message; semi-supervised detectors take labelled anomalies.
TEST(DetectorRegistry, DeclaredScoresAndSemiSupervisionMatchTheDetectors) {
  for (const auto& entry : detector_registry()) {
    SCOPED_TRACE(entry.name);
    const json defaults = entry.make({})->options();
    EXPECT_EQ(defaults.contains("score"), !entry.scores.empty());
    if (!entry.scores.empty()) {
      EXPECT_EQ(defaults["score"], entry.scores.front()) << "the first declared score is the default";
      for (const auto& score : entry.scores) EXPECT_EQ(entry.make({{"score", score}})->options()["score"], score);
      EXPECT_THROW(entry.make({{"score", "no-such-score"}}), Error);
      const auto message = error_of([&] { oneclass::with_score(entry.name, {}, "no-such-score"); });
      EXPECT_NE(message.find(entry.scores.front()), std::string::npos) << message;
    } else {
      EXPECT_NE(error_of([&] { oneclass::with_score(entry.name, {}, "l2"); }).find("one score"), std::string::npos);
    }
    EXPECT_EQ(defaults.contains("labeled_anomalies"), entry.semi_supervised);
    if (entry.semi_supervised) {
      EXPECT_EQ(entry.make(oneclass::with_labeled_anomalies(entry.name, {}, 7))->labeled_anomalies_wanted(), 7);
    } else {
      EXPECT_EQ(entry.make({})->labeled_anomalies_wanted(), 0);
      const auto message = error_of([&] { oneclass::with_labeled_anomalies(entry.name, {}, 7); });
      EXPECT_NE(message.find("deep-sad"), std::string::npos) << message;
    }
  }
}

TEST(DetectorRegistry, UnknownNameListsTheRegisteredNames) {
  const auto message = error_of([] { make_detector("no-such-detector"); });
  EXPECT_NE(message.find("no-such-detector"), std::string::npos) << message;
  for (const auto& name : registered_names()) EXPECT_NE(message.find(name), std::string::npos) << message;
}

TEST(DetectorRegistry, MergeOptionsKeepsDefaultsAndRejectsWrongTypes) {
  const json defaults{{"z", 64}, {"lr", 3e-4}, {"score", "l1"}};
  const auto merged = oneclass::merge_options("d", defaults, {{"z", 8}});
  EXPECT_EQ(merged["z"], 8);
  EXPECT_EQ(merged["lr"], 3e-4);
  EXPECT_EQ(merged["score"], "l1");
  EXPECT_EQ(oneclass::merge_options("d", defaults, {{"lr", 1}})["lr"], 1);  // an integer for a float is fine
  EXPECT_NE(error_of([&] { oneclass::merge_options("d", defaults, {{"z", 1.5}}); }).find("whole number"),
            std::string::npos);
  EXPECT_NE(error_of([&] { oneclass::merge_options("d", defaults, {{"score", 2}}); }).find("score"),
            std::string::npos);
  EXPECT_NE(error_of([&] { oneclass::merge_options("d", defaults, json::array({1})); }).find("d:"),
            std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// The contract, for each registered detector.

class DetectorContract : public ::testing::TestWithParam<std::string> {};

TEST_P(DetectorContract, FittedDetectorScoresEveryImageWithAFiniteFloat64) {
  auto detector = fit_tiny(GetParam(), 0);
  EXPECT_EQ(detector->name(), GetParam());
  EXPECT_EQ(detector->input_shape(), (std::vector<int64_t>{1, 8, 8}));
  EXPECT_EQ(detector->device(), kCpu);
  const auto scores = score(*detector, synthetic().test);
  EXPECT_EQ(scores.scalar_type(), torch::kDouble);
  ASSERT_EQ(scores.sizes(), (std::vector<int64_t>{synthetic().test.size(0)}));
  EXPECT_TRUE(torch::isfinite(scores).all().item<bool>()) << scores;
  // The resolved options include the ones given.
  const json resolved = detector->options();
  for (const auto& [key, value] : tiny_options(GetParam()).items()) {
    ASSERT_TRUE(resolved.contains(key)) << key;
    EXPECT_EQ(resolved[key], value) << key;
  }
}

TEST_P(DetectorContract, AnomaliesScoreHigherThanNormals) {
  auto detector = fit_tiny(GetParam(), 0);
  const auto scores = score(*detector, synthetic().test);
  const auto normal = scores.narrow(0, 0, 16), anomaly = scores.narrow(0, 16, 16);
  EXPECT_GT(anomaly.mean().item<double>(), normal.mean().item<double>())
      << "normal scores " << normal << "\nanomaly scores " << anomaly;
  // On data this easy the ranking should be nearly perfect: most anomalies above the median normal.
  const double median_normal = normal.median().item<double>();
  EXPECT_GE(anomaly.gt(median_normal).sum().item<int64_t>(), 14) << scores;
}

TEST_P(DetectorContract, SaveThenLoadGivesIdenticalScores) {
  TempDir dir("oneclass-contract");
  auto detector = fit_tiny(GetParam(), 3);
  const auto path = dir.file("sub/detector.pt");  // the parent folder does not exist yet
  save_detector(*detector, path);
  ASSERT_TRUE(fs::is_regular_file(path));
  auto loaded = load_detector(path, kCpu);
  ASSERT_NE(loaded, nullptr);
  EXPECT_EQ(loaded->name(), detector->name());
  EXPECT_EQ(loaded->options(), detector->options());
  EXPECT_EQ(loaded->input_shape(), detector->input_shape());
  EXPECT_EQ(loaded->plan().epochs, detector->plan().epochs);
  const auto before = score(*detector, synthetic().test);
  const auto after = score(*loaded, synthetic().test);
  EXPECT_TRUE(torch::equal(before, after)) << "max difference " << (before - after).abs().max().item<double>();
  torch::NoGradGuard no_grad;
  const auto map_before = detector->anomaly_map(synthetic().test);
  const auto map_after = loaded->anomaly_map(synthetic().test);
  ASSERT_EQ(map_before.has_value(), map_after.has_value());
  if (map_before) {
    EXPECT_TRUE(torch::equal(*map_before, *map_after));
  }
  const auto rec_before = detector->reconstruct(synthetic().test);
  const auto rec_after = loaded->reconstruct(synthetic().test);
  ASSERT_EQ(rec_before.has_value(), rec_after.has_value());
  if (rec_before) {
    EXPECT_TRUE(torch::equal(*rec_before, *rec_after));
  }
  // No temporary files are left beside the detector.
  int files = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator(dir.file("sub"))) ++files;
  EXPECT_EQ(files, 1);
}

TEST_P(DetectorContract, ScoringInOneBatchEqualsScoringOneByOne) {
  auto detector = fit_tiny(GetParam(), 0);
  const auto& test = synthetic().test;
  const auto batch = score(*detector, test);
  for (int64_t i = 0; i < test.size(0); ++i) {
    const auto single = score(*detector, test.narrow(0, i, 1));
    ASSERT_EQ(single.sizes(), (std::vector<int64_t>{1}));
    const double a = batch[i].item<double>(), b = single[0].item<double>();
    EXPECT_NEAR(a, b, 1e-5 * std::max(std::abs(a), 1e-12)) << "image " << i;
  }
  // A batch in another order gives the same scores in that order, to float rounding: an image's
  // position can fall in a GEMM kernel's tail rows, which sum in another order, and a score that
  // is a difference of two codes (ganomaly's) keeps only the absolute precision of the codes, so
  // the tolerance is relative to the largest score.
  const auto order = torch::arange(test.size(0) - 1, -1, -1, torch::kLong);
  const auto reversed = score(*detector, test.index_select(0, order));
  const double scale = batch.abs().max().item<double>();
  EXPECT_TRUE(torch::allclose(reversed, batch.index_select(0, order), 1e-5, 1e-5 * scale)) << reversed;
}

TEST_P(DetectorContract, SameSeedSameScoresOtherSeedOtherScores) {
  auto a = fit_tiny(GetParam(), 11);
  auto b = fit_tiny(GetParam(), 11);
  auto c = fit_tiny(GetParam(), 12);
  const auto& test = synthetic().test;
  const auto scores_a = score(*a, test), scores_b = score(*b, test), scores_c = score(*c, test);
  EXPECT_TRUE(torch::equal(scores_a, scores_b)) << "max difference " << (scores_a - scores_b).abs().max().item<double>();
  // A detector that learns by optimisation starts from seeded random weights; one that only
  // stores its training images (kNN) has nothing random in it.
  if (a->plan().epochs > 0) {
    EXPECT_FALSE(torch::equal(scores_a, scores_c)) << "seeds 11 and 12 gave identical scores";
  }
}

// The benchmark trains copies of a detector together (seeds and classes of unequal size). Each
// copy must end as it would trained alone with its own images and seed.
TEST_P(DetectorContract, TrainingTogetherEqualsTrainingAlone) {
  const auto& train = synthetic().train;
  {
    auto probe = fit_tiny(GetParam(), 0);
    if (!probe->train_together({probe.get()})) {
      GTEST_SKIP() << GetParam() << " does not train copies together (the loop trains them one after another)";
    }
  }
  const std::vector<int64_t> sizes{96, 70, 45};  // unequal: epochs end at different steps
  const std::vector<uint64_t> seeds{5, 6, 7};
  std::vector<std::unique_ptr<Detector>> together;
  std::vector<oneclass::train::FitJob> jobs;
  for (size_t i = 0; i < sizes.size(); ++i) {
    together.push_back(make_detector(GetParam(), tiny_options(GetParam())));
    jobs.push_back({together.back().get(), train.narrow(0, 0, sizes[i]), seeds[i], {}});
  }
  const auto histories = oneclass::train::fit_together(jobs, kCpu, /*progress=*/false);
  const auto& test = synthetic().test;
  for (size_t i = 0; i < sizes.size(); ++i) {
    auto alone = make_detector(GetParam(), tiny_options(GetParam()));
    oneclass::train::LoopOptions options;
    options.seed = seeds[i];
    options.progress = false;
    const auto history = oneclass::train::fit(*alone, train.narrow(0, 0, sizes[i]), kCpu, options);
    const auto expected = score(*alone, test), got = score(*together[i], test);
    EXPECT_TRUE(torch::allclose(got, expected, 1e-5, 1e-7))
        << "copy " << i << ": max difference " << (got - expected).abs().max().item<double>();
    EXPECT_EQ(histories[i].steps, history.steps) << "copy " << i;
    ASSERT_EQ(histories[i].epoch_loss.size(), history.epoch_loss.size());
    for (size_t e = 0; e < history.epoch_loss.size(); ++e) {
      EXPECT_NEAR(histories[i].epoch_loss[e], history.epoch_loss[e], 1e-6 * std::max(1.0, history.epoch_loss[e]));
    }
  }
}

// The base checks every input before the detector sees it: images of another shape are an Error
// naming the detector and both shapes; an empty batch gives empty results; an unfitted detector
// says so.
TEST_P(DetectorContract, WrongShapeIsAnErrorNamingTheDetectorAndAnEmptyBatchGivesEmptyResults) {
  auto unfitted = make_detector(GetParam(), tiny_options(GetParam()));
  const auto not_fitted = error_of([&] { score(*unfitted, synthetic().test); });
  EXPECT_NE(not_fitted.find(GetParam() + ": not fitted"), std::string::npos) << not_fitted;

  auto detector = fit_tiny(GetParam(), 0);
  for (const auto& wrong : {torch::rand({3, 1, 8, 9}), torch::rand({3, 3, 8, 8}), torch::rand({3, 64}),
                            torch::rand({1, 8, 8})}) {
    SCOPED_TRACE(c10::str(wrong.sizes()));
    const auto message = error_of([&] { score(*detector, wrong); });
    EXPECT_NE(message.find(GetParam() + ": images of shape"), std::string::npos) << message;
    EXPECT_NE(message.find("[1, 8, 8]"), std::string::npos) << message;
    EXPECT_THROW(detector->anomaly_map(wrong), Error);
    EXPECT_THROW(detector->reconstruct(wrong), Error);
  }
  const auto empty = synthetic().test.narrow(0, 0, 0);
  const auto scores = score(*detector, empty);
  EXPECT_EQ(scores.sizes(), (std::vector<int64_t>{0}));
  EXPECT_EQ(scores.scalar_type(), torch::kDouble);
  torch::NoGradGuard no_grad;
  if (const auto map = detector->anomaly_map(empty)) {
    EXPECT_EQ(map->sizes(), (std::vector<int64_t>{0, 8, 8}));
  }
  if (const auto reconstruction = detector->reconstruct(empty)) {
    EXPECT_EQ(reconstruction->sizes(), (std::vector<int64_t>{0, 1, 8, 8}));
  }
  // And scoring still works afterwards.
  EXPECT_EQ(score(*detector, synthetic().test).size(0), synthetic().test.size(0));
}

TEST_P(DetectorContract, AnomalyMapWhenPresentIsNonNegativePerPixel) {
  auto detector = fit_tiny(GetParam(), 0);
  const auto& test = synthetic().test;
  torch::NoGradGuard no_grad;
  const auto map = detector->anomaly_map(test);
  if (!map) GTEST_SKIP() << GetParam() << " has no anomaly map";
  ASSERT_EQ(map->sizes(), (std::vector<int64_t>{test.size(0), 8, 8}));
  EXPECT_TRUE(torch::isfinite(*map).all().item<bool>());
  EXPECT_GE(map->min().item<double>(), 0.0);
  // It marks where the anomaly differs: on anomalies, more mass in the vertical bar's columns
  // (which a normal image leaves dark) than on normal images.
  const auto bar = map->narrow(2, 5, 2).narrow(1, 4, 4).sum({1, 2});
  EXPECT_GT(bar.narrow(0, 16, 16).mean().item<double>(), bar.narrow(0, 0, 16).mean().item<double>());
}

TEST_P(DetectorContract, ReconstructionWhenPresentHasTheInputShapeAndRange) {
  auto detector = fit_tiny(GetParam(), 0);
  const auto& test = synthetic().test;
  torch::NoGradGuard no_grad;
  const auto reconstruction = detector->reconstruct(test);
  if (!reconstruction) GTEST_SKIP() << GetParam() << " does not reconstruct";
  ASSERT_EQ(reconstruction->sizes(), test.sizes());
  EXPECT_TRUE(torch::isfinite(*reconstruction).all().item<bool>());
  EXPECT_GE(reconstruction->min().item<double>(), 0.0);
  EXPECT_LE(reconstruction->max().item<double>(), 1.0);
  // A fitted reconstruction of a normal image is closer to it than to an anomaly.
  const auto normal = test.narrow(0, 0, 16), anomaly = test.narrow(0, 16, 16);
  const double own = (reconstruction->narrow(0, 0, 16) - normal).abs().mean().item<double>();
  const double other = (reconstruction->narrow(0, 0, 16) - anomaly).abs().mean().item<double>();
  EXPECT_LT(own, other);
}

// Camera images: colour and larger than digits. The 8x8 bars scaled up 6 times to 48x48 and
// tinted, so the convolutional networks need the extra stage they grow at this size.
at::Tensor camera_sized(const at::Tensor& grey) {
  namespace F = torch::nn::functional;
  const auto large = F::interpolate(grey, F::InterpolateFuncOptions().scale_factor(std::vector<double>{6.0, 6.0}).mode(torch::kNearest));
  const auto tint = torch::tensor({1.0F, 0.7F, 0.4F}).view({1, 3, 1, 1});
  return (large.expand({-1, 3, -1, -1}) * tint).contiguous();
}

TEST_P(DetectorContract, ColourImagesOfCameraSizeAreFittedScoredMappedAndSaved) {
  const auto train = camera_sized(synthetic().train.narrow(0, 0, 16));
  const auto test = camera_sized(synthetic().test.narrow(0, 12, 8));  // 4 normal, then 4 anomalies
  torch::manual_seed(0);
  auto detector = make_detector(GetParam(), tiny_options(GetParam()));
  oneclass::train::LoopOptions options;
  options.progress = false;
  oneclass::train::fit(*detector, train, kCpu, options);
  EXPECT_EQ(detector->input_shape(), (std::vector<int64_t>{3, 48, 48}));
  const auto scores = score(*detector, test);
  ASSERT_EQ(scores.size(0), 8);
  EXPECT_TRUE(torch::isfinite(scores).all().item<bool>()) << scores;
  // Anomalies score higher, unless the detector's own training-health record (a GAN's) says its
  // training failed: then the flag is the behaviour asked for, not a number taken at face value.
  const auto health = detector->training_health();
  const bool training_flagged = health.is_object() && health.contains("ok") && !health["ok"].get<bool>();
  if (!training_flagged) {
    EXPECT_GT(scores.narrow(0, 4, 4).mean().item<double>(), scores.narrow(0, 0, 4).mean().item<double>()) << scores;
  }
  torch::NoGradGuard no_grad;
  if (const auto map = detector->anomaly_map(test)) {
    EXPECT_EQ(map->sizes(), (std::vector<int64_t>{8, 48, 48}));
    EXPECT_TRUE(torch::isfinite(*map).all().item<bool>());
  }
  TempDir dir("oneclass-contract-colour");
  save_detector(*detector, dir.file("detector.pt"));
  EXPECT_TRUE(torch::equal(score(*load_detector(dir.file("detector.pt"), kCpu), test), scores));
}

TEST_P(DetectorContract, UnknownOptionIsAnErrorListingTheValidOptions) {
  const auto message = error_of([&] { make_detector(GetParam(), {{"no_such_option", 1}}); });
  EXPECT_NE(message.find(GetParam()), std::string::npos) << message;
  EXPECT_NE(message.find("no_such_option"), std::string::npos) << message;
  const json defaults = make_detector(GetParam())->options();
  ASSERT_FALSE(defaults.empty());
  for (const auto& [key, value] : defaults.items()) EXPECT_NE(message.find(key), std::string::npos) << key;
}

TEST_P(DetectorContract, LoadingADamagedOrForeignFileIsAnErrorNamingIt) {
  TempDir dir("oneclass-contract");
  auto detector = fit_tiny(GetParam(), 0);
  const auto good = dir.file("good.pt");
  save_detector(*detector, good);
  const std::string bytes = read_file(good);
  ASSERT_GT(bytes.size(), 100u);
  auto write = [&](const std::string& name, const std::string& content) {
    const auto path = dir.file(name);
    write_file(path, content);
    return path;
  };
  std::mt19937 random(5);
  std::string noise(4096, '\0');
  for (auto& c : noise) c = static_cast<char>(random() & 0xff);

  std::vector<std::string> paths{
      write("random.pt", noise),
      write("empty.pt", ""),
      write("truncated-half.pt", bytes.substr(0, bytes.size() / 2)),
      write("truncated-end.pt", bytes.substr(0, bytes.size() - 30)),
      write("text.pt", "{\"model\": \"mlp-ae\"}\n"),
      dir.file("missing.pt"),
  };
  for (const auto& path : paths) {
    const auto message = error_of([&] { load_detector(path, kCpu); });
    EXPECT_NE(message.find(path), std::string::npos) << message;
  }
}

// Archives written by LibTorch but not (or not fully) by save_detector.
TEST(LoadDetector, ForeignOrIncompleteArchivesAreErrorsNamingTheFile) {
  TempDir dir("oneclass-contract");
  const std::string name = registered_names().front();
  auto save = [&](const std::string& file, const std::function<void(torch::serialize::OutputArchive&)>& fill) {
    torch::serialize::OutputArchive archive;
    fill(archive);
    const auto path = dir.file(file);
    archive.save_to(path);
    return path;
  };
  const std::string magic = "oneclass-detector";
  std::vector<std::pair<std::string, std::string>> cases;  // path, what the message must also hold
  // A LibTorch archive of something else.
  cases.emplace_back(save("foreign.pt", [](auto& a) { a.write("weight", torch::ones({2, 2})); }), "");
  // Right magic, but written by a future format.
  cases.emplace_back(save("future.pt",
                          [&](auto& a) {
                            a.write("oneclass_magic", c10::IValue(magic));
                            a.write("oneclass_format", c10::IValue(int64_t{99}));
                          }),
                     "99");
  // Header only: the learned state is missing.
  cases.emplace_back(save("no-state.pt",
                          [&](auto& a) {
                            a.write("oneclass_magic", c10::IValue(magic));
                            a.write("oneclass_format", c10::IValue(int64_t{1}));
                            a.write("oneclass_detector", c10::IValue(name));
                            a.write("oneclass_options", c10::IValue(make_detector(name)->options().dump()));
                          }),
                     "");
  // Options that are not JSON.
  cases.emplace_back(save("bad-options.pt",
                          [&](auto& a) {
                            a.write("oneclass_magic", c10::IValue(magic));
                            a.write("oneclass_format", c10::IValue(int64_t{1}));
                            a.write("oneclass_detector", c10::IValue(name));
                            a.write("oneclass_options", c10::IValue(std::string("{not json")));
                          }),
                     "");
  for (const auto& [path, detail] : cases) {
    const auto message = error_of([&] { load_detector(path, kCpu); });
    EXPECT_NE(message.find(path), std::string::npos) << message;
    EXPECT_NE(message.find(detail), std::string::npos) << message;
  }
}

// detector.h promises an Error naming the file when it "names an unknown detector"; the same
// holds for options the named detector does not accept (a file from another oneclass version).
TEST(LoadDetector, UnknownDetectorOrOptionsInTheFileIsAnErrorNamingTheFile) {
  TempDir dir("oneclass-contract");
  const std::string name = registered_names().front();
  auto save = [&](const std::string& file, const std::string& detector, const std::string& options) {
    torch::serialize::OutputArchive archive;
    archive.write("oneclass_magic", c10::IValue(std::string("oneclass-detector")));
    archive.write("oneclass_format", c10::IValue(int64_t{1}));
    archive.write("oneclass_detector", c10::IValue(detector));
    archive.write("oneclass_options", c10::IValue(options));
    const auto path = dir.file(file);
    archive.save_to(path);
    return path;
  };
  const auto unknown = save("unknown-detector.pt", "detector-from-the-future", "{}");
  const auto message = error_of([&] { load_detector(unknown, kCpu); });
  EXPECT_NE(message.find("detector-from-the-future"), std::string::npos) << message;
  EXPECT_NE(message.find(unknown), std::string::npos) << message;

  const auto options = save("unknown-option.pt", name, R"({"option_from_the_future": 1})");
  const auto options_message = error_of([&] { load_detector(options, kCpu); });
  EXPECT_NE(options_message.find("option_from_the_future"), std::string::npos) << options_message;
  EXPECT_NE(options_message.find(options), std::string::npos) << options_message;
}

// Detector-specific promises the contract above does not cover.

// A fit that fails leaves the detector unfitted, not half-fitted: scoring says so.
TEST(DetectorBase, AFailedFitLeavesTheDetectorUnfitted) {
  auto detector = make_detector("knn", {{"k", 500}});  // more neighbours than the 96 training images
  oneclass::train::LoopOptions loop;
  loop.progress = false;
  EXPECT_NE(error_of([&] { oneclass::train::fit(*detector, synthetic().train, kCpu, loop); }).find("k=500"),
            std::string::npos);
  EXPECT_TRUE(detector->input_shape().empty());
  const auto message = error_of([&] { score(*detector, synthetic().test); });
  EXPECT_NE(message.find("knn: not fitted"), std::string::npos) << message;
}

TEST(ClassicalDetectors, IsolationForestGrowsAnotherForestFromAnotherSeed) {
  auto a = fit_tiny("iforest", 11), b = fit_tiny("iforest", 12);
  EXPECT_FALSE(torch::equal(score(*a, synthetic().test), score(*b, synthetic().test)));
}

TEST(ClassicalDetectors, KdeWithAFixedBandwidthUsesIt) {
  auto fixed = make_detector("kde", {{"bandwidth", 0.5}});
  oneclass::train::LoopOptions options;
  options.progress = false;
  oneclass::train::fit(*fixed, synthetic().train, kCpu, options);
  // With one training image the density is a single Gaussian: -log p = |x - x_0|^2 / 2h^2 + (D/2) log(2 pi h^2).
  auto single = make_detector("kde", {{"bandwidth", 0.5}});
  const auto image = synthetic().train.narrow(0, 0, 1);
  oneclass::train::fit(*single, image, kCpu, options);
  const auto x = synthetic().test.narrow(0, 0, 2);
  const auto expected = (x - image).flatten(1).to(torch::kDouble).square().sum(1) / (2 * 0.25) +
                        32.0 * std::log(2 * M_PI * 0.25);
  EXPECT_TRUE(torch::allclose(score(*single, x), expected, 1e-9, 1e-9)) << score(*single, x) << expected;
  EXPECT_NE(error_of([] { make_detector("kde", {{"bandwidth", -1}}); }).find("bandwidth=-1"), std::string::npos);
}

TEST(ClassicalDetectors, OptionErrorsNameTheDetectorAndTheValue) {
  EXPECT_NE(error_of([] { make_detector("iforest", {{"samples", 1}}); }).find("samples=1"), std::string::npos);
  const auto too_many = error_of([] { make_detector("iforest", {{"pca", 100}})->begin_fit(synthetic().train, {}); });
  EXPECT_NE(too_many.find("pca=100"), std::string::npos) << too_many;
#ifdef ONECLASS_HAVE_LIBSVM
  EXPECT_EQ(make_detector("ocsvm", {{"gamma", 2}})->options()["gamma"], 2.0);
  EXPECT_NE(error_of([] { make_detector("ocsvm", {{"gamma", "auto"}}); }).find("gamma=\"auto\""), std::string::npos);
  EXPECT_NE(error_of([] { make_detector("ocsvm", {{"gamma", -1}}); }).find("ocsvm: gamma=-1"), std::string::npos);
  EXPECT_NE(error_of([] { make_detector("ocsvm", {{"nu", 1.5}}); }).find("nu=1.5"), std::string::npos);
#endif
}

INSTANTIATE_TEST_SUITE_P(Registered, DetectorContract, ::testing::ValuesIn(registered_names()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string id = info.param;
                           for (auto& c : id) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return id;
                         });

// ---------------------------------------------------------------------------------------------
// mlp-ae's two implementations: the hand-written training step (impl=fast, the default) against
// the plain torch::nn module trained by autograd (impl=reference). Same seed, same initial
// weights, same batches: the same scores, up to float rounding.

TEST(MlpAutoencoder, FastKernelMatchesTheReferenceModule) {
  for (const int epochs : {0, 3}) {
    SCOPED_TRACE("epochs " + std::to_string(epochs));
    json options{{"epochs", epochs}, {"z", 4}, {"batch_size", 8}};
    auto fast = make_detector("mlp-ae", options);
    options["impl"] = "reference";
    auto reference = make_detector("mlp-ae", options);
    for (Detector* detector : {fast.get(), reference.get()}) {
      oneclass::train::LoopOptions loop;
      loop.seed = 11;
      loop.progress = false;
      oneclass::train::fit(*detector, synthetic().train, kCpu, loop);
    }
    const auto expected = score(*reference, synthetic().test), got = score(*fast, synthetic().test);
    EXPECT_TRUE(torch::allclose(got, expected, /*rtol=*/epochs == 0 ? 1e-5 : 1e-3, /*atol=*/1e-5))
        << "max difference " << (got - expected).abs().max().item<double>() << "\nfast " << got << "\nreference "
        << expected;
    torch::NoGradGuard no_grad;
    EXPECT_TRUE(torch::allclose(*fast->reconstruct(synthetic().test), *reference->reconstruct(synthetic().test),
                                1e-3, 1e-4));
  }
}

// ---------------------------------------------------------------------------------------------
// Labelled anomalies (Deep SAD): the loop hands a semi-supervised detector exactly the anomalies
// it asks for, and they change what it learns.

std::unique_ptr<Detector> fit_with_anomalies(const std::string& name, const json& options, const at::Tensor& anomalies) {
  auto detector = make_detector(name, options);
  oneclass::train::LoopOptions loop;
  loop.seed = 4;
  loop.progress = false;
  loop.labeled_anomalies = anomalies;
  oneclass::train::fit(*detector, synthetic().train, kCpu, loop);
  return detector;
}

TEST(LabeledAnomalies, DeepSadWithoutThemIsOneClassDeepSvdd) {
  json options = tiny_options("deep-sad");
  auto sad = fit_with_anomalies("deep-sad", options, {});
  auto svdd = fit_with_anomalies("deep-svdd", options, {});
  EXPECT_TRUE(torch::equal(score(*sad, synthetic().test), score(*svdd, synthetic().test)));
}

TEST(LabeledAnomalies, DeepSadPushesTheLabelledKindAway) {
  json options = tiny_options("deep-sad");
  const auto anomalies = synthetic().test.narrow(0, 16, 4);  // four of the vertical bars
  auto plain = fit_with_anomalies("deep-sad", options, {});
  options["labeled_anomalies"] = 4;
  auto informed = fit_with_anomalies("deep-sad", options, anomalies);
  // The other twelve anomalies end further from the centre once labelled ones were seen (one-class
  // training alone draws every image towards it), while the normal images still score below them.
  const auto plain_scores = score(*plain, synthetic().test), informed_scores = score(*informed, synthetic().test);
  const double plain_distance = plain_scores.narrow(0, 20, 12).mean().item<double>();
  const double informed_distance = informed_scores.narrow(0, 20, 12).mean().item<double>();
  EXPECT_GT(informed_distance, 2 * plain_distance) << "plain " << plain_scores << "\ninformed " << informed_scores;
  EXPECT_LT(informed_scores.narrow(0, 0, 16).max().item<double>(), informed_scores.narrow(0, 20, 12).min().item<double>());
}

TEST(LabeledAnomalies, AMismatchedCountIsAnErrorNamingTheDetector) {
  const auto anomalies = synthetic().test.narrow(0, 16, 4);
  auto message = error_of([&] { fit_with_anomalies("knn", tiny_options("knn"), anomalies); });
  EXPECT_NE(message.find("knn"), std::string::npos) << message;
  EXPECT_NE(message.find("deep-sad"), std::string::npos) << message;
  json options = tiny_options("deep-sad");
  options["labeled_anomalies"] = 10;
  message = error_of([&] { fit_with_anomalies("deep-sad", options, anomalies); });
  EXPECT_NE(message.find("expects 10"), std::string::npos) << message;
}

// ---------------------------------------------------------------------------------------------
// The GAN family reports how its training went, and shows what it made after each epoch.

TEST(GanFamily, HealthRecordsEveryEpochAndTheImagesShown) {
  for (const std::string name : {"anogan", "f-anogan", "egbad", "ganomaly", "anovaegan"}) {
    auto detector = fit_tiny(name, 0);
    const json health = detector->training_health();
    ASSERT_TRUE(health.is_object()) << name;
    EXPECT_TRUE(health["ok"].is_boolean()) << name;
    EXPECT_EQ(health["ok"].get<bool>(), health["problems"].empty()) << name << health.dump();
    EXPECT_GT(health["real_spread"].get<double>(), 0.0) << name;
    const int gan_epochs = tiny_options(name)["epochs"].get<int>();  // f-anogan's encoder epochs are not GAN epochs
    ASSERT_EQ(health["epochs"].size(), static_cast<size_t>(gan_epochs)) << name;
    for (const auto& epoch : health["epochs"]) {
      EXPECT_TRUE(std::isfinite(epoch["discriminator_loss"].get<double>())) << name << epoch.dump();
      EXPECT_TRUE(std::isfinite(epoch["generator_loss"].get<double>())) << name << epoch.dump();
      EXPECT_GT(epoch["spread"].get<double>(), 0.0) << name << epoch.dump();
    }
    // Every member records whether its reconstructions follow their input after the fit, and after
    // each epoch too where that is cheap: not AnoGAN's latent search, nor f-AnoGAN's GAN epochs,
    // which come before its encoder.
    ASSERT_TRUE(health["own_match"].is_number()) << name << health.dump();
    const bool per_epoch = name != "anogan" && name != "f-anogan";
    for (const auto& epoch : health["epochs"]) EXPECT_EQ(epoch.contains("own_match"), per_epoch) << name << epoch.dump();
    const auto samples = detector->epoch_samples();
    ASSERT_EQ(samples.size(), static_cast<size_t>(gan_epochs)) << name;
    EXPECT_EQ(samples.back().sizes(), (std::vector<int64_t>{36, 1, 8, 8})) << name;
    EXPECT_GE(samples.back().min().item<double>(), 0.0) << name;
    EXPECT_LE(samples.back().max().item<double>(), 1.0) << name;
  }
  EXPECT_TRUE(make_detector("conv-ae")->training_health().is_null());  // nothing to report
}

// A learning rate far too large wrecks the training; the record must say so, with its figures.
TEST(GanFamily, AWreckedTrainingIsReportedNotHidden) {
  auto options = tiny_options("ganomaly");
  options["lr"] = 10.0;
  options["epochs"] = 5;
  torch::manual_seed(0);
  auto detector = make_detector("ganomaly", options);
  oneclass::train::LoopOptions loop;
  loop.progress = false;
  oneclass::train::fit(*detector, synthetic().train, kCpu, loop);
  const json health = detector->training_health();
  EXPECT_FALSE(health["ok"].get<bool>()) << health.dump();
  ASSERT_FALSE(health["problems"].empty());
  EXPECT_NE(health["problems"][0].get<std::string>().find(":"), std::string::npos) << health.dump();
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// The LeNet-type network grows a stage while the map left is even and larger than 8x8.

TEST(LeNet, GrowsStagesWithTheImageSizeAndKeepsDigitsAtTwo) {
  const auto channels = [](std::vector<int64_t> input) {
    return oneclass::nn::lenet_stage_channels(oneclass::nn::LeNetShape{std::move(input), 32, 8});
  };
  EXPECT_EQ(channels({1, 28, 28}), (std::vector<int64_t>{8, 4}));          // 7x7 at the code
  EXPECT_EQ(channels({1, 32, 32}), (std::vector<int64_t>{8, 4}));          // 8x8
  EXPECT_EQ(channels({3, 48, 48}), (std::vector<int64_t>{8, 4, 8}));       // 6x6
  EXPECT_EQ(channels({3, 64, 64}), (std::vector<int64_t>{8, 4, 8}));       // 8x8
  EXPECT_EQ(channels({3, 96, 96}), (std::vector<int64_t>{8, 4, 8, 16}));   // 6x6
  EXPECT_EQ(channels({3, 256, 256}), (std::vector<int64_t>{8, 4, 8, 16, 32}));  // 8x8, capped at 4 width
  EXPECT_EQ(channels({3, 256, 128}), (std::vector<int64_t>{8, 4, 8, 16}));  // 16x8: the narrow side stops it

  const oneclass::nn::LeNetShape shape{{3, 256, 256}, 16, 8};
  oneclass::nn::LeNetEncoder encoder(shape);
  oneclass::nn::LeNetDecoder decoder(shape);
  const auto code = encoder->forward(torch::rand({2, 3, 256, 256}));
  EXPECT_EQ(code.sizes(), (std::vector<int64_t>{2, 16}));
  EXPECT_EQ(decoder->forward(code).sizes(), (std::vector<int64_t>{2, 3, 256, 256}));
  EXPECT_EQ(encoder->named_parameters()["code.weight"].size(1), 32 * 8 * 8);
}
