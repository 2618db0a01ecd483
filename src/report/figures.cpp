// Figures drawn by gnuplot: each add_* call turns its data into data files plus a script fragment;
// render() writes them into a private temp folder and runs ONE gnuplot process for all figures.
#include "oneclass/report/figures.h"

#include "oneclass/config.h"

#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <mutex>
#include <set>
#include <sstream>

#include "oneclass/error.h"

extern char** environ;

namespace oneclass::report {
namespace {

const char* const kInstallHint = "install it with `apt-get install gnuplot-nox`";
const char* const kFont = "Sans";

// ---------------------------------------------------------------------------------------------
// Text helpers

// Data values keep full float precision; gnuplot skips "NaN" points instead of failing on them.
std::string num(double v) {
  if (!std::isfinite(v)) return "NaN";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

// Numbers meant for a reader (titles, labels): few digits.
std::string fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

// A gnuplot single-quoted string: no backslash escapes, only '' for a quote. A newline would end
// the command, so it becomes a space.
std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += "''";
    else if (c == '\n' || c == '\r') out += ' ';
    else out += c;
  }
  return out + "'";
}

std::string font(int size, bool bold = false) {
  return quote(std::string(kFont) + (bold ? " Bold," : ",") + std::to_string(size));
}

// ---------------------------------------------------------------------------------------------
// Finding and running gnuplot

bool is_executable_file(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(path.c_str(), X_OK) == 0;
}

std::string find_on_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/local/bin:/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (is_executable_file(candidate)) return candidate;
  }
  return "";
}

// Which program we would run, and where that choice came from (for the status line).
struct Program {
  std::string path;   // empty: nothing found
  std::string given;  // the ONECLASS_GNUPLOT value when the override is set
};

Program resolve_gnuplot() {
  if (const char* env = std::getenv("ONECLASS_GNUPLOT"); env && *env) {
    std::string given = env;
    std::string path = given.find('/') == std::string::npos ? find_on_path(given) : given;
    return {path.empty() ? given : path, given};
  }
#ifdef ONECLASS_GNUPLOT_EXECUTABLE
  // The build-time path wins, unless the binary moved since (then PATH is the better guess).
  if (is_executable_file(ONECLASS_GNUPLOT_EXECUTABLE)) return {ONECLASS_GNUPLOT_EXECUTABLE, ""};
#endif
  return {find_on_path("gnuplot"), ""};
}

struct RunResult {
  int status = -1;      // exit code; -1 when it could not start or died from a signal
  std::string output;   // stdout and stderr interleaved
  std::string failure;  // why status is -1
};

// Runs argv[0] without a shell (paths need no quoting) and captures everything it prints.
// stdin is /dev/null so a program that waits for input cannot hang us.
RunResult run_captured(const std::vector<std::string>& argv) {
  RunResult result;
  int fds[2];
  if (pipe(fds) != 0) {
    result.failure = std::string("pipe: ") + std::strerror(errno);
    return result;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 2);
  posix_spawn_file_actions_addclose(&actions, fds[0]);
  posix_spawn_file_actions_addclose(&actions, fds[1]);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    result.failure = std::strerror(rc);
    return result;
  }
  char buf[4096];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) != 0;) {
    if (n > 0) result.output.append(buf, static_cast<size_t>(n));
    else if (errno != EINTR) break;
  }
  close(fds[0]);
  int wstatus = 0;
  while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(wstatus)) result.status = WEXITSTATUS(wstatus);
  else result.failure = "killed by signal " + std::to_string(WTERMSIG(wstatus));
  return result;
}

std::string describe_exit(const RunResult& r) {
  return r.status >= 0 ? "exit status " + std::to_string(r.status) : r.failure;
}

// Keeps error messages readable when gnuplot prints pages of warnings: the end has the cause.
std::string tail(const std::string& text, size_t max_chars = 2000) {
  std::string t = text;
  while (!t.empty() && (t.back() == '\n' || t.back() == ' ')) t.pop_back();
  if (t.size() > max_chars) t = "..." + t.substr(t.size() - max_chars);
  return t.empty() ? "(no output)" : t;
}

struct Probe {
  bool ok = false;
  std::string version;  // e.g. "5.4"
  std::string why_not;  // status text when !ok
};

