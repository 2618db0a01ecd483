#pragma once
// Ranking and operating-point metrics for anomaly scores.
// Convention everywhere: higher score = more anomalous; anomaly is the positive class.
// auroc / auprc / roc_curve match scikit-learn (roc_auc_score, average_precision_score,
// roc_curve with drop_intermediate=false), ties included.
#include <vector>

namespace oneclass::eval {

/// Area under the ROC curve; ties between a normal and an anomaly count one half.
/// requires: scores.size() == is_anomaly.size(), at least one of each class (else throws Error).
double auroc(const std::vector<double>& scores, const std::vector<int>& is_anomaly);

/// Average precision (area under the precision-recall curve, step-wise as scikit-learn).
double auprc(const std::vector<double>& scores, const std::vector<int>& is_anomaly);

/// ROC points, one per distinct score (descending threshold), starting at (0, 0).
struct RocCurve {
  std::vector<double> fpr;
  std::vector<double> tpr;
  std::vector<double> thresholds;  // thresholds[0] is +infinity, like scikit-learn
};
RocCurve roc_curve(const std::vector<double>& scores, const std::vector<int>& is_anomaly);

/// Counts and rates when every score strictly above `threshold` is flagged as an anomaly.
struct OperatingPoint {
  double threshold = 0;
  long tp = 0, fp = 0, tn = 0, fn = 0;
  double fpr = 0;        // fp / (fp + tn)
  double tpr = 0;        // recall: tp / (tp + fn)
  double precision = 0;  // tp / (tp + fp); 0 when nothing is flagged
  double f1 = 0;         // harmonic mean of precision and recall; 0 when both are 0
};
OperatingPoint at_threshold(const std::vector<double>& scores, const std::vector<int>& is_anomaly,
                            double threshold);

/// Threshold from normal images only: the smallest value t taken from the scores such that at most
/// floor(target_fpr * n) of `normal_scores` lie strictly above t, so the false-positive rate on
/// these images is <= target_fpr. requires: non-empty scores, 0 <= target_fpr < 1 (else Error).
double calibrate_threshold(const std::vector<double>& normal_scores, double target_fpr);

}  // namespace oneclass::eval
