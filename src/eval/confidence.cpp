// Exact binomial intervals; see include/oneclass/eval/confidence.h. The incomplete beta function
// is evaluated by its continued fraction (modified Lentz), on the side of x where it converges
// fast, and its quantiles are found by bisection (monotone in x, 200 halvings reach double
// precision).
#include "oneclass/eval/confidence.h"

#include <cmath>
#include <limits>
#include <string>

#include "oneclass/error.h"

namespace oneclass::eval {
namespace {

// The continued fraction of I_x(a, b) / (x^a (1 - x)^b / (a B(a, b))); converges for x < (a+1)/(a+b+2).
double beta_continued_fraction(double x, double a, double b) {
  constexpr double tiny = 1e-300, epsilon = 1e-16;
  double c = 1.0, d = 1.0 - (a + b) * x / (a + 1.0);
  if (std::fabs(d) < tiny) d = tiny;
  d = 1.0 / d;
  double fraction = d;
  for (int m = 1; m <= 10000; ++m) {
    const double even = m * (b - m) * x / ((a + 2.0 * m - 1.0) * (a + 2.0 * m));
    const double odd = -(a + m) * (a + b + m) * x / ((a + 2.0 * m) * (a + 2.0 * m + 1.0));
    for (const double coefficient : {even, odd}) {
      d = 1.0 + coefficient * d;
      if (std::fabs(d) < tiny) d = tiny;
      c = 1.0 + coefficient / c;
      if (std::fabs(c) < tiny) c = tiny;
      d = 1.0 / d;
      fraction *= d * c;
    }
    if (std::fabs(d * c - 1.0) < epsilon) break;
  }
  return fraction;
}

// The x at which I_x(a, b) = p.
double beta_quantile(double p, double a, double b) {
  double low = 0.0, high = 1.0;
  for (int i = 0; i < 200 && high - low > 0; ++i) {
    const double mid = 0.5 * (low + high);
    if (mid <= low || mid >= high) break;
    (regularized_incomplete_beta(mid, a, b) < p ? low : high) = mid;
  }
  return 0.5 * (low + high);
}

}  // namespace

double regularized_incomplete_beta(double x, double a, double b) {
  if (x <= 0) return 0.0;
  if (x >= 1) return 1.0;
  const double log_front = std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) + a * std::log(x) + b * std::log1p(-x);
  if (x < (a + 1.0) / (a + b + 2.0)) return std::exp(log_front) * beta_continued_fraction(x, a, b) / a;
  return 1.0 - std::exp(log_front) * beta_continued_fraction(1.0 - x, b, a) / b;
}

Interval clopper_pearson(long successes, long trials, double confidence) {
  if (trials < 1 || successes < 0 || successes > trials || !(confidence > 0 && confidence < 1)) {
    throw Error("clopper_pearson: need 0 <= successes <= trials, trials >= 1 and 0 < confidence < 1 (got " +
                std::to_string(successes) + " of " + std::to_string(trials) + " at " + std::to_string(confidence) +
                ")");
  }
  const double alpha = 1.0 - confidence;
  const auto k = static_cast<double>(successes), n = static_cast<double>(trials);
  Interval interval;
  interval.low = successes == 0 ? 0.0 : beta_quantile(alpha / 2, k, n - k + 1);
  interval.high = successes == trials ? 1.0 : beta_quantile(1 - alpha / 2, k + 1, n - k);
  return interval;
}

}  // namespace oneclass::eval
