// Ranking and operating-point metrics; see include/oneclass/eval/metrics.h.
// auroc, auprc and roc_curve all derive from one sorted pass (descending_steps) so that their
// treatment of tied scores is identical, and identical to scikit-learn's _binary_clf_curve.
#include "oneclass/eval/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <functional>
#include <limits>
#include <numeric>
#include <sstream>
#include <string>

#include "oneclass/error.h"

namespace oneclass::eval {
namespace {

// Counts stay integral until the final division, so results do not depend on summation order.
struct ClassCounts {
  long anomalies = 0;
  long normals = 0;
};

// One entry per distinct score, highest first: how many anomalies (tp) and normals (fp) score
// >= that value. Grouping equal scores into one entry is what makes ties behave like sklearn.
struct Step {
  double score;
  long tp;
  long fp;
};

std::string to_text(double v) {
  std::ostringstream out;
  out.precision(17);
  out << v;
  return out.str();
}

// Rejects anything the metrics cannot give a meaningful answer for. NaN is rejected rather than
// ignored because it would silently break the sort's ordering and shift every rank.
void check_inputs(const char* fn, const std::vector<double>& scores,
                  const std::vector<int>& is_anomaly) {
  if (scores.size() != is_anomaly.size()) {
    throw Error(std::string(fn) + ": scores and is_anomaly differ in size (" +
                std::to_string(scores.size()) + " vs " + std::to_string(is_anomaly.size()) +
                "); pass exactly one label per score");
  }
  for (std::size_t i = 0; i < scores.size(); ++i) {
    if (is_anomaly[i] != 0 && is_anomaly[i] != 1) {
      throw Error(std::string(fn) + ": is_anomaly[" + std::to_string(i) + "] = " +
                  std::to_string(is_anomaly[i]) + "; labels must be 0 (normal) or 1 (anomaly)");
    }
    if (std::isnan(scores[i])) {
      throw Error(std::string(fn) + ": scores[" + std::to_string(i) +
                  "] is NaN; fix or drop that sample before evaluating");
    }
  }
}

ClassCounts count_classes(const std::vector<int>& is_anomaly) {
  ClassCounts c;
  for (int label : is_anomaly) (label == 1 ? c.anomalies : c.normals) += 1;
  return c;
}

// Rates over a class are undefined when the class is absent; say which one is missing.
void require_both_classes(const char* fn, const ClassCounts& c) {
  if (c.anomalies > 0 && c.normals > 0) return;
  throw Error(std::string(fn) + ": need at least one normal and one anomalous score (got " +
              std::to_string(c.normals) + " normals, " + std::to_string(c.anomalies) +
              " anomalies); evaluate on a set containing both classes");
}

// The single O(n log n) sort shared by all ranking metrics.
std::vector<Step> descending_steps(const std::vector<double>& scores,
                                   const std::vector<int>& is_anomaly) {
  std::vector<std::size_t> order(scores.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(),
            [&](std::size_t a, std::size_t b) { return scores[a] > scores[b]; });
  std::vector<Step> steps;
  long tp = 0, fp = 0;
  for (std::size_t k = 0; k < order.size(); ++k) {
    const std::size_t i = order[k];
    (is_anomaly[i] == 1 ? tp : fp) += 1;
    // Emit only at the end of a run of equal scores: a threshold cannot split a tie.
    const bool last_of_group = k + 1 == order.size() || scores[order[k + 1]] != scores[i];
    if (last_of_group) steps.push_back({scores[i], tp, fp});
  }
  return steps;
}

}  // namespace

double auroc(const std::vector<double>& scores, const std::vector<int>& is_anomaly) {
  check_inputs("auroc", scores, is_anomaly);
  const ClassCounts c = count_classes(is_anomaly);
  require_both_classes("auroc", c);
  // Count (anomaly, normal) pairs ranked correctly, doubled so a tie's 1/2 stays an integer:
  // each normal in a group beats every anomaly above the group and ties the group's anomalies.
  long long twice_pairs = 0;
  long prev_tp = 0, prev_fp = 0;
  for (const Step& s : descending_steps(scores, is_anomaly)) {
    const long group_anomalies = s.tp - prev_tp;
    const long group_normals = s.fp - prev_fp;
    twice_pairs += static_cast<long long>(group_normals) * (2LL * prev_tp + group_anomalies);
    prev_tp = s.tp;
    prev_fp = s.fp;
  }
  return static_cast<double>(twice_pairs) /
         (2.0 * static_cast<double>(c.anomalies) * static_cast<double>(c.normals));
}

double auprc(const std::vector<double>& scores, const std::vector<int>& is_anomaly) {
  check_inputs("auprc", scores, is_anomaly);
  const ClassCounts c = count_classes(is_anomaly);
  // Normals are not needed (all-anomaly sets give AP = 1), but recall needs an anomaly.
  if (c.anomalies == 0) {
    throw Error("auprc: need at least one anomalous score (got 0 anomalies among " +
                std::to_string(c.normals) + " scores); evaluate on a set containing anomalies");
  }
  // sklearn's step-wise sum: recall increase at each threshold times the precision there.
  // Each step holds >= 1 sample, so tp + fp > 0.
  double ap = 0.0;
  long prev_tp = 0;
  for (const Step& s : descending_steps(scores, is_anomaly)) {
    const double recall_gain = static_cast<double>(s.tp - prev_tp) / c.anomalies;
    const double precision = static_cast<double>(s.tp) / static_cast<double>(s.tp + s.fp);
    ap += recall_gain * precision;
    prev_tp = s.tp;
  }
  return ap;
}

RocCurve roc_curve(const std::vector<double>& scores, const std::vector<int>& is_anomaly) {
  check_inputs("roc_curve", scores, is_anomaly);
  const ClassCounts c = count_classes(is_anomaly);
  require_both_classes("roc_curve", c);
  const std::vector<Step> steps = descending_steps(scores, is_anomaly);
  RocCurve roc;
  roc.fpr.reserve(steps.size() + 1);
  roc.tpr.reserve(steps.size() + 1);
  roc.thresholds.reserve(steps.size() + 1);
  // A threshold above every score flags nothing, so the curve starts at (0, 0).
  roc.fpr.push_back(0.0);
  roc.tpr.push_back(0.0);
  roc.thresholds.push_back(std::numeric_limits<double>::infinity());
  for (const Step& s : steps) {
    roc.fpr.push_back(static_cast<double>(s.fp) / c.normals);
    roc.tpr.push_back(static_cast<double>(s.tp) / c.anomalies);
    roc.thresholds.push_back(s.score);
  }
  return roc;
}

OperatingPoint at_threshold(const std::vector<double>& scores, const std::vector<int>& is_anomaly,
                            double threshold) {
  check_inputs("at_threshold", scores, is_anomaly);
  // score > NaN is always false, which would silently flag nothing.
  if (std::isnan(threshold)) {
    throw Error("at_threshold: threshold is NaN; pass a finite threshold (e.g. from "
                "calibrate_threshold)");
  }
  OperatingPoint op;
  op.threshold = threshold;
  for (std::size_t i = 0; i < scores.size(); ++i) {
    const bool flagged = scores[i] > threshold;  // strictly above, as calibrate_threshold assumes
    if (is_anomaly[i] == 1) {
      (flagged ? op.tp : op.fn) += 1;
    } else {
      (flagged ? op.fp : op.tn) += 1;
    }
  }
  // A rate over an absent class is reported as 0 rather than NaN, so a normal-only or
  // anomaly-only set still yields printable numbers for the rates that do exist.
  auto ratio = [](long num, long den) {
    return den == 0 ? 0.0 : static_cast<double>(num) / static_cast<double>(den);
  };
  op.fpr = ratio(op.fp, op.fp + op.tn);
  op.tpr = ratio(op.tp, op.tp + op.fn);
  op.precision = ratio(op.tp, op.tp + op.fp);
  const double sum = op.precision + op.tpr;
  op.f1 = sum == 0.0 ? 0.0 : 2.0 * op.precision * op.tpr / sum;
  return op;
}

double calibrate_threshold(const std::vector<double>& normal_scores, double target_fpr) {
  if (normal_scores.empty()) {
    throw Error("calibrate_threshold: normal_scores is empty; calibrate on at least one normal "
                "image's score");
  }
  // The negated comparison also rejects NaN.
  if (!(target_fpr >= 0.0 && target_fpr < 1.0)) {
    throw Error("calibrate_threshold: target_fpr = " + to_text(target_fpr) +
                "; it must be in [0, 1), e.g. 0.01 for a 1% false-positive rate");
  }
  for (std::size_t i = 0; i < normal_scores.size(); ++i) {
    if (std::isnan(normal_scores[i])) {
      throw Error("calibrate_threshold: normal_scores[" + std::to_string(i) +
                  "] is NaN; fix or drop that sample before calibrating");
    }
  }
  const long n = static_cast<long>(normal_scores.size());
  // allowed = floor(target_fpr * n), but taken as the largest k with k / n <= target_fpr in
  // double arithmetic: the raw product rounds (0.29 * 100 = 28.999...) and would lose one.
  long allowed = static_cast<long>(std::floor(target_fpr * static_cast<double>(n)));
  while (allowed + 1 < n && static_cast<double>(allowed + 1) / n <= target_fpr) ++allowed;
  while (allowed > 0 && static_cast<double>(allowed) / n > target_fpr) --allowed;
  // With the scores in descending order, only the first `allowed` can lie strictly above the
  // (allowed)-th one, and any smaller score has all of the first allowed + 1 above it.
  // So the answer is that order statistic; nth_element finds it in O(n).
  std::vector<double> sorted = normal_scores;
  auto nth = sorted.begin() + allowed;
  std::nth_element(sorted.begin(), nth, sorted.end(), std::greater<double>());
  return *nth;
}

}  // namespace oneclass::eval
