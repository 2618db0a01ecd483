// The direct convolution kernels of conv_kernel.h. Each output row is computed in vectors of 8
// columns; a tile of 4 output channels x 3 vectors, or of up to 3 channels x 4 vectors (12
// accumulators at most), stays in registers while the input rows stream past, so each input
// vector loaded feeds up to 4 multiply-adds and each weight up to 4.
// The input is first copied into a zero-padded buffer whose rows are long enough for whole
// vectors, so the inner loops have no edge cases. Compiled for several targets (simd.h).
#include "nn/conv_kernel.h"

#include <algorithm>
#include <cstring>

#include "nn/simd.h"

namespace oneclass::nn::conv_kernel {
namespace {

using simd::kLanes;
using simd::load;
using simd::Vec;

ONECLASS_INLINE float lane_sum(Vec v) {
  float sum = 0;
  for (int64_t i = 0; i < kLanes; ++i) sum += v[i];
  return sum;
}

int64_t vectors_per_row(int64_t width) { return (width + kLanes - 1) / kLanes; }

// The zero-padded copy of one image: K / 2 rows and columns of zeros before it, and enough after
// it that a vector starting at any output column, shifted by up to K - 1, stays inside.
struct Padded {
  int64_t rows, stride, plane;
  explicit Padded(const ConvShape& s)
      : rows(s.height + s.kernel - 1), stride(vectors_per_row(s.width) * kLanes + 2 * kLanes), plane(rows * stride) {}
};

// The output gradient with each row zero-filled to whole vectors, so that the weight gradient's
// vector loops add nothing for the columns past the image.
int64_t padded_row_length(const ConvShape& s) { return vectors_per_row(s.width) * kLanes; }

ONECLASS_CLONES void pad_image(const float* x, int64_t channels, const ConvShape& s, float* padded) {
  const Padded p(s);
  const int64_t margin = s.kernel / 2;
  std::fill(padded, padded + channels * p.plane, 0.0f);
  for (int64_t c = 0; c < channels; ++c) {
    for (int64_t y = 0; y < s.height; ++y) {
      simd::copy(padded + c * p.plane + (y + margin) * p.stride + margin, x + (c * s.height + y) * s.width, s.width);
    }
  }
}

// Rows of `width` floats to rows of `row_length`, zero-filled after the values.
ONECLASS_CLONES void pad_rows(const float* rows, int64_t count, int64_t width, int64_t row_length, float* padded) {
  for (int64_t row = 0; row < count; ++row) {
    float* out = padded + row * row_length;
    simd::copy(out, rows + row * width, width);
    for (int64_t i = width; i < row_length; ++i) out[i] = 0.0f;
  }
}

// Output channels [co0, co0 + CB) x columns [x0, x0 + XB vectors) of output row `row`.
template <int K, int CB, int XB>
ONECLASS_INLINE void forward_tile(const float* padded, const float* w, float* y_out, const ConvShape& s, int64_t co0,
                                  int64_t row, int64_t x0) {
  const Padded p(s);
  Vec acc[CB][XB] = {};
  for (int64_t ci = 0; ci < s.in_channels; ++ci) {
    const float* filters = w + (co0 * s.in_channels + ci) * K * K;
    const int64_t filter_stride = s.in_channels * K * K;  // from one output channel's filter to the next
    for (int ky = 0; ky < K; ++ky) {
      const float* in_row = padded + ci * p.plane + (row + ky) * p.stride + x0;
      for (int kx = 0; kx < K; ++kx) {
        Vec in[XB];
        for (int xb = 0; xb < XB; ++xb) in[xb] = load(in_row + xb * kLanes + kx);
        for (int cb = 0; cb < CB; ++cb) {
          const float weight = filters[cb * filter_stride + ky * K + kx];
          for (int xb = 0; xb < XB; ++xb) acc[cb][xb] += in[xb] * weight;
        }
      }
    }
  }
  for (int cb = 0; cb < CB; ++cb) {
    float* out_row = y_out + ((co0 + cb) * s.height + row) * s.width;
    for (int xb = 0; xb < XB; ++xb) {
      const int64_t column = x0 + xb * kLanes;
      simd::store_first(out_row + column, acc[cb][xb], std::min(kLanes, s.width - column));
    }
  }
}

template <int K, int CB>
ONECLASS_INLINE void forward_tile_cb(int xb, const float* padded, const float* w, float* y, const ConvShape& s,
                                     int64_t co0, int64_t row, int64_t x0) {
  switch (xb) {
    case 1: return forward_tile<K, CB, 1>(padded, w, y, s, co0, row, x0);
    case 2: return forward_tile<K, CB, 2>(padded, w, y, s, co0, row, x0);
    case 3: return forward_tile<K, CB, 3>(padded, w, y, s, co0, row, x0);
    default: return forward_tile<K, CB, 4>(padded, w, y, s, co0, row, x0);
  }
}

// Tiles: 4 output channels x 3 vectors (12 accumulators), or fewer channels x 4 vectors; the
// vectors of a row are split into blocks as even as possible (a 28-wide row: 2 + 2, not 3 + 1).
template <int K>
ONECLASS_INLINE void forward_k(const float* padded, const float* w, float* y, const ConvShape& s) {
  const int64_t vectors = vectors_per_row(s.width);
  for (int64_t row = 0; row < s.height; ++row) {
    for (int64_t co0 = 0; co0 < s.out_channels; co0 += 4) {
      const int cb = static_cast<int>(std::min<int64_t>(4, s.out_channels - co0));
      const int64_t most = cb == 4 ? 3 : 4;
      const int64_t blocks = (vectors + most - 1) / most;
      for (int64_t block = 0, v0 = 0; block < blocks; ++block) {
        const int xb = static_cast<int>((vectors - v0) / (blocks - block));
        const int64_t x0 = v0 * kLanes;
        switch (cb) {
          case 1: forward_tile_cb<K, 1>(xb, padded, w, y, s, co0, row, x0); break;
          case 2: forward_tile_cb<K, 2>(xb, padded, w, y, s, co0, row, x0); break;
          case 3: forward_tile_cb<K, 3>(xb, padded, w, y, s, co0, row, x0); break;
          default: forward_tile_cb<K, 4>(xb, padded, w, y, s, co0, row, x0); break;
        }
        v0 += xb;
      }
    }
  }
}

ONECLASS_CLONES void forward_padded(const float* padded, const float* w, float* y, const ConvShape& s) {
  if (s.kernel == 3) {
    forward_k<3>(padded, w, y, s);
  } else {
    forward_k<5>(padded, w, y, s);
  }
}

// Filter taps [.][ky][0, K) of output channels [co0, co0 + CB) for input channel ci, summed over
// the rows and columns of one image.
template <int K, int CB>
ONECLASS_INLINE void weight_grad_tile(const float* padded, const float* dy_padded, float* dw, const ConvShape& s,
                                      int64_t ci, int64_t co0, int ky) {
  const Padded p(s);
  const int64_t row_length = padded_row_length(s), vectors = vectors_per_row(s.width);
  Vec acc[CB][K] = {};
  for (int64_t row = 0; row < s.height; ++row) {
    const float* in_row = padded + ci * p.plane + (row + ky) * p.stride;
    const float* grad_row = dy_padded + (co0 * s.height + row) * row_length;
    for (int64_t v = 0; v < vectors; ++v) {
      Vec grad[CB];
      for (int cb = 0; cb < CB; ++cb) grad[cb] = load(grad_row + cb * s.height * row_length + v * kLanes);
      for (int kx = 0; kx < K; ++kx) {
        const Vec in = load(in_row + v * kLanes + kx);
        for (int cb = 0; cb < CB; ++cb) acc[cb][kx] += grad[cb] * in;
      }
    }
  }
  for (int cb = 0; cb < CB; ++cb) {
    for (int kx = 0; kx < K; ++kx) dw[((co0 + cb) * s.in_channels + ci) * K * K + ky * K + kx] += lane_sum(acc[cb][kx]);
  }
}

// Two output channels at a time for 5x5 filters (10 accumulators), three for 3x3 (9).
template <int K>
ONECLASS_INLINE void weight_grad_k(const float* padded, const float* dy_padded, float* dw, const ConvShape& s) {
  constexpr int64_t kChannels = K == 5 ? 2 : 3;
  for (int64_t ci = 0; ci < s.in_channels; ++ci) {
    for (int64_t co0 = 0; co0 < s.out_channels; co0 += kChannels) {
      const int64_t cb = std::min(kChannels, s.out_channels - co0);
      for (int ky = 0; ky < K; ++ky) {
        if (cb == 3) {
          weight_grad_tile<K, 3>(padded, dy_padded, dw, s, ci, co0, ky);
        } else if (cb == 2) {
          weight_grad_tile<K, 2>(padded, dy_padded, dw, s, ci, co0, ky);
        } else {
          weight_grad_tile<K, 1>(padded, dy_padded, dw, s, ci, co0, ky);
        }
      }
    }
  }
}

ONECLASS_CLONES void weight_grad_padded(const float* padded, const float* dy_padded, float* dw, const ConvShape& s) {
  if (s.kernel == 3) {
    weight_grad_k<3>(padded, dy_padded, dw, s);
  } else {
    weight_grad_k<5>(padded, dy_padded, dw, s);
  }
}

}  // namespace

size_t scratch_floats(const ConvShape& s) {
  const Padded p(s);
  return static_cast<size_t>(s.in_channels * p.plane + s.out_channels * s.height * padded_row_length(s));
}

void forward_image(const float* x, const float* w, float* y, const ConvShape& s, float* scratch) {
  pad_image(x, s.in_channels, s, scratch);
  forward_padded(scratch, w, y, s);
}

void weight_grad_image(const float* x, const float* dy, float* dw, const ConvShape& s, float* scratch) {
  pad_image(x, s.in_channels, s, scratch);
  float* dy_padded = scratch + s.in_channels * Padded(s).plane;
  pad_rows(dy, s.out_channels * s.height, s.width, padded_row_length(s), dy_padded);
  weight_grad_padded(scratch, dy_padded, dw, s);
}

void flip_weights(const float* w, float* flipped, const ConvShape& s) {
  const int64_t k = s.kernel, taps = k * k;
  for (int64_t co = 0; co < s.out_channels; ++co) {
    for (int64_t ci = 0; ci < s.in_channels; ++ci) {
      const float* from = w + (co * s.in_channels + ci) * taps;
      float* to = flipped + (ci * s.out_channels + co) * taps;
      for (int64_t t = 0; t < taps; ++t) to[taps - 1 - t] = from[t];
    }
  }
}

}  // namespace oneclass::nn::conv_kernel
