// The hand-written training step of MlpStack against LibTorch's autograd and torch::optim::Adam,
// and the fused CPU kernel against the LibTorch-operations path.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "nn/mlp_cpu_step.h"
#include "nn/mlp_stack.h"
#include "oneclass/util/system_info.h"

namespace {

using oneclass::nn::Activation;
using oneclass::nn::AdamOptions;
using oneclass::nn::MlpShape;
using oneclass::nn::MlpStack;

const MlpShape kShape = oneclass::nn::autoencoder_shape(12, {9, 5}, 3);
const AdamOptions kAdam{/*lr=*/1e-2, 0.9, 0.999, 1e-8, /*weight_decay=*/1e-3};

// The same network built from torch::nn::Linear, trained with autograd and torch::optim::Adam.
struct Reference {
  std::vector<torch::nn::Linear> layers;
  std::unique_ptr<torch::optim::Adam> optimizer;

  explicit Reference(const MlpStack& stack) {
    const auto params = stack.parameters();  // w0 [1, in, out], b0 [1, 1, out], ...
    std::vector<torch::Tensor> all;
    for (size_t l = 0; l + 1 < kShape.widths.size(); ++l) {
      torch::nn::Linear linear(kShape.widths[l], kShape.widths[l + 1]);
      torch::NoGradGuard no_grad;
      linear->weight.copy_(params[2 * l][0].t());
      linear->bias.copy_(params[2 * l + 1][0][0]);
      layers.push_back(linear);
      all.push_back(linear->weight);
      all.push_back(linear->bias);
    }
    optimizer = std::make_unique<torch::optim::Adam>(
        all, torch::optim::AdamOptions(kAdam.lr).betas({kAdam.beta1, kAdam.beta2}).eps(kAdam.eps).weight_decay(
                 kAdam.weight_decay));
  }

