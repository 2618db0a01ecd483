#include "oneclass/util/progress.h"

#include <unistd.h>

#include <cmath>

#include <fmt/format.h>

namespace oneclass {

std::string format_duration(double seconds) {
  if (seconds < 60) return fmt::format("{:.1f} s", seconds);
  const long whole = std::lround(seconds);
  return fmt::format("{} min {:02} s", whole / 60, whole % 60);
}

ProgressBar::ProgressBar(std::string label, long total, bool enabled, FILE* stream)
    : label_(std::move(label)), total_(total), enabled_(enabled), is_tty_(::isatty(::fileno(stream)) != 0),
      stream_(stream), start_(std::chrono::steady_clock::now()), last_draw_(start_) {}

void ProgressBar::advance(long units, const std::string& status) {
  done_ += units;
  // Only a terminal gets the live bar; logs get milestone lines instead.
  if (enabled_ && is_tty_) draw(status, /*force=*/false);
}

void ProgressBar::milestone(const std::string& status) {
  if (!enabled_) return;
  if (is_tty_) {
    draw(status, /*force=*/true);
    return;
  }
  const double elapsed = seconds_since(start_);
  std::fprintf(stream_, "%s %s (%s)\n", label_.c_str(), status.c_str(), format_duration(elapsed).c_str());
  std::fflush(stream_);
}

void ProgressBar::note(const std::string& line) {
  if (is_tty_ && enabled_) std::fprintf(stream_, "\r\033[K");
  std::fprintf(stream_, "%s\n", line.c_str());
  if (is_tty_ && enabled_) draw(status_, /*force=*/true);
  std::fflush(stream_);
}

void ProgressBar::finish(const std::string& status) {
  if (!enabled_) return;
  const double elapsed = seconds_since(start_);
  if (is_tty_) std::fprintf(stream_, "\r\033[K");
  std::fprintf(stream_, "%s %s in %s\n", label_.c_str(), status.c_str(), format_duration(elapsed).c_str());
  std::fflush(stream_);
}

void ProgressBar::draw(const std::string& status, bool force) {
  status_ = status;
  const auto now = std::chrono::steady_clock::now();
  if (!force && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  const double fraction = total_ > 0 ? static_cast<double>(done_) / static_cast<double>(total_) : 1.0;
  const double elapsed = seconds_since(start_);
  const double eta = fraction > 0 ? elapsed * (1.0 - fraction) / fraction : 0.0;
  constexpr int kWidth = 30;
  const int filled = static_cast<int>(fraction * kWidth);
  std::string bar(static_cast<size_t>(filled), '#');
  bar.append(static_cast<size_t>(kWidth - filled), '.');
  std::fprintf(stream_, "\r\033[K%s [%s] %3.0f%% %s ETA %s", label_.c_str(), bar.c_str(), 100.0 * fraction,
               status.c_str(), format_duration(eta).c_str());
  std::fflush(stream_);
}

}  // namespace oneclass
