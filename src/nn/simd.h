#pragma once
// What the CPU kernels of src/nn share: vectors of 8 floats in GCC's vector extensions (the
// compiler emits whatever instructions the target has), and the attribute that compiles a kernel
// for AVX-512 and AVX2 (with FMA) as well as the baseline, the loader picking the best the CPU has.
// Helpers called from such a kernel are always inlined, so that they are compiled for its target;
// no vector crosses a function boundary, so GCC's warning that such a crossing's ABI differs
// between targets (-Wpsabi) is silenced for the files that include this one.
#include <cstdint>
#include <cstring>

#define ONECLASS_INLINE inline __attribute__((always_inline))
// The x86-64 levels as clone targets need GCC 12 (Debian 12's); older compilers build the
// baseline only.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#define ONECLASS_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define ONECLASS_CLONES
#endif

#pragma GCC diagnostic ignored "-Wpsabi"

namespace oneclass::nn::simd {

constexpr int64_t kLanes = 8;
using Vec = float __attribute__((vector_size(kLanes * sizeof(float))));
using Lanes = int32_t __attribute__((vector_size(kLanes * sizeof(int32_t))));

ONECLASS_INLINE Vec load(const float* p) {
  Vec v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

ONECLASS_INLINE void store(float* p, const Vec& v) { std::memcpy(p, &v, sizeof v); }

/// Stores the first `count` (at most kLanes) lanes of v.
ONECLASS_INLINE void store_first(float* p, const Vec& v, int64_t count) {
  if (count == kLanes) {
    store(p, v);
  } else {
    float lanes[kLanes];
    std::memcpy(lanes, &v, sizeof v);
    std::memcpy(p, lanes, count * sizeof(float));
  }
}

/// Lanes of the 16-lane concatenation a:b, picked by constant indices (GCC's and Clang's builtins
/// differ).
#if defined(__clang__)
#define ONECLASS_SHUFFLE(a, b, ...) __builtin_shufflevector(a, b, __VA_ARGS__)
#else
#define ONECLASS_SHUFFLE(a, b, ...) __builtin_shuffle(a, b, Lanes{__VA_ARGS__})
#endif
ONECLASS_INLINE Vec even_lanes(const Vec& a, const Vec& b) { return ONECLASS_SHUFFLE(a, b, 0, 2, 4, 6, 8, 10, 12, 14); }
ONECLASS_INLINE Vec odd_lanes(const Vec& a, const Vec& b) { return ONECLASS_SHUFFLE(a, b, 1, 3, 5, 7, 9, 11, 13, 15); }
/// a0 b0 a1 b1 a2 b2 a3 b3, and the same of lanes 4-7.
ONECLASS_INLINE Vec interleave_low(const Vec& a, const Vec& b) { return ONECLASS_SHUFFLE(a, b, 0, 8, 1, 9, 2, 10, 3, 11); }
ONECLASS_INLINE Vec interleave_high(const Vec& a, const Vec& b) { return ONECLASS_SHUFFLE(a, b, 4, 12, 5, 13, 6, 14, 7, 15); }

/// Copies n floats. Rows of a small image are too short for a call to memcpy to pay.
ONECLASS_INLINE void copy(float* to, const float* from, int64_t n) {
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) store(to + i, load(from + i));
  for (; i < n; ++i) to[i] = from[i];
}

}  // namespace oneclass::nn::simd
