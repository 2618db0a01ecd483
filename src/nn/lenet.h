#pragma once
// A LeNet-type convolutional encoder and decoder after Deep SVDD's (Ruff et al. 2018; their decoder
// starts from a reshaped code and uses transposed convolutions, this one a linear layer), shared by the
// convolutional detectors (conv-ae, arnet, memae, vae, deep-svdd, deep-sad).
//   encoder: conv5x5(width) -> BN -> LeakyReLU -> maxpool2 -> conv5x5(width/2) -> BN -> LeakyReLU
//            -> maxpool2 [-> conv5x5 -> BN -> LeakyReLU -> maxpool2, per extra stage] -> linear to rep_dim
//   decoder: linear -> LeakyReLU [-> upsample2 -> conv5x5 -> BN -> LeakyReLU, per extra stage]
//            -> upsample2 -> conv5x5(width) -> BN -> LeakyReLU -> upsample2 -> conv5x5(C), giving
//            logits (the caller applies a sigmoid)
// The network grows with the image: LeNet's two stages take 28x28 to 7x7; a larger image gets one
// more stage while the map left is even and larger than 8x8 on both sides, so 64x64 ends at 8x8
// after 3 stages and 256x256 after 5. Extra stages double the channels (width/2 -> width -> ...),
// up to 4 width. Without them a 256x256 image would reach the code through a 64x64 map (a linear
// layer of 16,384 inputs per code unit) seen by 5x5 filters that cover a few pixels of it.
// No layer has a bias and batch norms have no affine part: Deep SVDD needs a bias-free network,
// or it can map every image to its centre by a constant. Height and width must be multiples of 4.
#include <cstdint>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

namespace oneclass::nn {

struct LeNetShape {
  std::vector<int64_t> input;  // [C, H, W]
  int64_t rep_dim = 32;        // code size
  int64_t width = 8;           // channels of the first convolution (the second has width / 2)
  bool batch_norm = true;      // false: no batch norms (a WGAN-GP critic, whose penalty is per image)
};

/// Channels after each pooling stage for an input [C, H, W]: width, width / 2, then one entry per
/// extra stage (see the top of this file); its size is the number of stages.
std::vector<int64_t> lenet_stage_channels(const LeNetShape& shape);

/// Throws Error naming `detector` when the input shape does not suit the LeNet layers.
void check_lenet_shape(const std::string& detector, const LeNetShape& shape);
/// The checked shape for `input` [C, H, W] from a detector's options rep_dim and width.
LeNetShape lenet_shape(const std::string& detector, const std::vector<int64_t>& input, const nlohmann::json& options);

class LeNetEncoderImpl : public torch::nn::Module {
 public:
  explicit LeNetEncoderImpl(const LeNetShape& shape);
  at::Tensor forward(const at::Tensor& x);  // [N, C, H, W] -> [N, rep_dim]

 private:
  torch::nn::Conv2d conv1_{nullptr}, conv2_{nullptr};
  torch::nn::BatchNorm2d norm1_{nullptr}, norm2_{nullptr};
  std::vector<torch::nn::Conv2d> extra_convs_;  // stages 3, 4, ... (registered as conv3, norm3, ...)
  std::vector<torch::nn::BatchNorm2d> extra_norms_;
  torch::nn::Linear code_{nullptr};
};
TORCH_MODULE(LeNetEncoder);

class LeNetDecoderImpl : public torch::nn::Module {
 public:
  explicit LeNetDecoderImpl(const LeNetShape& shape);
  at::Tensor forward(const at::Tensor& code);  // [N, rep_dim] -> logits [N, C, H, W]

 private:
  std::vector<int64_t> code_map_;  // [channels, height, width] the code is expanded to
  torch::nn::Linear expand_{nullptr};
  std::vector<torch::nn::Conv2d> extra_convs_;  // the extra stages, deepest first (conv5, conv4, conv3 at 256)
  std::vector<torch::nn::BatchNorm2d> extra_norms_;
  torch::nn::Conv2d conv1_{nullptr}, conv2_{nullptr};
  torch::nn::BatchNorm2d norm1_{nullptr};
};
TORCH_MODULE(LeNetDecoder);

}  // namespace oneclass::nn
