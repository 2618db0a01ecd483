// Tests for oneclass/eval/metrics.h: hand-computed answers, invariants, error messages, and an
// oracle comparison against scikit-learn (run through Debian's /usr/bin/python3).
#include "oneclass/eval/metrics.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "oneclass/error.h"

namespace oneclass::eval {
namespace {

const double kInf = std::numeric_limits<double>::infinity();
const double kNaN = std::numeric_limits<double>::quiet_NaN();

// The shared hand example: positives at 0.4, 0.8, 0.9 and normals at 0.1, 0.4, 0.8, so two of
// the three thresholds split a tied normal/anomaly pair.
const std::vector<double> kTiedScores = {0.1, 0.4, 0.4, 0.8, 0.8, 0.9};
const std::vector<int> kTiedLabels = {0, 0, 1, 0, 1, 1};

// Runs `call`, expecting oneclass::Error whose message contains every string in `parts`.
void expect_error(const std::function<void()>& call, const std::vector<std::string>& parts) {
  try {
    call();
    ADD_FAILURE() << "expected oneclass::Error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    for (const std::string& p : parts) {
      EXPECT_NE(msg.find(p), std::string::npos) << "message \"" << msg << "\" lacks \"" << p
                                                << "\"";
    }
  }
}

// ---------------------------------------------------------------- hand-computed answers

TEST(AurocTest, PerfectSeparationIsOne) {
  EXPECT_DOUBLE_EQ(auroc({0.1, 0.2, 0.3, 0.7, 0.9}, {0, 0, 0, 1, 1}), 1.0);
  EXPECT_DOUBLE_EQ(auprc({0.1, 0.2, 0.3, 0.7, 0.9}, {0, 0, 0, 1, 1}), 1.0);
}

TEST(AurocTest, ReversedIsZero) {
  EXPECT_DOUBLE_EQ(auroc({0.9, 0.8, 0.3, 0.2}, {0, 0, 1, 1}), 0.0);
}

TEST(AurocTest, AllTiedIsHalf) {
  const std::vector<double> s(7, 3.0);
  const std::vector<int> y = {0, 1, 0, 0, 1, 1, 0};
  EXPECT_DOUBLE_EQ(auroc(s, y), 0.5);
  // One threshold flags everything: recall 1 at precision = prevalence.
  EXPECT_DOUBLE_EQ(auprc(s, y), 3.0 / 7.0);
}

TEST(AurocTest, HandExampleWithTies) {
  // Pairs won: anomaly 0.4 -> 1 + 1/2, 0.8 -> 2 + 1/2, 0.9 -> 3; total 7 of 9.
  EXPECT_DOUBLE_EQ(auroc(kTiedScores, kTiedLabels), 7.0 / 9.0);
}

TEST(AuprcTest, HandExampleWithTies) {
  // Thresholds 0.9, 0.8, 0.4 raise recall by 1/3 each at precision 1, 2/3, 3/5.
  EXPECT_DOUBLE_EQ(auprc(kTiedScores, kTiedLabels), 1.0 / 3 + 2.0 / 9 + 1.0 / 5);
}

TEST(AuprcTest, AllAnomaliesIsOne) {
  EXPECT_DOUBLE_EQ(auprc({0.3, 0.1, 0.2}, {1, 1, 1}), 1.0);
}

TEST(RocCurveTest, HandExampleWithTies) {
  const RocCurve roc = roc_curve(kTiedScores, kTiedLabels);
  const std::vector<double> thr = {kInf, 0.9, 0.8, 0.4, 0.1};
  const std::vector<double> fpr = {0, 0, 1.0 / 3, 2.0 / 3, 1};
  const std::vector<double> tpr = {0, 1.0 / 3, 2.0 / 3, 1, 1};
  ASSERT_EQ(roc.thresholds.size(), thr.size());
  ASSERT_EQ(roc.fpr.size(), thr.size());
  ASSERT_EQ(roc.tpr.size(), thr.size());
  for (std::size_t i = 0; i < thr.size(); ++i) {
    EXPECT_EQ(roc.thresholds[i], thr[i]) << i;
    EXPECT_DOUBLE_EQ(roc.fpr[i], fpr[i]) << i;
    EXPECT_DOUBLE_EQ(roc.tpr[i], tpr[i]) << i;
  }
}

TEST(RocCurveTest, ShapeAndAreaMatchAuroc) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> tied(0, 9);
  std::vector<double> s;
  std::vector<int> y;
  for (int i = 0; i < 200; ++i) {
    y.push_back(i % 3 == 0 ? 1 : 0);
    s.push_back(tied(rng) + y.back());
  }
  const RocCurve roc = roc_curve(s, y);
  std::vector<double> distinct = s;
  std::sort(distinct.begin(), distinct.end());
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  ASSERT_EQ(roc.thresholds.size(), distinct.size() + 1);
  EXPECT_EQ(roc.fpr.front(), 0.0);
  EXPECT_EQ(roc.tpr.front(), 0.0);
  EXPECT_EQ(roc.fpr.back(), 1.0);
  EXPECT_EQ(roc.tpr.back(), 1.0);
  double area = 0;
  for (std::size_t i = 1; i < roc.fpr.size(); ++i) {
    EXPECT_LT(roc.thresholds[i], roc.thresholds[i - 1]);
    EXPECT_GE(roc.fpr[i], roc.fpr[i - 1]);
    EXPECT_GE(roc.tpr[i], roc.tpr[i - 1]);
    area += (roc.fpr[i] - roc.fpr[i - 1]) * (roc.tpr[i] + roc.tpr[i - 1]) / 2;
  }
  // The trapezoid rule over the tie-grouped curve is exactly the "ties count 1/2" AUROC.
  EXPECT_NEAR(area, auroc(s, y), 1e-12);
}

