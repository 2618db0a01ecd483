// The convolutional networks' own CPU kernels (src/nn/conv.h, lenet_layers.h, batch_norm.h) against
// LibTorch's operations: values and gradients, second derivatives (WGAN-GP's penalty), the same
// results whatever the thread count, and a LeNet autoencoder trained with either.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "nn/batch_norm.h"
#include "nn/conv.h"
#include "nn/lenet.h"
#include "nn/lenet_layers.h"
#include "nn/own_kernels.h"

namespace {

namespace F = torch::nn::functional;
using oneclass::nn::batch_norm;
using oneclass::nn::max_pool2;
using oneclass::nn::same_conv;
using oneclass::nn::upsample2;

// Largest difference relative to the largest value of the reference.
double relative_difference(const at::Tensor& value, const at::Tensor& reference) {
  return (value - reference).abs().max().item<double>() / std::max(1e-12, reference.abs().max().item<double>());
}

// Each test starts with the own kernels on (whatever ONECLASS_LIBTORCH_KERNELS says); the switch
// and the thread count are restored afterwards, whatever the test did.
class OwnKernels : public ::testing::Test {
 protected:
  void SetUp() override { oneclass::nn::set_own_kernels(true); }
  void TearDown() override {
    oneclass::nn::set_own_kernels(own_before_);
    at::set_num_threads(threads_);
  }
  bool own_before_ = oneclass::nn::own_kernels_on(c10::Device(c10::kCPU));
  int threads_ = at::get_num_threads();
};

struct ConvCase {
  int64_t images, in_channels, out_channels, height, width, kernel;
};

TEST_F(OwnKernels, ConvolutionMatchesLibTorchInValueAndGradients) {
  torch::manual_seed(1);
  for (const ConvCase c : std::vector<ConvCase>{{3, 1, 8, 28, 28, 5},
                                                {2, 8, 4, 14, 14, 5},
                                                {5, 8, 1, 28, 28, 5},
                                                {2, 3, 16, 32, 32, 3},
                                                {2, 16, 32, 7, 7, 3},
                                                {1, 3, 8, 64, 60, 5},
                                                {2, 7, 5, 9, 13, 5},
                                                {2, 2, 3, 4, 4, 3},
                                                {9, 6, 6, 1, 1, 5}}) {
    SCOPED_TRACE(c10::str("images ", c.images, " channels ", c.in_channels, "->", c.out_channels, " size ", c.height,
                          "x", c.width, " kernel ", c.kernel));
    const auto x = torch::randn({c.images, c.in_channels, c.height, c.width}).requires_grad_();
    const auto w = (0.2 * torch::randn({c.out_channels, c.in_channels, c.kernel, c.kernel})).requires_grad_();
    ASSERT_TRUE(oneclass::nn::same_conv_uses_direct_kernels(x, w));
    const auto y = same_conv(x, w), expected = at::conv2d(x, w, {}, 1, c.kernel / 2);
    const auto g = torch::randn_like(expected);
    const auto grads = torch::autograd::grad({y}, {x, w}, {g});
    const auto expected_grads = torch::autograd::grad({expected}, {x, w}, {g});
    EXPECT_LT(relative_difference(y, expected), 1e-5);
    EXPECT_LT(relative_difference(grads[0], expected_grads[0]), 1e-5);
    EXPECT_LT(relative_difference(grads[1], expected_grads[1]), 1e-5);
  }
}

TEST_F(OwnKernels, ConvolutionFallsBackToLibTorchWhereItHasNoKernel) {
  const auto x = torch::randn({2, 3, 8, 8}, torch::kDouble);
  const auto w = torch::randn({4, 3, 5, 5}, torch::kDouble);
  EXPECT_FALSE(oneclass::nn::same_conv_uses_direct_kernels(x, w));  // double precision
  EXPECT_TRUE(torch::allclose(same_conv(x, w), at::conv2d(x, w, {}, 1, 2)));
  EXPECT_FALSE(oneclass::nn::same_conv_uses_direct_kernels(x.to(torch::kFloat), torch::randn({4, 3, 7, 7})));
  oneclass::nn::set_own_kernels(false);
  EXPECT_FALSE(oneclass::nn::same_conv_uses_direct_kernels(x.to(torch::kFloat), w.to(torch::kFloat)));
}

// Max pooling, exactly: values, the position of ties (the first, row by row), NaN, odd sizes.
TEST_F(OwnKernels, MaxPoolGivesLibTorchsValuesAndGradientExactly) {
  torch::manual_seed(2);
  for (const auto& sizes : std::vector<std::vector<int64_t>>{{4, 3, 28, 28}, {2, 5, 7, 9}, {3, 2, 32, 40}}) {
    // Few distinct values, so that windows hold ties; a few NaN.
    auto x = torch::randint(0, 4, sizes).to(torch::kFloat);
    x.view(-1).index_put_({torch::randint(0, x.numel(), {5}, torch::kLong)}, std::nanf(""));
    x.requires_grad_();
    const auto y = max_pool2(x), expected = F::max_pool2d(x, F::MaxPool2dFuncOptions(2));
    EXPECT_TRUE(torch::equal(y.nan_to_num(-1), expected.nan_to_num(-1)));
    const auto g = torch::randn_like(expected);
    EXPECT_TRUE(torch::equal(torch::autograd::grad({y}, {x}, {g})[0], torch::autograd::grad({expected}, {x}, {g})[0]));
  }
}

TEST_F(OwnKernels, UpsamplingGivesLibTorchsValuesAndGradient) {
  const auto x = torch::randn({3, 4, 7, 14}).requires_grad_();
  const auto y = upsample2(x);
  const auto expected = F::interpolate(x, F::InterpolateFuncOptions().scale_factor(std::vector<double>{2.0, 2.0}).mode(torch::kNearest));
  EXPECT_TRUE(torch::equal(y, expected));
  const auto g = torch::randn_like(expected);
  EXPECT_LT(relative_difference(torch::autograd::grad({y}, {x}, {g})[0], torch::autograd::grad({expected}, {x}, {g})[0]), 1e-6);
}

torch::nn::BatchNorm2d plain_norm(int64_t channels) {
  return torch::nn::BatchNorm2d(torch::nn::BatchNorm2dOptions(channels).eps(1e-4).affine(false));
}

TEST_F(OwnKernels, BatchNormMatchesLibTorchsModuleInBothModes) {
  torch::manual_seed(3);
  auto ours = plain_norm(6), theirs = plain_norm(6);
  for (int step = 0; step < 3; ++step) {
    // Channels far from zero mean, as after a convolution of unnormalised images.
    const auto x = (torch::randn({5, 6, 14, 10}) * 3 + 40).requires_grad_();
    const auto y = batch_norm(ours, x), expected = theirs(x);
    EXPECT_LT(relative_difference(y, expected), 1e-5);
    const auto g = torch::randn_like(expected);
    EXPECT_LT(relative_difference(torch::autograd::grad({y}, {x}, {g})[0], torch::autograd::grad({expected}, {x}, {g})[0]), 1e-4);
  }
  EXPECT_LT(relative_difference(ours->running_mean, theirs->running_mean), 1e-6);
  EXPECT_LT(relative_difference(ours->running_var, theirs->running_var), 1e-5);
  EXPECT_EQ(ours->num_batches_tracked.item<int64_t>(), 3);
  ours->eval();
  theirs->eval();
  const auto x = (torch::randn({4, 6, 9, 9}) + 40).requires_grad_();
  EXPECT_LT(relative_difference(batch_norm(ours, x), theirs(x)), 1e-5);
  // A gradient through the running statistics: AnoGAN's latent search.
  const auto g = torch::randn_like(x);
  EXPECT_LT(relative_difference(torch::autograd::grad({batch_norm(ours, x)}, {x}, {g})[0],
                                torch::autograd::grad({theirs(x)}, {x}, {g})[0]), 1e-5);
  torch::NoGradGuard no_grad;
  EXPECT_LT(relative_difference(batch_norm(ours, x), theirs(x)), 1e-5);
}

// The penalty of a WGAN-GP critic differentiates the input's gradient again: through every layer.
TEST_F(OwnKernels, SecondDerivativesMatchLibTorchs) {
  torch::manual_seed(4);
  const auto w = (0.2 * torch::randn({4, 2, 5, 5})).requires_grad_();
  const auto penalty_gradient = [&](bool own) {
    oneclass::nn::set_own_kernels(own);
    const auto x = torch::randn({3, 2, 12, 12}, torch::TensorOptions().requires_grad(true));
    auto norm = plain_norm(4);
    const auto critic = upsample2(max_pool2(batch_norm(norm, same_conv(x, w)))).square().sum();
    const auto input_gradient = torch::autograd::grad({critic}, {x}, {}, /*retain_graph=*/true, /*create_graph=*/true)[0];
    return torch::autograd::grad({input_gradient.square().sum()}, {w})[0];
  };
  torch::manual_seed(5);
  const auto ours = penalty_gradient(true);
  torch::manual_seed(5);
  const auto theirs = penalty_gradient(false);
  EXPECT_LT(relative_difference(ours, theirs), 1e-4);
}

// Sums are split by image, not by thread: the same bits on one thread or two.
TEST_F(OwnKernels, GradientsAreTheSameOnOneThreadAsOnTwo) {
  torch::manual_seed(6);
  const auto x = torch::randn({37, 3, 20, 20}).requires_grad_();
  const auto w = torch::randn({8, 3, 5, 5}).requires_grad_();
  const auto gradients = [&](int threads) {
    at::set_num_threads(threads);
    auto norm = plain_norm(8);
    const auto y = max_pool2(batch_norm(norm, same_conv(x, w)));
    return torch::autograd::grad({y.square().sum()}, {x, w});
  };
  const auto one = gradients(1), two = gradients(2);
  EXPECT_TRUE(torch::equal(one[0], two[0]));
  EXPECT_TRUE(torch::equal(one[1], two[1]));
}

// A LeNet autoencoder trained for some steps from the same start with either set of kernels.
TEST_F(OwnKernels, LeNetAutoencoderTrainsAsWithLibTorchsKernels) {
  const oneclass::nn::LeNetShape shape{{1, 28, 28}, /*rep_dim=*/16, /*width=*/8};
  const auto train = [&](bool own) {
    oneclass::nn::set_own_kernels(own);
    torch::manual_seed(7);
    torch::nn::Sequential network{oneclass::nn::LeNetEncoder(shape), oneclass::nn::LeNetDecoder(shape)};
    torch::optim::Adam adam(network->parameters(), torch::optim::AdamOptions(3e-3));
    // Four smooth images to learn: ramps left to right, top to bottom, and back.
    const auto ramp = torch::linspace(0, 1, 28);
    const auto across = ramp.view({1, 28}).expand({28, 28}), down = ramp.view({28, 1}).expand({28, 28});
    const auto images = torch::stack({across, down, 1 - across, 1 - down}).unsqueeze(1).repeat({16, 1, 1, 1});
    std::vector<double> losses;
    for (int step = 0; step < 20; ++step) {
      adam.zero_grad();
      auto loss = (torch::sigmoid(network->forward(images)) - images).square().mean();
      loss.backward();
      adam.step();
      losses.push_back(loss.item<double>());
    }
    return losses;
  };
  const auto ours = train(true), theirs = train(false);
  EXPECT_LT(ours.back(), 0.8 * ours.front());  // it learns
  for (size_t step = 0; step < ours.size(); ++step) EXPECT_NEAR(ours[step], theirs[step], 1e-4 * theirs[step]) << step;
}

}  // namespace
