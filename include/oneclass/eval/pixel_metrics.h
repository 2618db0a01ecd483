#pragma once
// Localisation metrics on anomaly maps against defect masks, as MVTec AD's official evaluation
// defines them. Maps and masks are stacked images, row-major: element (i, y, x) at
// (i * height + y) * width + x. Mask values: 0 = defect-free, anything else = defect.
#include <cstdint>
#include <vector>

namespace oneclass::eval {

struct MapStack {
  int64_t count = 0, height = 0, width = 0;
  std::vector<float> maps;      // anomaly maps, higher = more anomalous
  std::vector<uint8_t> masks;   // ground truth, same layout
};

/// Labels the 8-connected defect regions of one mask (height x width): 0 for defect-free pixels,
/// 1..count for the regions, numbered in raster order of their first pixel. Returns the count.
int32_t label_regions(const uint8_t* mask, int64_t height, int64_t width, std::vector<int32_t>& labels);

/// ROC AUC over all pixels of the stack (defect pixels positive), ties as scikit-learn counts them.
/// Throws Error unless there is at least one defect and one defect-free pixel, or on NaN.
double pixel_auroc(const MapStack& stack);

/// The area under the per-region-overlap (PRO) curve up to `max_fpr`, divided by `max_fpr`:
/// at each threshold, PRO is the mean over all defect regions of the stack (8-connected, each mask
/// labelled on its own) of the share of the region's pixels above the threshold, and the FPR is
/// the share of all defect-free pixels above it. Equal map values form one threshold; the curve
/// runs from (0, 0) to (1, 1), and the trapezoid rule stops at max_fpr with the end point
/// interpolated. Throws Error as pixel_auroc does, or for max_fpr outside (0, 1].
double aupro(const MapStack& stack, double max_fpr = 0.3);

}  // namespace oneclass::eval