TEST(AtThresholdTest, HandExample) {
  // > 0.4 flags 0.8 (normal), 0.8 (anomaly), 0.9 (anomaly); the tied 0.4s are not flagged.
  const OperatingPoint op = at_threshold(kTiedScores, kTiedLabels, 0.4);
  EXPECT_EQ(op.threshold, 0.4);
  EXPECT_EQ(op.tp, 2);
  EXPECT_EQ(op.fp, 1);
  EXPECT_EQ(op.tn, 2);
  EXPECT_EQ(op.fn, 1);
  EXPECT_DOUBLE_EQ(op.fpr, 1.0 / 3);
  EXPECT_DOUBLE_EQ(op.tpr, 2.0 / 3);
  EXPECT_DOUBLE_EQ(op.precision, 2.0 / 3);
  EXPECT_DOUBLE_EQ(op.f1, 2.0 / 3);
}

TEST(AtThresholdTest, NothingFlaggedGivesZeroPrecisionAndF1) {
  const OperatingPoint op = at_threshold(kTiedScores, kTiedLabels, 0.9);  // strict: 0.9 not flagged
  EXPECT_EQ(op.tp + op.fp, 0);
  EXPECT_EQ(op.tn, 3);
  EXPECT_EQ(op.fn, 3);
  EXPECT_EQ(op.precision, 0.0);
  EXPECT_EQ(op.tpr, 0.0);
  EXPECT_EQ(op.f1, 0.0);
}

TEST(AtThresholdTest, NormalOnlySetReportsFpr) {
  const OperatingPoint op = at_threshold({1, 2, 3, 4}, {0, 0, 0, 0}, 2.5);
  EXPECT_EQ(op.fp, 2);
  EXPECT_EQ(op.tn, 2);
  EXPECT_DOUBLE_EQ(op.fpr, 0.5);
  EXPECT_EQ(op.tpr, 0.0);  // no anomalies: rate reported as 0, not NaN
}

TEST(CalibrateThresholdTest, HandExamples) {
  const std::vector<double> s = {5, 1, 9, 3, 7, 2, 10, 4, 8, 6};
  EXPECT_EQ(calibrate_threshold(s, 0.0), 10);  // nothing may exceed it: the maximum
  EXPECT_EQ(calibrate_threshold(s, 0.1), 9);   // one above
  EXPECT_EQ(calibrate_threshold(s, 0.25), 8);  // floor(2.5) = 2 above
  EXPECT_EQ(calibrate_threshold(s, 0.95), 1);  // floor(9.5) = 9 above
  // Ties: 3 > 2 = 2 = 2 > 1; with one allowed above, 2 is the smallest valid value, and it stays
  // so until four are allowed above 1.
  EXPECT_EQ(calibrate_threshold({2, 1, 3, 2, 2}, 0.2), 2);
  EXPECT_EQ(calibrate_threshold({2, 1, 3, 2, 2}, 0.6), 2);
  EXPECT_EQ(calibrate_threshold({2, 1, 3, 2, 2}, 0.8), 1);
  EXPECT_EQ(calibrate_threshold({4.5}, 0.5), 4.5);
}

TEST(CalibrateThresholdTest, ProductRoundingDoesNotLoseOneAllowedFalsePositive) {
  // 0.29 * 100 evaluates to 28.999...; 29 / 100 is still <= 0.29, so 29 may lie above.
  std::vector<double> s;
  for (int i = 1; i <= 100; ++i) s.push_back(i);
  EXPECT_EQ(calibrate_threshold(s, 0.29), 71.0);
  EXPECT_EQ(calibrate_threshold(s, 0.57), 43.0);
}