  double step(const torch::Tensor& x) {  // x [B, D]
    torch::Tensor a = x;
    for (size_t l = 0; l < layers.size(); ++l) {
      a = layers[l]->forward(a);
      if (kShape.activations[l] == Activation::kRelu) a = torch::relu(a);
      if (kShape.activations[l] == Activation::kTanh) a = torch::tanh(a);
    }
    auto loss = torch::mse_loss(a, x);
    optimizer->zero_grad();
    loss.backward();
    optimizer->step();
    return loss.item<double>();
  }
};

double max_parameter_difference(const MlpStack& stack, const Reference& reference) {
  const auto params = stack.parameters();
  double worst = 0;
  for (size_t l = 0; l < reference.layers.size(); ++l) {
    worst = std::max(worst, (params[2 * l][0].t() - reference.layers[l]->weight).abs().max().item<double>());
    worst = std::max(worst, (params[2 * l + 1][0][0] - reference.layers[l]->bias).abs().max().item<double>());
  }
  return worst;
}

MlpStack make_stack(int64_t members, const std::vector<uint64_t>& seeds, bool fast) {
  MlpStack stack(kShape, members, c10::Device(c10::kCPU));
  stack.init_like_torch_linear(seeds);
  stack.set_optimizer(kAdam);
  stack.use_cpu_fast_path(fast);
  return stack;
}

// (fused CPU kernel?, threads): one thread runs everything in order; two threads run the
// kernel's pipelined optimiser.
class MlpStackVsAutograd : public ::testing::TestWithParam<std::tuple<bool, int>> {
 protected:
  void SetUp() override { at::set_num_threads(std::get<1>(GetParam())); }
  void TearDown() override { at::set_num_threads(2); }
};

TEST_P(MlpStackVsAutograd, TenStepsMatchAutogradAndTorchAdam) {
  const bool fast = std::get<0>(GetParam());
  MlpStack stack = make_stack(1, {7}, fast);
  Reference reference(stack);
  torch::manual_seed(1);
  for (int step = 0; step < 10; ++step) {
    auto x = torch::rand({6, 12}).mul_(2).sub_(1);
    const double expected_loss = reference.step(x);
    const double loss = stack.train_step_mse(x.unsqueeze(0), x.unsqueeze(0)).item<double>();
    EXPECT_NEAR(loss, expected_loss, 1e-5 * std::max(1.0, expected_loss)) << "step " << step;
  }
  EXPECT_LT(max_parameter_difference(stack, reference), 1e-5);
  // And training did move the weights (the comparison is not between two untouched copies).
  MlpStack untouched = make_stack(1, {7}, fast);
  EXPECT_GT((untouched.parameters()[0] - stack.parameters()[0]).abs().max().item<double>(), 1e-3);
}

INSTANTIATE_TEST_SUITE_P(BothPaths, MlpStackVsAutograd, ::testing::Combine(::testing::Bool(), ::testing::Values(1, 2)),
                         [](const auto& info) {
                           return std::string(std::get<0>(info.param) ? "FusedCpuKernel" : "LibTorchOps") +
                                  std::to_string(std::get<1>(info.param)) + "Threads";
                         });

TEST(MlpStack, AutoencoderShapeIsTheOriginalNetwork) {
  const MlpShape shape = oneclass::nn::autoencoder_shape(784, {256, 128}, 64);
  EXPECT_EQ(shape.widths, (std::vector<int64_t>{784, 256, 128, 64, 128, 256, 784}));
  EXPECT_EQ(shape.activations, (std::vector<Activation>{Activation::kRelu, Activation::kRelu, Activation::kNone,
                                                        Activation::kRelu, Activation::kRelu, Activation::kTanh}));
}

TEST(MlpStack, InitialisationMatchesTorchLinearDrawOrder) {
  MlpStack stack = make_stack(1, {3}, false);
  auto generator = at::make_generator<at::CPUGeneratorImpl>(3);
  const double bound = 1.0 / std::sqrt(12.0);
  auto w0 = torch::empty({9, 12}).uniform_(-bound, bound, generator);
  EXPECT_TRUE(torch::equal(stack.parameters()[0][0], w0.t()));
}

class StackedMembers : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override { at::set_num_threads(GetParam()); }
  void TearDown() override { at::set_num_threads(2); }
};

TEST_P(StackedMembers, EqualMembersTrainedAlone) {
  if (!oneclass::nn::cpu_fast_path_available()) GTEST_SKIP() << "built without CBLAS";
  const std::vector<uint64_t> seeds{11, 12, 13};
  MlpStack stacked = make_stack(3, seeds, /*fast=*/true);
  std::vector<MlpStack> alone;
  for (uint64_t seed : seeds) alone.push_back(make_stack(1, {seed}, true));
  torch::manual_seed(2);
  for (int step = 0; step < 5; ++step) {
    auto x = torch::rand({3, 4, 12});
    auto loss = stacked.train_step_mse(x, x);
    for (int g = 0; g < 3; ++g) {
      auto xg = x.narrow(0, g, 1).contiguous();
      EXPECT_NEAR(alone[g].train_step_mse(xg, xg).item<double>(), loss[g].item<double>(), 1e-6);
    }
  }
  for (int g = 0; g < 3; ++g) {
    const auto a = stacked.parameters(), b = alone[g].parameters();
    for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::allclose(a[i][g], b[i][0], 1e-5, 1e-6)) << "member " << g;
  }
}

INSTANTIATE_TEST_SUITE_P(Threads, StackedMembers, ::testing::Values(1, 2, 3));

// (fused CPU kernel?, threads). The benchmark stacks classes of unequal size: members then train
// on batches of different sizes, and a member that has finished sits the remaining steps out.
class RaggedStack : public ::testing::TestWithParam<std::tuple<bool, int>> {
 protected:
  void SetUp() override { at::set_num_threads(std::get<1>(GetParam())); }
  void TearDown() override { at::set_num_threads(2); }
};

