#pragma once
// How sure a measured rate is: exact binomial confidence intervals. A threshold set on 30
// held-out normal images "at 1 % false alarms" has seen 0 of them above it; the interval says
// the true rate may still be up to 11.6 %.

namespace oneclass::eval {

struct Interval {
  double low = 0, high = 1;
};

/// The Clopper-Pearson interval for `successes` of `trials` at two-sided `confidence` (e.g. 0.95):
/// low = Beta quantile (1 - confidence) / 2 with (k, n - k + 1), 0 when k = 0; high = Beta quantile
/// (1 + confidence) / 2 with (k + 1, n - k), 1 when k = n. Throws Error unless
/// 0 <= successes <= trials, trials >= 1 and 0 < confidence < 1.
Interval clopper_pearson(long successes, long trials, double confidence = 0.95);

/// The regularised incomplete beta function I_x(a, b), for a, b > 0 and x in [0, 1].
double regularized_incomplete_beta(double x, double a, double b);

}  // namespace oneclass::eval