// Empirical FPR on the calibration scores is <= target, and the next smaller candidate would
// exceed it (so the threshold is as low as allowed).
TEST(CalibrateThresholdTest, FprWithinTargetAndTight) {
  std::mt19937 rng(11);
  std::uniform_int_distribution<int> tied(0, 20);
  std::normal_distribution<double> cont(0.0, 1.0);
  for (int trial = 0; trial < 60; ++trial) {
    const int n = 1 + trial * 7;
    std::vector<double> s(n);
    for (double& v : s) v = trial % 2 ? tied(rng) : cont(rng);
    for (double target : {0.0, 0.01, 0.05, 0.1, 0.29, 0.5, 0.9, 0.999}) {
      const double t = calibrate_threshold(s, target);
      ASSERT_NE(std::find(s.begin(), s.end(), t), s.end()) << "threshold is not one of the scores";
      const OperatingPoint op = at_threshold(s, std::vector<int>(n, 0), t);
      EXPECT_LE(op.fpr, target) << "n=" << n << " target=" << target;
      double below = -kInf;  // largest score strictly below t, if any
      for (double v : s)
        if (v < t) below = std::max(below, v);
      if (below > -kInf) {
        EXPECT_GT(at_threshold(s, std::vector<int>(n, 0), below).fpr, target)
            << "n=" << n << " target=" << target << ": a lower threshold was also valid";
      }
    }
  }
}

// ---------------------------------------------------------------- invariants

TEST(InvariantsTest, MonotoneTransformAndPermutationKeepRankingMetrics) {
  std::mt19937 rng(3);
  std::normal_distribution<double> cont(0.0, 1.0);
  std::uniform_int_distribution<int> tied(0, 4);
  for (int trial = 0; trial < 20; ++trial) {
    const bool use_ties = trial % 2 == 1;
    std::vector<double> s;
    std::vector<int> y;
    for (int i = 0; i < 150; ++i) {
      y.push_back(i % 4 == 0 ? 1 : 0);
      s.push_back(use_ties ? tied(rng) : cont(rng) + y.back());
    }
    // Strictly increasing maps: exp and x^3 + 2x (exact on small integers, so ties survive).
    std::vector<double> t1, t2;
    for (double v : s) {
      t1.push_back(std::exp(v));
      t2.push_back(v * v * v + 2 * v);
    }
    const double a = auroc(s, y);
    EXPECT_DOUBLE_EQ(auroc(t1, y), a);
    EXPECT_DOUBLE_EQ(auroc(t2, y), a);
    EXPECT_DOUBLE_EQ(auprc(t1, y), auprc(s, y));
    // Negating the scores swaps which class ranks higher.
    std::vector<double> neg;
    for (double v : s) neg.push_back(-v);
    EXPECT_NEAR(auroc(neg, y), 1.0 - a, 1e-12);
    // Sample order must not matter (ties are grouped, not broken by position).
    std::vector<std::size_t> idx(s.size());
    for (std::size_t i = 0; i < idx.size(); ++i) idx[i] = i;
    std::shuffle(idx.begin(), idx.end(), rng);
    std::vector<double> ps;
    std::vector<int> py;
    for (std::size_t i : idx) {
      ps.push_back(s[i]);
      py.push_back(y[i]);
    }
    EXPECT_DOUBLE_EQ(auroc(ps, py), a);
    EXPECT_DOUBLE_EQ(auprc(ps, py), auprc(s, y));
  }
}

// ---------------------------------------------------------------- errors

TEST(MetricsErrorsTest, SizeMismatch) {
  expect_error([] { auroc({0.1, 0.2}, {0}); }, {"auroc", "2 vs 1"});
  expect_error([] { auprc({0.1}, {0, 1}); }, {"auprc", "1 vs 2"});
  expect_error([] { roc_curve({0.1}, {}); }, {"roc_curve", "1 vs 0"});
  expect_error([] { at_threshold({0.1}, {}, 0.0); }, {"at_threshold", "1 vs 0"});
}

TEST(MetricsErrorsTest, LabelsMustBeZeroOrOne) {
  expect_error([] { auroc({0.1, 0.2, 0.3}, {0, 1, 2}); }, {"is_anomaly[2] = 2", "0 (normal)"});
  expect_error([] { at_threshold({0.1}, {-1}, 0.0); }, {"is_anomaly[0] = -1"});
}