// One run answers both questions: does it start, and does it know the pngcairo terminal.
Probe probe(const Program& program) {
  Probe p;
  if (program.path.empty()) {
    p.why_not = std::string("gnuplot not found; ") + kInstallHint;
    return p;
  }
  if (!is_executable_file(program.path)) {
    p.why_not = "gnuplot not found at ONECLASS_GNUPLOT=" + program.given +
                "; point it at a gnuplot executable or unset it";
    if (program.given.empty()) p.why_not = "gnuplot not found at " + program.path + "; " + kInstallHint;
    return p;
  }
  RunResult r = run_captured({program.path, "-d", "-e",
                              "set terminal pngcairo; set print '-'; print 'version ', GPVAL_VERSION"});
  size_t at = r.output.find("version ");
  if (r.status != 0 || at == std::string::npos) {
    p.why_not = program.path + " did not run as gnuplot with the pngcairo terminal (" +
                describe_exit(r) + ": " + tail(r.output, 300) + "); " + kInstallHint +
                (program.given.empty() ? "" : " or point ONECLASS_GNUPLOT at a working gnuplot");
    return p;
  }
  std::istringstream(r.output.substr(at + 8)) >> p.version;
  p.ok = true;
  return p;
}

struct Gnuplot {
  Program program;
  Probe probe;
};

// Probing costs a process start, so the answer is cached, keyed by the program path: tests and
// users may change ONECLASS_GNUPLOT between calls, which must not reuse a stale answer.
Gnuplot find_gnuplot() {
  static std::mutex mutex;
  static std::map<std::string, Probe> cache;
  Program program = resolve_gnuplot();
  std::string key = program.path + '\n' + program.given;
  std::lock_guard<std::mutex> lock(mutex);
  auto it = cache.find(key);
  if (it == cache.end()) it = cache.emplace(key, probe(program)).first;
  return {program, it->second};
}

// ---------------------------------------------------------------------------------------------
// Temp files

// A private folder for script and data; removed with its contents on every exit path.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/oneclass-figures.XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (!mkdtemp(buf.data()))
      throw Error("cannot create a temporary folder " + tmpl + " for the figures: " +
                  std::strerror(errno) + "; set TMPDIR to a writable folder");
    path_ = buf.data();
  }
  ~TempDir() {
    for (const auto& f : files_) std::remove(f.c_str());
    rmdir(path_.c_str());
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string write(const std::string& name, const std::string& text) {
    std::string file = path_ + "/" + name;
    files_.push_back(file);
    std::ofstream out(file, std::ios::binary);
    out << text;
    if (!out.flush())
      throw Error("cannot write " + file + " for the figures; check free space in " + path_);
    return file;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::vector<std::string> files_;
};

// Deletes the temporary PNGs still there when render() ends: all of them when gnuplot failed
// (a half-drawn set of figures is worse than none), none after the renames succeeded.
struct TempPngGuard {
  const std::vector<std::pair<std::string, std::string>>& renames;
  ~TempPngGuard() {
    for (const auto& r : renames) std::remove(r.first.c_str());
  }
};

// ---------------------------------------------------------------------------------------------
// Figure scripts. Each builder returns the body of one figure (after terminal and output are set).

using DataSink = std::function<std::string(std::string)>;

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
        tics += (tics.empty() ? "(" : ", ") + quote(fmt("%g", m * decade)) + " " + num(m * decade);
  return tics.empty() ? "auto" : tics + ")";
}

