// Fits a detector from the installed library and scores with it: the package's headers, libraries
// and dependencies are complete.
#include <cstdio>

#include <torch/torch.h>

#include "oneclass/detectors/registry.h"
#include "oneclass/train/loop.h"
#include "oneclass/util/system_info.h"

int main() {
  auto detector = oneclass::make_detector("knn");
  const auto normal = torch::zeros({20, 1, 4, 4});
  oneclass::train::LoopOptions options;
  options.progress = false;
  oneclass::train::fit(*detector, normal, c10::Device(c10::kCPU), options);
  const auto scores = detector->score(torch::cat({torch::zeros({1, 1, 4, 4}), torch::ones({1, 1, 4, 4})}));
  std::printf("%zu detectors; knn scores %.1f %.1f; %s\n", oneclass::detector_registry().size(),
              scores[0].item<double>(), scores[1].item<double>(), oneclass::source_revision());
  return scores[0].item<double>() == 0.0 && scores[1].item<double>() == 4.0 ? 0 : 1;
}
