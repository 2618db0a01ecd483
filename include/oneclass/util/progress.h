#pragma once
// A progress bar on a terminal (redrawn at most ~10 times a second), plain lines otherwise.
#include "oneclass/util/clock.h"
#include <cstdio>
#include <string>

namespace oneclass {

class ProgressBar {
 public:
  /// `total` units of work (e.g. optimizer steps); `label` prefixes every line.
  ProgressBar(std::string label, long total, bool enabled = true, FILE* stream = stderr);
  /// Advances by `units`; `status` is shown after the bar (e.g. "epoch 3/10 loss 0.0123").
  void advance(long units, const std::string& status);
  /// Prints a plain line now (non-terminal output gets one per call; e.g. at the end of an epoch).
  void milestone(const std::string& status);
  /// Prints `line` on its own line (above the bar on a terminal, which is then redrawn).
  void note(const std::string& line);
  /// Ends the bar with a final line.
  void finish(const std::string& status);

 private:
  void draw(const std::string& status, bool force);
  std::string label_;
  long total_, done_ = 0;
  std::string status_;  // last status shown
  bool enabled_, is_tty_;
  FILE* stream_;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

/// "1.2 s", "3 min 05 s".
std::string format_duration(double seconds);

}  // namespace oneclass
