#include "serve/prometheus.h"

#include <fmt/format.h>

namespace oneclass::serve {

std::string prometheus_label(const std::string& value) {
  std::string escaped;
  for (const char c : value) {
    if (c == '\\' || c == '"') escaped += '\\';
    escaped += c == '\n' ? std::string("\\n") : std::string(1, c);
  }
  return escaped;
}

void RequestMetrics::record_request(const std::string& route, int status, double seconds) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++requests_[{route, status}];
  auto& buckets = latency_buckets_[route];
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    if (seconds <= kBuckets[i]) ++buckets[i];
  }
  ++buckets.back();  // +Inf: every request
  latency_sum_[route] += seconds;
}

void RequestMetrics::record_images(int64_t scored, int64_t flagged) {
  std::lock_guard<std::mutex> lock(mutex_);
  images_scored_ += scored;
  images_flagged_ += flagged;
}

std::string RequestMetrics::exposition(const std::string& model, const std::string& run) const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string text;
  text += "# HELP oneclass_model_info The run being served.\n# TYPE oneclass_model_info gauge\n";
  text += fmt::format("oneclass_model_info{{model=\"{}\",run=\"{}\"}} 1\n", prometheus_label(model), prometheus_label(run));
  text += "# HELP oneclass_http_requests_total HTTP requests answered, by route and status.\n"
          "# TYPE oneclass_http_requests_total counter\n";
  for (const auto& [key, count] : requests_) {
    text += fmt::format("oneclass_http_requests_total{{route=\"{}\",status=\"{}\"}} {}\n", prometheus_label(key.first),
                        key.second, count);
  }
  text += "# HELP oneclass_http_request_errors_total HTTP requests answered with a 4xx or 5xx status.\n"
          "# TYPE oneclass_http_request_errors_total counter\n";
  std::map<std::string, int64_t> errors;
  for (const auto& [key, count] : requests_) {
    if (key.second >= 400) errors[key.first] += count;
  }
  for (const auto& [route, count] : errors) {
    text += fmt::format("oneclass_http_request_errors_total{{route=\"{}\"}} {}\n", prometheus_label(route), count);
  }
  text += "# HELP oneclass_http_request_duration_seconds Time from request to response, by route.\n"
          "# TYPE oneclass_http_request_duration_seconds histogram\n";
  for (const auto& [route, buckets] : latency_buckets_) {
    const std::string label = prometheus_label(route);
    for (size_t i = 0; i < kBuckets.size(); ++i) {
      text += fmt::format("oneclass_http_request_duration_seconds_bucket{{route=\"{}\",le=\"{}\"}} {}\n", label,
                          kBuckets[i], buckets[i]);
    }
    text += fmt::format("oneclass_http_request_duration_seconds_bucket{{route=\"{}\",le=\"+Inf\"}} {}\n", label,
                        buckets.back());
    text += fmt::format("oneclass_http_request_duration_seconds_sum{{route=\"{}\"}} {:.9g}\n", label,
                        latency_sum_.at(route));
    text += fmt::format("oneclass_http_request_duration_seconds_count{{route=\"{}\"}} {}\n", label, buckets.back());
  }
  text += "# HELP oneclass_images_scored_total Images scored.\n# TYPE oneclass_images_scored_total counter\n";
  text += fmt::format("oneclass_images_scored_total {}\n", images_scored_);
  text += "# HELP oneclass_images_flagged_total Images scored above the threshold.\n"
          "# TYPE oneclass_images_flagged_total counter\n";
  text += fmt::format("oneclass_images_flagged_total {}\n", images_flagged_);
  return text;
}

}  // namespace oneclass::serve
