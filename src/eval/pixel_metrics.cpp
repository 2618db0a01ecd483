// Pixel-level metrics; see include/oneclass/eval/pixel_metrics.h. Both walk the pixels once in
// descending map order, one step per distinct value, like the image-level metrics in metrics.cpp.
#include "oneclass/eval/pixel_metrics.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "oneclass/error.h"

namespace oneclass::eval {
namespace {

void check_stack(const char* fn, const MapStack& s) {
  const auto expected = static_cast<size_t>(s.count * s.height * s.width);
  if (s.count < 0 || s.height < 0 || s.width < 0 || s.maps.size() != expected || s.masks.size() != expected) {
    throw Error(std::string(fn) + ": " + std::to_string(s.maps.size()) + " map values and " +
                std::to_string(s.masks.size()) + " mask values for " + std::to_string(s.count) + " images of " +
                std::to_string(s.height) + "x" + std::to_string(s.width) + "; give one map and one mask per image");
  }
  if (expected >= (size_t{1} << 32)) {
    throw Error(std::string(fn) + ": " + std::to_string(expected) + " pixels are more than 2^32; evaluate fewer or "
                "smaller maps at a time");
  }
  for (size_t i = 0; i < s.maps.size(); ++i) {
    if (std::isnan(s.maps[i])) {
      throw Error(std::string(fn) + ": anomaly map value " + std::to_string(i) + " is NaN; fix the detector's maps");
    }
  }
  const auto defects = std::count_if(s.masks.begin(), s.masks.end(), [](uint8_t m) { return m != 0; });
  if (defects == 0 || defects == static_cast<std::ptrdiff_t>(s.masks.size())) {
    throw Error(std::string(fn) + ": the masks hold " + std::to_string(defects) + " defect pixels of " +
                std::to_string(s.masks.size()) + "; need both defect and defect-free pixels");
  }
}

// Pixel indices, highest map value first.
std::vector<uint32_t> descending_order(const std::vector<float>& maps) {
  std::vector<uint32_t> order(maps.size());
  std::iota(order.begin(), order.end(), 0u);
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return maps[a] > maps[b]; });
  return order;
}

// Calls step(first, end) for each run of equal values in `order`.
template <typename Step>
void for_each_tie_group(const std::vector<float>& maps, const std::vector<uint32_t>& order, Step step) {
  for (size_t first = 0; first < order.size();) {
    size_t end = first + 1;
    while (end < order.size() && maps[order[end]] == maps[order[first]]) ++end;
    step(first, end);
    first = end;
  }
}

// The trapezoid rule over (x, y) points with ascending x, stopping at x_max (interpolated).
double area_up_to(const std::vector<double>& x, const std::vector<double>& y, double x_max) {
  double area = 0;
  for (size_t i = 1; i < x.size(); ++i) {
    if (x[i - 1] >= x_max) break;
    if (x[i] <= x_max) {
      area += 0.5 * (y[i] + y[i - 1]) * (x[i] - x[i - 1]);
    } else {
      const double y_end = y[i - 1] + (y[i] - y[i - 1]) * (x_max - x[i - 1]) / (x[i] - x[i - 1]);
      area += 0.5 * (y_end + y[i - 1]) * (x_max - x[i - 1]);
      break;
    }
  }
  return area;
}

}  // namespace

int32_t label_regions(const uint8_t* mask, int64_t height, int64_t width, std::vector<int32_t>& labels) {
  labels.assign(static_cast<size_t>(height * width), 0);
  std::vector<int64_t> stack;
  int32_t regions = 0;
  for (int64_t start = 0; start < height * width; ++start) {
    if (mask[start] == 0 || labels[start] != 0) continue;
    labels[start] = ++regions;
    stack.push_back(start);
    while (!stack.empty()) {  // flood fill over the 8 neighbours
      const int64_t p = stack.back();
      stack.pop_back();
      const int64_t py = p / width, px = p % width;
      for (int64_t y = std::max<int64_t>(py - 1, 0); y <= std::min(py + 1, height - 1); ++y) {
        for (int64_t x = std::max<int64_t>(px - 1, 0); x <= std::min(px + 1, width - 1); ++x) {
          const int64_t q = y * width + x;
          if (mask[q] != 0 && labels[q] == 0) {
            labels[q] = regions;
            stack.push_back(q);
          }
        }
      }
    }
  }
  return regions;
}

double pixel_auroc(const MapStack& stack) {
  check_stack("pixel_auroc", stack);
  const auto order = descending_order(stack.maps);
  double positives = 0, negatives = 0;
  for (uint8_t m : stack.masks) (m != 0 ? positives : negatives) += 1;
  // Trapezoids between successive (fp, tp) counts; a tie group is one diagonal step.
  double tp = 0, fp = 0, area = 0;
  for_each_tie_group(stack.maps, order, [&](size_t first, size_t end) {
    double group_tp = 0;
    for (size_t i = first; i < end; ++i) group_tp += stack.masks[order[i]] != 0 ? 1 : 0;
    const double group_fp = static_cast<double>(end - first) - group_tp;
    area += group_fp * (tp + 0.5 * group_tp);
    tp += group_tp;
    fp += group_fp;
  });
  return area / (positives * negatives);
}

double aupro(const MapStack& stack, double max_fpr) {
  check_stack("aupro", stack);
  if (!(max_fpr > 0 && max_fpr <= 1)) {
    throw Error("aupro: the FPR limit must lie in (0, 1], got " + std::to_string(max_fpr) + " (0.3 is the usual one)");
  }
  // Each pixel's contribution when the threshold passes it: 1 to the false positives, or
  // 1 / (its region's size) to the sum of per-region overlaps.
  const int64_t pixels_per_map = stack.height * stack.width;
  std::vector<double> overlap_share(stack.maps.size(), 0.0);
  std::vector<int32_t> labels;
  double regions = 0, defect_free = 0;
  for (int64_t i = 0; i < stack.count; ++i) {
    const int64_t offset = i * pixels_per_map;
    const int32_t count = label_regions(stack.masks.data() + offset, stack.height, stack.width, labels);
    std::vector<int64_t> sizes(static_cast<size_t>(count) + 1, 0);
    for (int32_t label : labels) ++sizes[label];
    for (int64_t p = 0; p < pixels_per_map; ++p) {
      if (labels[p] != 0) overlap_share[offset + p] = 1.0 / static_cast<double>(sizes[labels[p]]);
    }
    regions += count;
    defect_free += static_cast<double>(sizes[0]);
  }
  const auto order = descending_order(stack.maps);
  std::vector<double> fpr{0.0}, pro{0.0};
  double fp = 0, overlap = 0;
  for_each_tie_group(stack.maps, order, [&](size_t first, size_t end) {
    for (size_t i = first; i < end; ++i) {
      const uint32_t p = order[i];
      if (stack.masks[p] == 0) fp += 1;
      overlap += overlap_share[p];
    }
    fpr.push_back(std::min(fp / defect_free, 1.0));
    pro.push_back(std::min(overlap / regions, 1.0));
  });
  fpr.push_back(1.0);
  pro.push_back(1.0);
  return area_up_to(fpr, pro, max_fpr) / max_fpr;
}

}  // namespace oneclass::eval