TEST_P(RaggedStack, MembersWithOwnBatchSizesAndPausesEqualMembersTrainedAlone) {
  const bool fast = std::get<0>(GetParam());
  if (fast && !oneclass::nn::cpu_fast_path_available()) GTEST_SKIP() << "built without CBLAS";
  const std::vector<uint64_t> seeds{21, 22, 23};
  MlpStack stacked = make_stack(3, seeds, fast);
  std::vector<MlpStack> alone;
  for (uint64_t seed : seeds) alone.push_back(make_stack(1, {seed}, fast));
  // rows[step][g]; 0 = member g sits the step out (member 2 stops after step 2).
  const std::vector<std::vector<int64_t>> rows{{4, 4, 4}, {4, 2, 3}, {1, 4, 4}, {4, 3, 0}, {2, 4, 0}};
  torch::manual_seed(4);
  for (const auto& step_rows : rows) {
    std::vector<at::Tensor> xs(3);
    for (int g = 0; g < 3; ++g) {
      if (step_rows[g] > 0) xs[g] = torch::rand({step_rows[g], 12}).mul_(2).sub_(1);
    }
    auto loss = stacked.train_step_mse(xs, xs);
    for (int g = 0; g < 3; ++g) {
      if (!xs[g].defined()) {
        EXPECT_TRUE(std::isnan(loss[g].item<double>()));
        continue;
      }
      auto xg = xs[g].unsqueeze(0);
      EXPECT_NEAR(alone[g].train_step_mse(xg, xg).item<double>(), loss[g].item<double>(), 1e-6);
    }
  }
  // Member 2 equals its copy that took only three steps, so the two pauses left it alone.
  for (int g = 0; g < 3; ++g) {
    const auto a = stacked.parameters(), b = alone[g].parameters();
    for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::allclose(a[i][g], b[i][0], 1e-5, 1e-6)) << "member " << g;
  }
}

INSTANTIATE_TEST_SUITE_P(BothPaths, RaggedStack, ::testing::Combine(::testing::Bool(), ::testing::Values(1, 2)),
                         [](const auto& info) {
                           return std::string(std::get<0>(info.param) ? "FusedCpuKernel" : "LibTorchOps") +
                                  std::to_string(std::get<1>(info.param)) + "Threads";
                         });

TEST(MlpStack, CopyMemberCopiesWeightsAndBiases) {
  MlpStack source = make_stack(2, {31, 32}, true);
  MlpStack target = make_stack(1, {33}, true);
  target.copy_member(0, source, 1);
  const auto a = source.parameters(), b = target.parameters();
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(a[i][1], b[i][0])) << "parameter " << i;
}

TEST(MlpStack, FusedKernelMatchesLibTorchOpsOnSeedShape) {
  if (!oneclass::nn::cpu_fast_path_available()) GTEST_SKIP() << "built without CBLAS";
  const MlpShape seed = oneclass::nn::autoencoder_shape(784, {256, 128}, 64);
  MlpStack fast(seed, 1, c10::Device(c10::kCPU)), ops(seed, 1, c10::Device(c10::kCPU));
  fast.init_like_torch_linear({0});
  ops.init_like_torch_linear({0});
  fast.set_optimizer({3e-4, 0.9, 0.999, 1e-8, 1e-5});
  ops.set_optimizer({3e-4, 0.9, 0.999, 1e-8, 1e-5});
  ops.use_cpu_fast_path(false);
  torch::manual_seed(3);
  for (int step = 0; step < 5; ++step) {
    auto x = torch::rand({1, 16, 784}).mul_(2).sub_(1);
    EXPECT_NEAR(fast.train_step_mse(x, x).item<double>(), ops.train_step_mse(x, x).item<double>(), 1e-6);
  }
  const auto a = fast.parameters(), b = ops.parameters();
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::allclose(a[i], b[i], 1e-4, 1e-6)) << "parameter " << i;
}

}  // namespace