TEST(MetricsErrorsTest, NaNScoreNamesIndex) {
  expect_error([] { auroc({0.1, kNaN, 0.3}, {0, 1, 1}); }, {"auroc", "scores[1] is NaN"});
  expect_error([] { auprc({0.1, 0.2, kNaN}, {0, 1, 1}); }, {"scores[2] is NaN"});
  expect_error([] { roc_curve({kNaN, 0.2}, {0, 1}); }, {"scores[0] is NaN"});
  expect_error([] { at_threshold({kNaN}, {0}, 1.0); }, {"scores[0] is NaN"});
  expect_error([] { at_threshold({0.5}, {0}, kNaN); }, {"threshold is NaN"});
}

TEST(MetricsErrorsTest, NeedBothClasses) {
  expect_error([] { auroc({0.1, 0.2}, {0, 0}); }, {"auroc", "0 anomalies", "both classes"});
  expect_error([] { auroc({0.1, 0.2}, {1, 1}); }, {"0 normals"});
  expect_error([] { auroc({}, {}); }, {"0 normals, 0 anomalies"});
  expect_error([] { roc_curve({0.1}, {1}); }, {"roc_curve", "0 normals"});
  expect_error([] { auprc({0.1, 0.2}, {0, 0}); }, {"auprc", "0 anomalies"});
}

TEST(MetricsErrorsTest, CalibrateThresholdArguments) {
  expect_error([] { calibrate_threshold({}, 0.1); }, {"normal_scores is empty"});
  expect_error([] { calibrate_threshold({1, 2}, -0.1); }, {"target_fpr = -0.1", "[0, 1)"});
  expect_error([] { calibrate_threshold({1, 2}, 1.0); }, {"target_fpr = 1", "[0, 1)"});
  expect_error([] { calibrate_threshold({1, 2}, kNaN); }, {"target_fpr = nan"});
  expect_error([] { calibrate_threshold({1, kNaN}, 0.1); }, {"normal_scores[1] is NaN"});
}

// ---------------------------------------------------------------- scikit-learn oracle

struct Case {
  std::string name;
  std::vector<double> scores;
  std::vector<int> labels;
};

// Continuous, heavily tied (integers 0..4) and imbalanced (5 anomalies vs 500 normals) cases.
std::vector<Case> oracle_cases() {
  std::vector<Case> cases;
  std::mt19937 rng(2024);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::uniform_int_distribution<int> tied(0, 4);
  auto finish = [&](Case c) {
    c.labels[0] = 0;  // guarantee both classes
    c.labels[1] = 1;
    cases.push_back(std::move(c));
  };
  for (int k = 0; k < 5; ++k) {
    Case c{"continuous_" + std::to_string(k), {}, {}};
    std::bernoulli_distribution coin(0.3 + 0.1 * k);
    for (int i = 0; i < 20 + 70 * k; ++i) {
      c.labels.push_back(coin(rng) ? 1 : 0);
      c.scores.push_back(normal(rng) + 0.8 * c.labels.back());
    }
    finish(c);
  }
  for (int k = 0; k < 5; ++k) {
    Case c{"tied_" + std::to_string(k), {}, {}};
    std::bernoulli_distribution coin(0.2 + 0.15 * k);
    for (int i = 0; i < 10 + 60 * k; ++i) {
      c.labels.push_back(coin(rng) ? 1 : 0);
      c.scores.push_back(std::min(4, tied(rng) + (c.labels.back() && k % 2 ? 1 : 0)));
    }
    finish(c);
  }
  for (int k = 0; k < 4; ++k) {
    Case c{"imbalanced_" + std::to_string(k), {}, {}};
    for (int i = 0; i < 505; ++i) c.labels.push_back(i < 5 ? 1 : 0);
    std::shuffle(c.labels.begin(), c.labels.end(), rng);
    for (int y : c.labels) {
      // Half the cases use tied integer scores so the rare anomalies tie with many normals.
      c.scores.push_back(k < 2 ? normal(rng) + 1.5 * y : tied(rng) + y);
    }
    cases.push_back(c);
  }
  return cases;
}

const char* const kOracleScript = R"PY(
import sys
from sklearn.metrics import roc_auc_score, average_precision_score, roc_curve
tok = open(sys.argv[1]).read().split()
pos, out = 0, []
while pos < len(tok):
    n = int(tok[pos]); pos += 1
    s = [float(t) for t in tok[pos:pos + 2 * n:2]]
    y = [int(t) for t in tok[pos + 1:pos + 2 * n:2]]
    pos += 2 * n
    fpr, tpr, thr = roc_curve(y, s, drop_intermediate=False)
    auc, ap = float(roc_auc_score(y, s)), float(average_precision_score(y, s))
    out.append('%r %r %d' % (auc, ap, len(fpr)))
    out += ['%r %r %r' % (float(a), float(b), float(c)) for a, b, c in zip(fpr, tpr, thr)]