std::string loss_body(const std::vector<double>& loss, const DataSink& data) {
  std::string text;
  double lo = INFINITY, hi = -INFINITY;
  for (size_t i = 0; i < loss.size(); ++i) {
    text += std::to_string(i + 1) + " " + num(loss[i]) + "\n";
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
    s << "set logscale y\nset yrange [" << num(lo / 1.4) << ":" << num(hi * 1.4) << "]\n"
      << "set ytics " << log_tics(lo / 1.4, hi * 1.4) << "\n";
  if (std::isfinite(loss.back()))  // below the point: a falling curve comes in from above
    s << "set label " << quote("last: " + fmt("%.4g", loss.back())) << " at " << loss.size() << ","
      << num(loss.back()) << " right offset 0,char -1.3 front\n";
  s << "plot " << data(text) << " using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#1f77b4'"
    << " title 'training loss (mean over the epoch)'\n";
  return s.str();
}

std::string roc_body(const eval::RocCurve& roc, double auroc, double fpr, double tpr,
                     const DataSink& data) {
  std::string text;
  for (size_t i = 0; i < roc.fpr.size(); ++i) text += num(roc.fpr[i]) + " " + num(roc.tpr[i]) + "\n";
  std::ostringstream s;
  s << "set title " << quote("ROC curve (AUROC = " + fmt("%.4f", auroc) + ")") << " font " << font(13, true) << "\n"
    << "set xlabel 'false positive rate (share of normal images flagged)'\n"
    << "set ylabel 'true positive rate (share of anomalies flagged)'\n"
    << "set xrange [0:1]\nset yrange [0:1.02]\nset size ratio -1\nset grid\n"
    << "set xtics 0.1\nset ytics 0.1\nset key bottom right box opaque\n";
  std::string point;
  if (std::isfinite(fpr) && std::isfinite(tpr)) {
    // Put the label on the side of the point with room: most operating points sit top-left.
    bool right = fpr < 0.6;
    s << "set label " << quote("threshold: FPR " + fmt("%.3f", fpr) + ", TPR " + fmt("%.3f", tpr))
      << " at " << num(fpr) << "," << num(tpr) << (right ? " left offset char 1.5," : " right offset char -1.5,")
      << (tpr > 0.9 ? "char -1" : "char 1") << " front textcolor rgb '#b00000'\n";
    point = ", " + data(num(fpr) + " " + num(tpr) + "\n") +
            " using 1:2 with points pt 7 ps 1.8 lc rgb '#b00000' title 'operating point (threshold)'";
  }
  s << "plot " << data(text) << " using 1:2 with lines lw 2.5 lc rgb '#1f77b4' title "
    << quote("detector (AUROC " + fmt("%.4f", auroc) + ")")
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
    << "set label " << quote("threshold " + fmt("%.4g", threshold) + "  (above: flagged)") << " at "
    << num(threshold) << ", graph " << y << (left_half ? " left offset char 0.8,0" : " right offset char -0.8,0")
    << " front boxed\n";
  return s.str();
}

std::string histogram_body(const std::vector<double>& normal, const std::vector<double>& anomaly,
                           double threshold, const DataSink& data) {
  Histogram h = make_histogram(normal, anomaly);
  std::string text;
  for (size_t i = 0; i < h.normal.size(); ++i)
    text += num(h.lo + (i + 0.5) * h.width) + " " + std::to_string(h.normal[i]) + " " +
            std::to_string(h.anomaly[i]) + "\n";
  double x_lo = h.lo, x_hi = h.lo + h.width * h.normal.size();
  if (std::isfinite(threshold)) x_lo = std::min(x_lo, threshold), x_hi = std::max(x_hi, threshold);
  double pad = 0.02 * (x_hi - x_lo);
  std::ostringstream s;
  s << "set title 'Anomaly scores of the test images' font " << font(13, true) << "\n"
    << "set xlabel 'anomaly score (higher = more unusual)'\nset ylabel 'number of images'\n"
    << "set xrange [" << num(x_lo - pad) << ":" << num(x_hi + pad) << "]\nset yrange [0:*]\n"
    << "set grid ytics\nset key top right box opaque\n"
    << "set style fill transparent solid 0.5 border\nset boxwidth " << num(h.width) << " absolute\n";
  std::string threshold_key;
  if (std::isfinite(threshold)) {
    s << "set arrow from " << num(threshold) << ", graph 0 to " << num(threshold)
      << ", graph 1 nohead back lw 2 dt 2 lc rgb 'black'\n"
      << threshold_label(threshold, (threshold - x_lo + pad) / (x_hi - x_lo + 2 * pad));
    threshold_key = ", NaN with lines lw 2 dt 2 lc rgb 'black' title " +
                    quote("threshold " + fmt("%.4g", threshold));
  }
  std::string file = data(text);
  s << "plot " << file << " using 1:2 with boxes lc rgb '#1f77b4' title "
    << quote("normal (n=" + std::to_string(normal.size()) + ")") << ", " << file
    << " using 1:3 with boxes lc rgb '#d62728' title "
    << quote("anomalous (n=" + std::to_string(anomaly.size()) + ")") << threshold_key << "\n";
  return s.str();
}

// ---------------------------------------------------------------------------------------------
// Result grid: one multiplot, every cell placed in pixels so images keep square pixels.

enum class RowKind { input, reconstruction, map };

struct GridLayout {
  int cols = 0, rows = 0;
  double cell_w = 0, cell_h = 0;  // one image, pixels
  double left = 135, right = 20, top = 62, gap_x = 34, gap_y = 8, captions = 84;
  int width = 0, height = 0;  // canvas

  double col_x(int c) const { return left + c * (cell_w + gap_x); }
  double row_y(int r) const { return top + r * (cell_h + gap_y); }  // top edge, from canvas top
  double captions_y() const { return row_y(rows) - gap_y + 8; }
  double sx(double px) const { return px / width; }         // screen coordinates for gnuplot
  double sy(double px) const { return 1.0 - px / height; }  // gnuplot's y grows upwards
};

// Characters, not bytes: captions contain "·" (two bytes in UTF-8).
size_t text_length(const std::string& s) {
  return static_cast<size_t>(std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

GridLayout make_layout(int cols, int rows, int h, int w, bool colorbar, const std::string& heading) {
  GridLayout g;
  g.cols = cols;
  g.rows = rows;
  double scale = 132.0 / std::max(h, w);  // longest image side ~132 px: MNIST at 4.7x
  g.cell_w = w * scale;
  g.cell_h = h * scale;
  if (colorbar) g.right = 95;
  // A long heading over few panels widens the canvas; the grid then moves to the middle.
  double grid_width = g.col_x(cols) - g.gap_x + g.right;
  double heading_width = 11.0 * text_length(heading) + 40;  // ~11 px a character at 14 pt bold
  if (heading_width > grid_width) g.left += (heading_width - grid_width) / 2;
  g.width = static_cast<int>(std::ceil(std::max(grid_width, heading_width)));
  g.height = static_cast<int>(std::ceil(g.captions_y() + g.captions));
  return g;
}

const std::vector<float>& row_pixels(const ResultPanel& p, RowKind kind) {
  return kind == RowKind::input ? p.input : kind == RowKind::reconstruction ? p.reconstruction : p.anomaly_map;
}

// One text row per image row; gnuplot's `matrix` reads row 0 first, drawn at y = 0.
std::string matrix_text(const std::vector<float>& pixels, int h, int w) {
  std::string text;
  text.reserve(pixels.size() * 10);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) text += (x ? " " : "") + num(pixels[static_cast<size_t>(y) * w + x]);
    text += "\n";
  }
  return text;
}

void check_panels(const std::string& png_path, const std::vector<ResultPanel>& panels) {
  if (panels.empty()) throw Error("result grid " + png_path + ": no panels to draw; pass at least one");
  const auto& first = panels.front();
  for (size_t i = 0; i < panels.size(); ++i) {
    const auto& p = panels[i];
    std::string where = "result grid " + png_path + ", panel " + std::to_string(i) + " (" + p.title + "): ";
    if (p.height <= 0 || p.width <= 0 || p.height != first.height || p.width != first.width)
      throw Error(where + "image size " + std::to_string(p.height) + "x" + std::to_string(p.width) +
                  " must be positive and the same for every panel");
    size_t n = static_cast<size_t>(p.height) * p.width;
    for (RowKind k : {RowKind::input, RowKind::reconstruction, RowKind::map}) {
      size_t got = row_pixels(p, k).size();
      if (got != n && !(got == 0 && k != RowKind::input))
        throw Error(where + "has " + std::to_string(got) + " values in an image, expected " +
                    std::to_string(n) + " (height x width)");
    }
  }
}

// Shared color scale for all maps, so a brighter map means a larger error in every column.
double map_max(const std::vector<ResultPanel>& panels) {
  double hi = 0;
  for (const auto& p : panels)
    for (float v : p.anomaly_map)
      if (std::isfinite(v)) hi = std::max(hi, static_cast<double>(v));
  return hi > 0 ? hi : 1;
}

std::string label(const GridLayout& g, const std::string& text, double x_px, double y_px,
                  const char* align, const std::string& extra = "") {
  std::ostringstream s;
  s << "set label " << quote(text) << " at screen " << num(g.sx(x_px)) << ", screen " << num(g.sy(y_px))
    << " " << align << " front " << extra << "\n";
  return s.str();
}

// Every text of the grid: heading, row names, and under each column title, score and verdict.
std::string grid_labels(const GridLayout& g, const std::vector<ResultPanel>& panels,
                        const std::vector<std::pair<RowKind, std::string>>& rows, double threshold,
                        const std::string& heading) {
  std::string s = label(g, heading, g.width / 2.0, 30, "center", "font " + font(14, true));
  for (size_t r = 0; r < rows.size(); ++r)
    s += label(g, rows[r].second, g.left - 12, g.row_y(static_cast<int>(r)) + g.cell_h / 2, "right",
               "font " + font(12));
  const double line = 18, y0 = g.captions_y() + 10;
  s += label(g, "score > " + fmt("%.4g", threshold), g.left - 12, y0 + line, "right", "textcolor rgb 'gray30'");
  s += label(g, "→ flagged", g.left - 12, y0 + 2 * line, "right", "textcolor rgb 'gray30'");
  for (size_t c = 0; c < panels.size(); ++c) {
    const auto& p = panels[c];
    double x = g.col_x(static_cast<int>(c)) + g.cell_w / 2;
    bool mistake = p.flagged != p.is_anomaly;
    std::string verdict = std::string(p.is_anomaly ? "anomaly" : "normal") + " · " + (p.flagged ? "FLAGGED" : "pass");
    std::string color = mistake ? "textcolor rgb '#d00000'" : "textcolor rgb 'black'";
    s += label(g, p.title, x, y0, "center", "font " + font(11, true));
    s += label(g, "score " + fmt("%.4g", p.score), x, y0 + line, "center");
    s += label(g, verdict, x, y0 + 2 * line, "center", color + (mistake ? " font " + font(11, true) : ""));
    if (mistake)
      s += label(g, p.is_anomaly ? "missed anomaly" : "false alarm", x, y0 + 3 * line, "center", color);
  }
  return s;
}

// Palette, range and optional color bar of one row; gray for images, "hot" for maps.
std::string row_style(const GridLayout& g, RowKind kind, int row, double map_hi, bool with_colorbar) {
  std::ostringstream s;
  if (kind != RowKind::map) {
    s << "set palette gray\nset cbrange [0:1]\nunset colorbox\n";
    return s.str();
  }
  s << "set palette defined (0 'black', 1 '#7a0000', 2 '#e02000', 3 '#ff9a00', 4 '#ffff40', 5 'white')\n"
    << "set cbrange [0:" << num(map_hi) << "]\n";
  if (!with_colorbar) return s.str() + "unset colorbox\n";
  double x = g.col_x(g.cols) - g.gap_x + 14, y_top = g.row_y(row);
  s << "set colorbox user origin screen " << num(g.sx(x)) << ", screen " << num(g.sy(y_top + g.cell_h))
    << " size screen " << num(g.sx(14)) << ", screen " << num(g.cell_h / g.height) << "\n"
    << "set cbtics font " << font(11) << " scale 0.5 textcolor rgb 'black'\nset format cb '%.2g'\n";
  if (g.cell_h < 100) s << "set cbtics " << num(map_hi / 2) << "\n";  // a short bar fits three labels
  return s.str();
}

std::string cell_plot(const GridLayout& g, int row, int col, int h, int w, const std::string& file) {
  std::ostringstream s;
  double x = g.col_x(col), y = g.row_y(row);
  s << "set lmargin at screen " << num(g.sx(x)) << "\nset rmargin at screen " << num(g.sx(x + g.cell_w))
    << "\nset tmargin at screen " << num(g.sy(y)) << "\nset bmargin at screen " << num(g.sy(y + g.cell_h))
    << "\nset xrange [-0.5:" << w - 0.5 << "]\nset yrange [" << h - 0.5 << ":-0.5]\n"  // row 0 on top
    << "plot " << file << " matrix with image notitle\n";
  return s.str();
}

std::string grid_body(const std::vector<ResultPanel>& panels, double threshold,
                      const std::string& heading, GridLayout& g, const DataSink& data) {
  std::vector<std::pair<RowKind, std::string>> rows{{RowKind::input, "input"}};
  auto any = [&](RowKind k) {
    return std::any_of(panels.begin(), panels.end(), [&](const auto& p) { return !row_pixels(p, k).empty(); });
  };
  if (any(RowKind::reconstruction)) rows.push_back({RowKind::reconstruction, "reconstruction"});
  if (any(RowKind::map)) rows.push_back({RowKind::map, "anomaly map"});
  int h = panels[0].height, w = panels[0].width, cols = static_cast<int>(panels.size());
  g = make_layout(cols, static_cast<int>(rows.size()), h, w, any(RowKind::map), heading);
  double hi = map_max(panels);

  std::ostringstream s;
  s << "set multiplot\nunset key\nunset xtics\nunset ytics\nset border lw 0.5 lc rgb 'gray60'\n"
    << grid_labels(g, panels, rows, threshold, heading);
  bool labels_drawn = false;
  for (size_t r = 0; r < rows.size(); ++r) {
    int last = -1;  // the last panel having this row carries the color bar
    for (int c = 0; c < cols; ++c)
      if (!row_pixels(panels[c], rows[r].first).empty()) last = c;
    for (int c = 0; c < cols; ++c) {
      const auto& pixels = row_pixels(panels[c], rows[r].first);
      if (pixels.empty()) continue;  // this detector gave no such image for this panel
      s << row_style(g, rows[r].first, static_cast<int>(r), hi, c == last)
        << cell_plot(g, static_cast<int>(r), c, h, w, data(matrix_text(pixels, h, w)));
      // Labels at screen positions are drawn by each plot; draw them with the first one only.
      if (!labels_drawn) s << "unset label\n", labels_drawn = true;
    }
  }
  s << "unset multiplot\n";
  return s.str();
}

// ---------------------------------------------------------------------------------------------
// Grouped bars: one panel per BarPanel, stacked in a multiplot. Bars are placed by hand at
// x = group + offset of the series, so a missing value leaves a gap instead of moving the others.
// Error bars are vectors with flat heads: gnuplot's yerrorbars leave a white gap at the value.

// Ten distinguishable colours (matplotlib's "tab10"); an eleventh series reuses the first.
const char* const kBarColors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                  "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

void check_bar_panels(const std::string& png_path, const std::vector<BarPanel>& panels) {
  if (panels.empty()) throw Error("bar chart " + png_path + ": no panels to draw; pass at least one");
  for (size_t i = 0; i < panels.size(); ++i) {
    const auto& p = panels[i];
    std::string where = "bar chart " + png_path + ", panel " + std::to_string(i) + " (" + p.title + "): ";
    if (p.groups.empty() || p.series.empty()) throw Error(where + "needs at least one group and one series");
    for (const auto& s : p.series) {
      if (s.value.size() == p.groups.size() && (s.error.empty() || s.error.size() == p.groups.size())) continue;
      throw Error(where + "series " + s.label + " has " + std::to_string(s.value.size()) + " values and " +
                  std::to_string(s.error.size()) + " errors for " + std::to_string(p.groups.size()) +
                  " groups; pass one value per group, and one error per group or none");
    }
  }
}

double bar_error(const BarSeries& s, size_t g) { return s.error.empty() ? NAN : s.error[g]; }

// Lowest y shown: a multiple of 10 below every bar and error bar, so that the differences between
// bars near 100 % stay visible; the axis labels say where it starts.
double bars_floor(const BarPanel& p) {
  double lo = INFINITY;
  for (const auto& s : p.series)
    for (size_t g = 0; g < s.value.size(); ++g) {
      double e = bar_error(s, g);
      if (std::isfinite(s.value[g])) lo = std::min(lo, s.value[g] - (std::isfinite(e) ? e : 0));
    }
  return std::isfinite(lo) ? std::clamp(10 * std::floor((lo - 2) / 10), 0.0, 90.0) : 0;
}

// One colour per label across all panels, in order of first appearance.
std::map<std::string, std::string> bar_colors(const std::vector<BarPanel>& panels) {
  std::map<std::string, std::string> colors;
  for (const auto& p : panels)
    for (const auto& s : p.series)
      if (!colors.count(s.label)) colors[s.label] = kBarColors[colors.size() % std::size(kBarColors)];
  return colors;
}

// Pixels: the canvas fits the widest panel's bars plus the legend column at the right.
struct BarsLayout {
  int width = 0, height = 0;
  double key_px = 0;  // width of the legend column
};

BarsLayout bars_layout(const std::vector<BarPanel>& panels) {
  size_t groups = 0, series = 0, label = 0;
  for (const auto& p : panels) {
    groups = std::max(groups, p.groups.size());
    series = std::max(series, p.series.size());
    for (const auto& s : p.series) label = std::max(label, text_length(s.label));
  }
  BarsLayout l;
  l.key_px = 7.5 * static_cast<double>(label) + 80;  // ~7.5 px a character at 11 pt, plus the sample
  double plot_px = static_cast<double>(groups * (series * 22 + 26));
  l.width = static_cast<int>(std::ceil(std::max(900.0, 90 + plot_px + l.key_px)));
  l.height = 70 + 400 * static_cast<int>(panels.size());
  return l;
}

std::string bars_panel(const BarPanel& p, const std::map<std::string, std::string>& colors,
                       const BarsLayout& l, const DataSink& data) {
  const size_t n = p.series.size();
  const double slot = 0.8 / static_cast<double>(n);
  std::string text, tics;
  for (size_t g = 0; g < p.groups.size(); ++g) {
    text += std::to_string(g);
    for (const auto& s : p.series) text += " " + num(s.value[g]) + " " + num(bar_error(s, g));
    text += "\n";
    tics += (g ? ", " : "(") + quote(p.groups[g]) + " " + std::to_string(g);
  }
  std::ostringstream s;
  s << "set title " << quote(p.title) << " font " << font(13, true) << "\n"
    << "set xlabel " << quote(p.x_label) << "\nset ylabel " << quote(p.y_label) << "\n"
    << "set xrange [-0.5:" << p.groups.size() - 0.5 << "]\nset yrange [" << num(bars_floor(p)) << ":100]\n"
    << "set xtics " << tics << ") scale 0\nset grid ytics\n"
    // The same right margin in every panel keeps their x axes aligned whatever their legends hold.
    << "set rmargin at screen " << num(1 - l.key_px / l.width) << "\nset lmargin 10\n"
    << "set key outside right top vertical Left reverse\n"
    << "set style fill solid 0.85 border rgb 'gray30'\nset boxwidth " << num(slot * 0.9) << " absolute\n";
  std::string file = data(text), plot;
  for (size_t i = 0; i < n; ++i) {
    double offset = (static_cast<double>(i) - (n - 1) / 2.0) * slot;
    std::string x = "($1" + std::string(offset < 0 ? "" : "+") + num(offset) + ")";
    std::string v = std::to_string(2 + 2 * i), e = std::to_string(3 + 2 * i);
    plot += (i ? ", " : "") + file + " using " + x + ":" + v + " with boxes lc rgb '" + colors.at(p.series[i].label) +
            "' title " + quote(p.series[i].label) + ", " + file + " using " + x + ":($" + v + "-$" + e + "):(0):(2*$" +
            e + ") with vectors heads size screen 0.005,90 lc rgb 'black' notitle";
  }
  s << "plot " << plot << "\n";
  return s.str();
}

std::string bars_body(const std::vector<BarPanel>& panels, const std::string& heading, const BarsLayout& l,
                      const DataSink& data) {
  auto colors = bar_colors(panels);
  std::string s = "set multiplot layout " + std::to_string(panels.size()) + ",1 title " + quote(heading) +
                  " font " + font(14, true) + "\n";
  for (const auto& p : panels) s += bars_panel(p, colors, l, data);
  return s + "unset multiplot\n";
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Public API

bool figures_available() { return find_gnuplot().probe.ok; }

std::string figures_status() {
  Gnuplot g = find_gnuplot();
  if (!g.probe.ok) return "figures: off (" + g.probe.why_not + ")";
  return "figures: gnuplot " + g.probe.version + " (" + g.program.path + ")";
}

std::string FigureSet::add_data(std::string text) {
  data_texts_.push_back(std::move(text));
  return "datadir.'/d" + std::to_string(data_texts_.size() - 1) + ".dat'";
}

void FigureSet::add_figure(const std::string& png_path, int width, int height, const std::string& body) {
  for (const auto& r : renames_)
    if (r.second == png_path)
      throw Error("figure " + png_path + " was added twice to one FigureSet; give each figure its own file");
  // Same folder as the final PNG, so the rename is atomic (no copy across file systems).
  std::string temp = png_path + ".tmp." + std::to_string(getpid());
  std::ostringstream s;
  s << "set terminal pngcairo size " << width << "," << height << " noenhanced font " << font(11)
    << " linewidth 1.2\nset output " << quote(temp) << "\n"
    << body << "unset output\nreset\n";
  scripts_.push_back(s.str());
  renames_.emplace_back(temp, png_path);
}

void FigureSet::add_loss_curve(const std::string& png_path, const std::vector<double>& epoch_loss) {
  if (epoch_loss.empty())
    throw Error("loss curve " + png_path + ": no epochs to draw; train at least one epoch first");
  add_figure(png_path, 900, 600, loss_body(epoch_loss, [this](std::string t) { return add_data(std::move(t)); }));
}

void FigureSet::add_roc(const std::string& png_path, const eval::RocCurve& roc, double auroc,
                        double operating_fpr, double operating_tpr) {
  if (roc.fpr.empty() || roc.fpr.size() != roc.tpr.size())
    throw Error("ROC " + png_path + ": the curve has " + std::to_string(roc.fpr.size()) + " FPR and " +
                std::to_string(roc.tpr.size()) + " TPR values; pass the output of eval::roc_curve");
  add_figure(png_path, 800, 760,
             roc_body(roc, auroc, operating_fpr, operating_tpr,
                      [this](std::string t) { return add_data(std::move(t)); }));
}

void FigureSet::add_score_histogram(const std::string& png_path, const std::vector<double>& normal_scores,
                                    const std::vector<double>& anomaly_scores, double threshold) {
  if (normal_scores.empty() && anomaly_scores.empty())
    throw Error("score histogram " + png_path + ": no scores to draw; score some test images first");
  add_figure(png_path, 900, 600,
             histogram_body(normal_scores, anomaly_scores, threshold,
                            [this](std::string t) { return add_data(std::move(t)); }));
}

void FigureSet::add_result_grid(const std::string& png_path, const std::vector<ResultPanel>& panels,
                                double threshold, const std::string& heading) {
  check_panels(png_path, panels);
  GridLayout g;
  std::string body = grid_body(panels, threshold, heading, g,
                               [this](std::string t) { return add_data(std::move(t)); });
  add_figure(png_path, g.width, g.height, body);
}

void FigureSet::add_bench_bars(const std::string& png_path, const std::string& heading,
                               const std::vector<BarPanel>& panels) {
  check_bar_panels(png_path, panels);
  BarsLayout layout = bars_layout(panels);
  add_figure(png_path, layout.width, layout.height,
             bars_body(panels, heading, layout, [this](std::string t) { return add_data(std::move(t)); }));
}

void FigureSet::render() const {
  if (scripts_.empty()) return;
  Gnuplot gnuplot = find_gnuplot();
  if (!gnuplot.probe.ok) throw Error("cannot draw figures: " + gnuplot.probe.why_not);
  const std::string& program = gnuplot.program.path;

  TempPngGuard guard{renames_};
  TempDir dir;
  for (size_t i = 0; i < data_texts_.size(); ++i) dir.write("d" + std::to_string(i) + ".dat", data_texts_[i]);
  std::string script = "set encoding utf8\ndatadir = " + quote(dir.path()) + "\n";
  for (const auto& s : scripts_) script += s;
  std::string script_path = dir.write("figures.gp", script);

  RunResult r = run_captured({program, "-d", script_path});
  if (r.status != 0) {
    std::string first = renames_.front().second + (renames_.size() > 1 ? " and others" : "");
    throw Error("gnuplot failed (" + describe_exit(r) + ") drawing " + first + " with `" + program +
                " -d " + script_path + "` (script removed); no figure was written. gnuplot said:\n" +
                tail(r.output) + "\nCheck that the figure folders exist and are writable.");
  }
  for (const auto& [temp, final_path] : renames_) {
    if (std::rename(temp.c_str(), final_path.c_str()) != 0)
      throw Error("cannot move the figure " + temp + " to " + final_path + ": " + std::strerror(errno) +
                  " (gnuplot " + program + " ran but the image is missing or the target is not writable)");
  }
}

}  // namespace oneclass::report
