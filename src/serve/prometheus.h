#pragma once
// The service's counters and latency histogram, written in Prometheus' text exposition format
// (version 0.0.4). Safe to update from every request thread.
#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>

namespace oneclass::serve {

class RequestMetrics {
 public:
  /// Upper bounds of the latency buckets, seconds.
  static constexpr std::array<double, 12> kBuckets{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                   0.1,   0.25,   0.5,   1.0,  2.5,   10.0};

  void record_request(const std::string& route, int status, double seconds);
  void record_images(int64_t scored, int64_t flagged);
  /// The exposition text; `model` and `run` label the info line.
  std::string exposition(const std::string& model, const std::string& run) const;

 private:
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, int>, int64_t> requests_;  // (route, status) -> count
  std::map<std::string, std::array<int64_t, kBuckets.size() + 1>> latency_buckets_;  // per route; last: +Inf
  std::map<std::string, double> latency_sum_;
  int64_t images_scored_ = 0;
  int64_t images_flagged_ = 0;
};

/// A label value with backslash, double quote and newline escaped, as the format requires.
std::string prometheus_label(const std::string& value);

}  // namespace oneclass::serve