print('\n'.join(out))
)PY";

struct OracleAnswer {
  double auroc = 0, auprc = 0;
  RocCurve roc;
};

// strtod, unlike operator>>, accepts "inf" (newer scikit-learn's first threshold).
double next_double(std::istream& in) {
  std::string t;
  in >> t;
  return std::strtod(t.c_str(), nullptr);
}

bool sklearn_available() {
  return std::system("/usr/bin/python3 -c 'import sklearn.metrics' >/dev/null 2>&1") == 0;
}

TEST(SklearnOracleTest, AurocAuprcRocCurveAgree) {
  if (!sklearn_available()) {
    // In CI the oracle must run: a missing package there is a broken set-up, not a reason to skip.
    if (std::getenv("CI")) FAIL() << "CI: /usr/bin/python3 cannot import sklearn; scripts/install-deps.sh installs it";
    GTEST_SKIP() << "/usr/bin/python3 cannot import sklearn; install python3-sklearn "
                    "(apt-get install python3-sklearn) to run the scikit-learn comparison";
  }
  const std::vector<Case> cases = oracle_cases();
  // The pid keeps concurrent runs (e.g. ctest -j) from sharing files.
  const std::string stem =
      ::testing::TempDir() + "oneclass_metrics_oracle_" + std::to_string(::getpid());
  const std::string data_path = stem + ".txt";
  const std::string script_path = stem + ".py";
  {
    std::ofstream data(data_path);
    data.precision(17);  // 17 significant digits round-trip every double exactly
    for (const Case& c : cases) {
      data << c.scores.size() << '\n';
      for (std::size_t i = 0; i < c.scores.size(); ++i) {
        data << c.scores[i] << ' ' << c.labels[i] << '\n';
      }
    }
    std::ofstream script(script_path);
    script << kOracleScript;
    ASSERT_TRUE(data.good()) << "could not write " << data_path;
    ASSERT_TRUE(script.good()) << "could not write " << script_path;
  }
  const std::string cmd = "/usr/bin/python3 " + script_path + " " + data_path + " 2>/dev/null";
  FILE* pipe = ::popen(cmd.c_str(), "r");
  ASSERT_NE(pipe, nullptr) << "popen failed: " << cmd;
  std::string text;
  char buf[4096];
  for (std::size_t got; (got = std::fread(buf, 1, sizeof buf, pipe)) > 0;) text.append(buf, got);
  const int status = ::pclose(pipe);
  std::remove(data_path.c_str());
  std::remove(script_path.c_str());
  ASSERT_EQ(status, 0) << "oracle script failed: " << cmd;

  std::istringstream in(text);
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    OracleAnswer want;
    want.auroc = next_double(in);
    want.auprc = next_double(in);
    std::size_t points = 0;
    in >> points;
    for (std::size_t i = 0; i < points; ++i) {
      want.roc.fpr.push_back(next_double(in));
      want.roc.tpr.push_back(next_double(in));
      want.roc.thresholds.push_back(next_double(in));
    }
    ASSERT_TRUE(in) << "could not parse oracle output";
    EXPECT_NEAR(auroc(c.scores, c.labels), want.auroc, 1e-9);
    EXPECT_NEAR(auprc(c.scores, c.labels), want.auprc, 1e-9);
    const RocCurve got = roc_curve(c.scores, c.labels);
    ASSERT_EQ(got.fpr.size(), points);
    ASSERT_EQ(got.tpr.size(), points);
    ASSERT_EQ(got.thresholds.size(), points);
    // thresholds[0] is +inf here and in scikit-learn >= 1.3; older versions use max + 1. Either
    // way it lies above every score, which is all that matters.
    EXPECT_EQ(got.thresholds[0], kInf);
    ASSERT_GE(points, 2u);
    EXPECT_GT(want.roc.thresholds[0], want.roc.thresholds[1]);
    for (std::size_t i = 0; i < points; ++i) {
      EXPECT_NEAR(got.fpr[i], want.roc.fpr[i], 1e-9) << "point " << i;
      EXPECT_NEAR(got.tpr[i], want.roc.tpr[i], 1e-9) << "point " << i;
      if (i > 0) {
        EXPECT_EQ(got.thresholds[i], want.roc.thresholds[i]) << "point " << i;
      }
    }
  }
  std::string rest;
  EXPECT_FALSE(in >> rest) << "oracle printed more cases than were sent";
}

}  // namespace
}  // namespace oneclass::eval
