#pragma once
// Where the defect is: the detector's anomaly maps against the test set's defect masks.
#include <nlohmann/json.hpp>

namespace oneclass {

class Detector;
namespace data {
struct OneClassSplit;
}

/// {"pixel_auroc", "aupro" (up to 30 % FPR), "pixel_metric_images"} over the test images whose
/// mask is known (defect-free ones count with empty masks), maps upsampled to the mask size where
/// they differ. Without masks in the split, or maps from the detector, the two metrics are null and
/// "pixel_metrics_note" says why.
nlohmann::json pixel_metrics(Detector& detector, const data::OneClassSplit& split);

}  // namespace oneclass
