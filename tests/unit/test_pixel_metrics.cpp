// Pixel AUROC, AUPRO and their region labelling: answers worked out by hand on tiny masks, and
// agreement with an independent implementation (SciPy's ndimage.label, NumPy, scikit-learn,
// following MVTec AD's official evaluation) on random maps; and the Clopper-Pearson interval
// against SciPy's beta quantiles.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <sstream>

#include "oneclass/eval/confidence.h"
#include "oneclass/eval/pixel_metrics.h"
#include "support/python_oracle.h"
#include "support/test_support.h"

namespace oneclass::eval {
namespace {

using testing_support::contains;
using testing_support::error_of;

MapStack row(std::vector<float> maps, std::vector<uint8_t> masks) {
  MapStack s;
  s.count = 1;
  s.height = 1;
  s.width = static_cast<int64_t>(maps.size());
  s.maps = std::move(maps);
  s.masks = std::move(masks);
  return s;
}

TEST(LabelRegions, EightConnectedDiagonalsJoin) {
  std::vector<int32_t> labels;
  const uint8_t diagonal[] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
  EXPECT_EQ(label_regions(diagonal, 3, 3, labels), 1);
  const uint8_t corners[] = {1, 0, 1, 0, 0, 0, 1, 0, 1};
  EXPECT_EQ(label_regions(corners, 3, 3, labels), 4);
  EXPECT_EQ(labels, (std::vector<int32_t>{1, 0, 2, 0, 0, 0, 3, 0, 4}));
  const uint8_t ring[] = {1, 1, 1, 1, 0, 1, 1, 1, 1};  // one region around a hole
  EXPECT_EQ(label_regions(ring, 3, 3, labels), 1);
}

TEST(PixelMetrics, PerfectMapsScoreOne) {
  const auto s = row({4, 3, 2, 1}, {1, 1, 0, 0});
  EXPECT_DOUBLE_EQ(pixel_auroc(s), 1.0);
  EXPECT_DOUBLE_EQ(aupro(s), 1.0);
}

TEST(PixelMetrics, HalfTheRegionFoundFirst) {
  // Sorted: 4 (defect: PRO 1/2), 3 and 2 (defect-free: FPR 1/2, 1), 1 (defect: PRO 1).
  const auto s = row({1, 4, 3, 2}, {1, 1, 0, 0});
  EXPECT_DOUBLE_EQ(pixel_auroc(s), 0.5);
  EXPECT_DOUBLE_EQ(aupro(s), 0.5);
  EXPECT_DOUBLE_EQ(aupro(s, 1.0), 0.5);
}

TEST(PixelMetrics, RegionsCountEquallyWhateverTheirSize) {
  // Regions A = {0} and B = {2, 3, 4}; defect-free pixels 1 and 5. Sorted: 6 (A complete: PRO 1/2),
  // 5 (FPR 1/2), 4 and 3 (B 1/3, 2/3: PRO 2/3, 5/6), 2 (FPR 1), 0 (B complete: PRO 1).
  const auto s = row({6, 5, 4, 3, 0, 2}, {1, 0, 1, 1, 1, 0});
  EXPECT_DOUBLE_EQ(aupro(s), 0.5);
  EXPECT_NEAR(aupro(s, 0.75), (0.5 * 0.5 + 0.25 * 5.0 / 6.0) / 0.75, 1e-15);
  // AUROC counts pixels, not regions: 4 defect pixels x 2 defect-free; 6 beats both, 4 and 3 beat 2.
  EXPECT_DOUBLE_EQ(pixel_auroc(s), 4.0 / 8.0);
}

TEST(PixelMetrics, TiedValuesAreOneThresholdAndTheLimitIsInterpolated) {
  // A tie of a defect-free pixel and a defect pixel at 5: one step from (0, 1/2) to (1/2, 2/3);
  // at FPR 0.3 the curve is at 1/2 + (1/6)(0.3 / 0.5) = 0.6.
  const auto s = row({6, 5, 5, 3, 0, 2}, {1, 0, 1, 1, 1, 0});
  EXPECT_NEAR(aupro(s), 0.5 * (0.6 + 0.5) * 0.3 / 0.3, 1e-15);
}

TEST(PixelMetrics, EachImageIsLabelledOnItsOwn) {
  // Two 1x2 images whose defects would touch if the stack were one image: two regions, not one.
  MapStack s;
  s.count = 2;
  s.height = 1;
  s.width = 2;
  s.maps = {0, 9, 8, 1};     // image 0: defect at x=1 found first; image 1: defect at x=0 second
  s.masks = {0, 1, 1, 0};
  EXPECT_DOUBLE_EQ(aupro(s), 1.0);
  s.maps = {0, 9, 0.5, 1};   // the second region ranks below a defect-free pixel
  EXPECT_DOUBLE_EQ(aupro(s), 0.5);
}

TEST(PixelMetrics, RejectsMasksWithoutBothKindsAndBadInput) {
  EXPECT_TRUE(contains(error_of([] { aupro(row({1, 2}, {0, 0})); }), "need both defect and defect-free"));
  EXPECT_TRUE(contains(error_of([] { pixel_auroc(row({1, 2}, {1, 1})); }), "need both defect and defect-free"));
  EXPECT_TRUE(contains(error_of([] { aupro(row({1, NAN}, {1, 0})); }), "NaN"));
  EXPECT_TRUE(contains(error_of([] { aupro(row({1, 2}, {1, 0}), 0.0); }), "(0, 1]"));
  auto bad = row({1, 2}, {1, 0});
  bad.masks.pop_back();
  EXPECT_TRUE(contains(error_of([&] { aupro(bad); }), "one map and one mask per image"));
}

// Random blob masks and noisy maps, some rounded so that values tie.
std::vector<MapStack> random_stacks() {
  std::mt19937 rng(7);
  std::normal_distribution<float> noise(0, 1);
  std::uniform_int_distribution<int> coordinate(0, 23), radius(1, 5), blobs(0, 3);
  std::vector<MapStack> stacks;
  for (int k = 0; k < 6; ++k) {
    MapStack s;
    s.count = 4;
    s.height = 24;
    s.width = 24;
    s.masks.assign(4 * 24 * 24, 0);
    for (int i = 0; i < 4; ++i) {
      for (int b = blobs(rng); b > 0; --b) {
        const int cy = coordinate(rng), cx = coordinate(rng), r = radius(rng);
        for (int y = 0; y < 24; ++y) {
          for (int x = 0; x < 24; ++x) {
            if ((y - cy) * (y - cy) + (x - cx) * (x - cx) <= r * r) s.masks[(i * 24 + y) * 24 + x] = 1;
          }
        }
      }
    }
    s.masks[5] = 1;  // at least one defect pixel in every stack
    for (uint8_t m : s.masks) {
      const float v = noise(rng) + 1.5f * m;
      s.maps.push_back(k % 2 == 0 ? std::round(v * 4) / 4 : v);
    }
    stacks.push_back(std::move(s));
  }
  return stacks;
}

const char* const kPixelOracle = R"PY(
import sys
import numpy as np
from scipy.ndimage import label
from sklearn.metrics import roc_auc_score
tok = open(sys.argv[1]).read().split()
pos = 0
def take(n):
    global pos
    out = tok[pos:pos + n]; pos += n
    return out
while pos < len(tok):
    n, h, w = (int(t) for t in take(3))
    maps = np.array([float(t) for t in take(n * h * w)]).reshape(n, h, w)
    masks = np.array([int(t) for t in take(n * h * w)]).reshape(n, h, w)
    fp_changes = np.zeros(maps.shape); pro_changes = np.zeros(maps.shape)
    ok_pixels = 0; regions = 0
    for i in range(n):
        labelled, count = label(masks[i], np.ones((3, 3), dtype=int))
        regions += count
        ok = labelled == 0
        ok_pixels += ok.sum(); fp_changes[i][ok] = 1
        for r in range(1, count + 1):
            region = labelled == r
            pro_changes[i][region] = 1.0 / region.sum()
    flat = maps.ravel(); order = np.argsort(flat, kind='stable')[::-1]
    flat = flat[order]
    fprs = np.cumsum(fp_changes.ravel()[order]) / ok_pixels
    pros = np.cumsum(pro_changes.ravel()[order]) / regions
    keep = np.append(np.diff(flat) != 0, True)
    fprs = np.concatenate(([0.0], np.clip(fprs[keep], None, 1.0), [1.0]))
    pros = np.concatenate(([0.0], np.clip(pros[keep], None, 1.0), [1.0]))
    x_max = 0.3
    correction = 0.0
    if x_max not in fprs:
        i = np.searchsorted(fprs, x_max, side='right')
        y = pros[i - 1] + (pros[i] - pros[i - 1]) * (x_max - fprs[i - 1]) / (fprs[i] - fprs[i - 1])
        correction = 0.5 * (y + pros[i - 1]) * (x_max - fprs[i - 1])
    m = fprs <= x_max
    area = np.sum(0.5 * (pros[m][1:] + pros[m][:-1]) * (fprs[m][1:] - fprs[m][:-1])) + correction
    print(repr(float(roc_auc_score(masks.ravel(), maps.ravel()))), repr(float(area / x_max)))
)PY";

TEST(PixelMetricsOracle, AgreesWithScipyAndTheOfficialDefinition) {
  ONECLASS_REQUIRE_PYTHON_MODULE("scipy.ndimage, sklearn.metrics", "python3-scipy python3-sklearn");
  const auto stacks = random_stacks();
  std::ostringstream input;
  input.precision(9);  // 9 significant digits round-trip every float
  for (const auto& s : stacks) {
    input << s.count << ' ' << s.height << ' ' << s.width << '\n';
    for (float v : s.maps) input << v << ' ';
    input << '\n';
    for (uint8_t m : s.masks) input << int(m) << ' ';
    input << '\n';
  }
  std::istringstream answers(testing_support::run_python_oracle(kPixelOracle, input.str()));
  for (size_t k = 0; k < stacks.size(); ++k) {
    double want_auroc = 0, want_aupro = 0;
    ASSERT_TRUE(answers >> want_auroc >> want_aupro) << "oracle output ended at stack " << k;
    EXPECT_NEAR(pixel_auroc(stacks[k]), want_auroc, 1e-9) << "stack " << k;
    EXPECT_NEAR(aupro(stacks[k]), want_aupro, 1e-9) << "stack " << k;
  }
}

TEST(ClopperPearson, ZeroOfThirtyAndTheEdges) {
  const Interval none = clopper_pearson(0, 30);
  EXPECT_EQ(none.low, 0.0);
  EXPECT_NEAR(none.high, 1.0 - std::pow(0.025, 1.0 / 30), 1e-12);  // closed form when k = 0
  const Interval all = clopper_pearson(30, 30);
  EXPECT_NEAR(all.low, std::pow(0.025, 1.0 / 30), 1e-12);
  EXPECT_EQ(all.high, 1.0);
  EXPECT_TRUE(contains(error_of([] { clopper_pearson(3, 2); }), "successes <= trials"));
}

TEST(ClopperPearsonOracle, AgreesWithScipyBetaQuantiles) {
  ONECLASS_REQUIRE_PYTHON_MODULE("scipy.stats", "python3-scipy");
  const std::vector<std::pair<long, long>> cases{{1, 30}, {3, 30}, {5, 500}, {17, 40}, {0, 7}, {250, 1000}, {1, 2}};
  std::ostringstream input;
  for (const auto& [k, n] : cases) input << k << ' ' << n << '\n';
  const char* script = R"PY(
import sys
from scipy.stats import beta
for line in open(sys.argv[1]):
    k, n = (int(t) for t in line.split())
    lo = 0.0 if k == 0 else beta.ppf(0.025, k, n - k + 1)
    hi = 1.0 if k == n else beta.ppf(0.975, k + 1, n - k)
    print(repr(float(lo)), repr(float(hi)))
)PY";
  std::istringstream answers(testing_support::run_python_oracle(script, input.str()));
  for (const auto& [k, n] : cases) {
    double low = 0, high = 0;
    ASSERT_TRUE(answers >> low >> high);
    const Interval interval = clopper_pearson(k, n);
    EXPECT_NEAR(interval.low, low, 1e-10) << k << " of " << n;
    EXPECT_NEAR(interval.high, high, 1e-10) << k << " of " << n;
  }
}

}  // namespace
}  // namespace oneclass::eval
