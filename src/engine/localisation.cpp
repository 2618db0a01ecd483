#include "oneclass/engine/localisation.h"

#include <torch/torch.h>

#include "oneclass/data/split.h"
#include "oneclass/detectors/detector.h"
#include "oneclass/error.h"
#include "oneclass/eval/pixel_metrics.h"

namespace oneclass {
namespace {

constexpr int64_t kMapBatch = 32;  // bounds the memory of the maps' intermediate tensors

nlohmann::json without_pixel_metrics(const std::string& why) {
  return {{"pixel_auroc", nullptr}, {"aupro", nullptr}, {"pixel_metric_images", 0}, {"pixel_metrics_note", why}};
}

}  // namespace

nlohmann::json pixel_metrics(Detector& detector, const data::OneClassSplit& split) {
  if (!split.test_masks.defined()) return without_pixel_metrics("the data set has no defect masks");
  const auto rows = split.test_mask_known.nonzero().squeeze(1);
  if (rows.numel() == 0) return without_pixel_metrics("no test image has a known mask");
  const int64_t height = split.test_masks.size(1), width = split.test_masks.size(2);
  eval::MapStack stack;
  stack.count = rows.numel();
  stack.height = height;
  stack.width = width;
  stack.maps.reserve(static_cast<size_t>(stack.count * height * width));
  torch::NoGradGuard no_grad;
  for (int64_t first = 0; first < rows.numel(); first += kMapBatch) {
    const auto batch_rows = rows.narrow(0, first, std::min(kMapBatch, rows.numel() - first));
    auto maps = detector.anomaly_map(split.test.index_select(0, batch_rows).to(detector.device()));
    if (!maps) return without_pixel_metrics(detector.name() + " gives no anomaly maps");
    at::Tensor m = maps->to(torch::kCPU, torch::kFloat);
    if (m.size(1) != height || m.size(2) != width) {
      m = torch::nn::functional::interpolate(
              m.unsqueeze(1), torch::nn::functional::InterpolateFuncOptions()
                                  .size(std::vector<int64_t>{height, width})
                                  .mode(torch::kBilinear)
                                  .align_corners(false))
              .squeeze(1);
    }
    m = m.contiguous();
    stack.maps.insert(stack.maps.end(), m.data_ptr<float>(), m.data_ptr<float>() + m.numel());
  }
  const auto masks = split.test_masks.index_select(0, rows).contiguous();
  if (masks.sum().item<int64_t>() == 0) return without_pixel_metrics("the known masks hold no defect pixel");
  stack.masks.assign(masks.data_ptr<uint8_t>(), masks.data_ptr<uint8_t>() + masks.numel());
  try {
    return {{"pixel_auroc", eval::pixel_auroc(stack)},
            {"aupro", eval::aupro(stack, 0.3)},
            {"pixel_metric_images", stack.count},
            {"pixel_metrics_note", ""}};
  } catch (const Error& e) {  // e.g. NaN in a map: the trained run is still written
    return without_pixel_metrics(e.what());
  }
}

}  // namespace oneclass
