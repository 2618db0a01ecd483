// The Adam update loop, kept apart from LibTorch so it can be compiled with -fno-math-errno (which
// lets the compiler vectorise sqrt and division) without breaking the shared precompiled header.
#include <cmath>

#include "nn/adam.h"

namespace oneclass::nn {

// The same arithmetic, in the same order, as torch.optim.Adam. Compiled for AVX-512 and AVX2 as
// well as the baseline; the loader picks the best one the CPU has.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
void adam_update_range(float* __restrict p, const float* __restrict g, float* __restrict m, float* __restrict v,
                       int64_t begin, int64_t end, const AdamStepConstants& c) {
  for (int64_t i = begin; i < end; ++i) {
    const float grad = g[i] + c.weight_decay * p[i];
    const float mi = m[i] * c.beta1 + grad * c.one_minus_beta1;
    const float vi = v[i] * c.beta2 + grad * grad * c.one_minus_beta2;
    m[i] = mi;
    v[i] = vi;
    const float denom = std::sqrt(vi) / c.bias_correction2_sqrt + c.eps;
    p[i] -= c.step_size * (mi / denom);
  }
}

}  // namespace oneclass::nn
