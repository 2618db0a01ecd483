#pragma once
// The named random streams of an experiment. Each purpose draws from a generator of its own,
// seeded with the experiment's seed plus the stream's number, so that one purpose's draws never
// shift another's (drawing labelled anomalies leaves the normal split and the batch order as they
// were). The numbers are part of every result: changing one changes the results that use it.
// Seeds are offset, not hashed: stream k of seed s starts where stream 0 of seed s + k does; the
// purposes differ, so this couples nothing a result depends on.
// Two draws start from the seed itself rather than from a stream, and keep doing so because their
// results are published: the initial weights (built while the global generator runs from the
// seed, neural.cpp and the mlp-ae kernel's init_like_torch_linear) and iforest's trees.
#include <cstdint>

#include <ATen/CPUGeneratorImpl.h>

namespace oneclass {

enum class RandomStream : uint64_t {
  normal_split = 0,       // data/split.cpp: which normal training images are held out
  batch_order = 1,        // train/loop.cpp: the order of the training images in each epoch
  detector = 2,           // detectors/neural.cpp: noise, transformations, sampled batches of a fit
  ensemble_holdout = 3,   // detectors/ensemble.cpp: the normal images held out for standardising
  labeled_anomalies = 4,  // data/split.cpp: which anomaly-class training images are labelled
  kde_bandwidth = 5,      // detectors/kde.cpp: the normal images held out to choose the bandwidth
};

/// A CPU generator for `stream` of the experiment with `seed`.
inline at::Generator random_stream(uint64_t seed, RandomStream stream) {
  return at::make_generator<at::CPUGeneratorImpl>(seed + static_cast<uint64_t>(stream));
}

}  // namespace oneclass
