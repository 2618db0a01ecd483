// The gnuplot scripts of the plots of a run: loss per epoch, ROC curve, score histogram.
#include "report/figure_scripts.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <sstream>

#include <fmt/format.h>

#include "oneclass/error.h"
#include "report/gnuplot.h"

namespace oneclass::report {
namespace {

// Tic step giving at most ~10 integer tics (gnuplot's own choice may land on 2.5 epochs).
int integer_tic_step(size_t n) {
  for (int step : {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000})
    if (n <= static_cast<size_t>(step) * 10) return step;
  return 10000;
}

// Labels at 1, 2 and 5 of each decade: gnuplot's default labels only the decades, which leaves
// one or two numbers on a loss axis spanning a decade or two.
std::string log_tics(double lo, double hi) {
  std::string tics;
  for (double decade = std::pow(10.0, std::floor(std::log10(lo))); decade <= hi; decade *= 10)
    for (double m : {1.0, 2.0, 5.0})
      if (m * decade >= lo && m * decade <= hi)
        tics += (tics.empty() ? "(" : ", ") + quote(fmt::format("{:g}", m * decade)) + " " + gnuplot_number(m * decade);
  return tics.empty() ? "auto" : tics + ")";
}

std::string loss_body(const std::vector<double>& loss, const DataSink& data) {
  std::string text;
  double lo = INFINITY, hi = -INFINITY;
  for (size_t i = 0; i < loss.size(); ++i) {
    text += std::to_string(i + 1) + " " + gnuplot_number(loss[i]) + "\n";
    if (std::isfinite(loss[i])) lo = std::min(lo, loss[i]), hi = std::max(hi, loss[i]);
  }
  bool log_y = lo > 0 && hi / lo > 10;  // a loss falling by decades reads better on a log axis
  std::ostringstream s;
  s << "set title 'Training loss per epoch' font " << font(13, true) << "\n"
    << "set xlabel 'epoch'\nset ylabel " << quote(log_y ? "mean training loss (log scale)" : "mean training loss") << "\n"
    << "set grid\nset key top right\n"
    << "set xrange [0.5:" << loss.size() + 0.5 << "]\nset xtics " << integer_tic_step(loss.size()) << "\n";
  // Without a fixed range gnuplot pads a log axis to whole decades, mostly empty space.
  if (log_y)
    s << "set logscale y\nset yrange [" << gnuplot_number(lo / 1.4) << ":" << gnuplot_number(hi * 1.4) << "]\n"
      << "set ytics " << log_tics(lo / 1.4, hi * 1.4) << "\n";
  if (std::isfinite(loss.back()))  // below the point: a falling curve comes in from above
    s << "set label " << quote("last: " + fmt::format("{:.4g}", loss.back())) << " at " << loss.size() << ","
      << gnuplot_number(loss.back()) << " right offset 0,char -1.3 front\n";
  s << "plot " << data(text) << " using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#1f77b4'"
    << " title 'training loss (mean over the epoch)'\n";
  return s.str();
}

std::string roc_body(const eval::RocCurve& roc, double auroc, double fpr, double tpr,
                     const DataSink& data) {
  std::string text;
  for (size_t i = 0; i < roc.fpr.size(); ++i) text += gnuplot_number(roc.fpr[i]) + " " + gnuplot_number(roc.tpr[i]) + "\n";
  std::ostringstream s;
  s << "set title " << quote("ROC curve (AUROC = " + fmt::format("{:.4f}", auroc) + ")") << " font " << font(13, true) << "\n"
    << "set xlabel 'false positive rate (share of normal images flagged)'\n"
    << "set ylabel 'true positive rate (share of anomalies flagged)'\n"
    << "set xrange [0:1]\nset yrange [0:1.02]\nset size ratio -1\nset grid\n"
    << "set xtics 0.1\nset ytics 0.1\nset key bottom right box opaque\n";
  std::string point;
  if (std::isfinite(fpr) && std::isfinite(tpr)) {
    // Put the label on the side of the point with room: most operating points sit top-left.
    bool right = fpr < 0.6;
    s << "set label " << quote("threshold: FPR " + fmt::format("{:.3f}", fpr) + ", TPR " + fmt::format("{:.3f}", tpr))
      << " at " << gnuplot_number(fpr) << "," << gnuplot_number(tpr) << (right ? " left offset char 1.5," : " right offset char -1.5,")
      << (tpr > 0.9 ? "char -1" : "char 1") << " front textcolor rgb '#b00000'\n";
    point = ", " + data(gnuplot_number(fpr) + " " + gnuplot_number(tpr) + "\n") +
            " using 1:2 with points pt 7 ps 1.8 lc rgb '#b00000' title 'operating point (threshold)'";
  }
  s << "plot " << data(text) << " using 1:2 with lines lw 2.5 lc rgb '#1f77b4' title "
    << quote("detector (AUROC " + fmt::format("{:.4f}", auroc) + ")")
    << ", x with lines dt 2 lw 1.5 lc rgb 'gray40' title 'chance (AUROC 0.5)'" << point << "\n";
  return s.str();
}

struct Histogram {
  double lo = 0, width = 1;
  std::vector<long> normal, anomaly;
};

// Both classes share the bins so the bars compare directly; ~50 bins over the joint range.
Histogram make_histogram(const std::vector<double>& normal, const std::vector<double>& anomaly) {
  double lo = INFINITY, hi = -INFINITY;
  for (const auto* v : {&normal, &anomaly})
    for (double x : *v)
      if (std::isfinite(x)) lo = std::min(lo, x), hi = std::max(hi, x);
  Histogram h;
  const int bins = 50;
  if (!(lo <= hi)) lo = 0, hi = 1;  // no finite score at all: draw empty axes
  if (hi - lo < 1e-12 * std::max(1.0, std::fabs(lo))) lo -= 0.5, hi += 0.5;  // all scores equal
  h.lo = lo;
  h.width = (hi - lo) / bins;
  h.normal.assign(bins, 0);
  h.anomaly.assign(bins, 0);
  auto bin = [&](double x) { return std::min(bins - 1, static_cast<int>((x - lo) / h.width)); };
  for (double x : normal)
    if (std::isfinite(x)) ++h.normal[bin(x)];
  for (double x : anomaly)
    if (std::isfinite(x)) ++h.anomaly[bin(x)];
  return h;
}

// The label goes beside the threshold line on the side with room, and below the legend (top
// right) unless it is short of reaching it; the opaque box keeps it readable over the bars.
std::string threshold_label(double threshold, double where /* 0..1 across the x axis */) {
  bool left_half = where < 0.6;
  double y = where < 0.3 ? 0.96 : 0.78;
  std::ostringstream s;
  s << "set style textbox opaque noborder\n"
    << "set label " << quote("threshold " + fmt::format("{:.4g}", threshold) + "  (above: flagged)") << " at "
    << gnuplot_number(threshold) << ", graph " << y << (left_half ? " left offset char 0.8,0" : " right offset char -0.8,0")
    << " front boxed\n";
  return s.str();
}

std::string histogram_body(const std::vector<double>& normal, const std::vector<double>& anomaly,
                           double threshold, const DataSink& data) {
  Histogram h = make_histogram(normal, anomaly);
  std::string text;
  for (size_t i = 0; i < h.normal.size(); ++i)
    text += gnuplot_number(h.lo + (i + 0.5) * h.width) + " " + std::to_string(h.normal[i]) + " " +
            std::to_string(h.anomaly[i]) + "\n";
  double x_lo = h.lo, x_hi = h.lo + h.width * h.normal.size();
  if (std::isfinite(threshold)) x_lo = std::min(x_lo, threshold), x_hi = std::max(x_hi, threshold);
  double pad = 0.02 * (x_hi - x_lo);
  std::ostringstream s;
  s << "set title 'Anomaly scores of the test images' font " << font(13, true) << "\n"
    << "set xlabel 'anomaly score (higher = more unusual)'\nset ylabel 'number of images'\n"
    << "set xrange [" << gnuplot_number(x_lo - pad) << ":" << gnuplot_number(x_hi + pad) << "]\nset yrange [0:*]\n"
    << "set grid ytics\nset key top right box opaque\n"
    << "set style fill transparent solid 0.5 border\nset boxwidth " << gnuplot_number(h.width) << " absolute\n";
  std::string threshold_key;
  if (std::isfinite(threshold)) {
    s << "set arrow from " << gnuplot_number(threshold) << ", graph 0 to " << gnuplot_number(threshold)
      << ", graph 1 nohead back lw 2 dt 2 lc rgb 'black'\n"
      << threshold_label(threshold, (threshold - x_lo + pad) / (x_hi - x_lo + 2 * pad));
    threshold_key = ", NaN with lines lw 2 dt 2 lc rgb 'black' title " +
                    quote("threshold " + fmt::format("{:.4g}", threshold));
  }
  std::string file = data(text);
  s << "plot " << file << " using 1:2 with boxes lc rgb '#1f77b4' title "
    << quote("normal (n=" + std::to_string(normal.size()) + ")") << ", " << file
    << " using 1:3 with boxes lc rgb '#d62728' title "
    << quote("anomalous (n=" + std::to_string(anomaly.size()) + ")") << threshold_key << "\n";
  return s.str();
}

}  // namespace

std::string loss_script(const std::vector<double>& epoch_loss, const DataSink& data) {
  return loss_body(epoch_loss, data);
}

std::string roc_script(const eval::RocCurve& roc, double auroc, double operating_fpr, double operating_tpr,
                       const DataSink& data) {
  return roc_body(roc, auroc, operating_fpr, operating_tpr, data);
}

std::string histogram_script(const std::vector<double>& normal_scores, const std::vector<double>& anomaly_scores,
                             double threshold, const DataSink& data) {
  return histogram_body(normal_scores, anomaly_scores, threshold, data);
}

}  // namespace oneclass::report
