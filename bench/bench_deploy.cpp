// bench_deploy: the latency of one image through the C API, and the service's throughput and
// latency under concurrent clients, for each run folder given.
//
//   bench_deploy --image IMAGE [--requests 200] [--clients 1,8] [--repeats 50] [--out F.json] RUN_DIR...
//
// The C API row times oneclass_model_score on decoded RGB pixels (the image resized and converted
// as the run reads it, inside the timing). The service rows start `oneclass serve`'s Service in
// this process on 127.0.0.1 and send multipart uploads of the image's file from K client threads,
// one connection per request; latency is per request, seen by the client.
#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <nlohmann/json.hpp>

#include "oneclass/oneclass.h"
#include "oneclass/serve/service.h"
#include "oneclass/util/atomic_file.h"
#include "oneclass/util/clock.h"
#include "oneclass/util/system_info.h"

namespace {

using oneclass::Clock;

double ms_since(Clock::time_point start) { return oneclass::seconds_since(start) * 1000.0; }

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t at = std::min(values.size() - 1, static_cast<size_t>(p / 100.0 * static_cast<double>(values.size())));
  return values[at];
}

nlohmann::json summary(const std::vector<double>& ms) {
  return {{"p50_ms", percentile(ms, 50)}, {"p90_ms", percentile(ms, 90)}, {"p99_ms", percentile(ms, 99)},
          {"n", ms.size()}};
}

nlohmann::json time_c_api(const std::string& run_dir, const cv::Mat& rgb, int repeats) {
  oneclass_model* model = nullptr;
  if (oneclass_model_open(run_dir.c_str(), "auto", &model) != ONECLASS_OK) {
    throw std::runtime_error(run_dir + ": " + oneclass_last_error());
  }
  const oneclass_image image{rgb.data, rgb.cols, rgb.rows, rgb.channels(), static_cast<int64_t>(rgb.step),
                             ONECLASS_PIXELS_U8};
  const int flags = oneclass_model_has_map(model) ? ONECLASS_WITH_MAP : 0;
  std::vector<double> ms;
  for (int i = 0; i < repeats + 3; ++i) {  // 3 warm-up calls
    oneclass_result* result = nullptr;
    const auto start = Clock::now();
    if (oneclass_model_score(model, &image, flags, &result) != ONECLASS_OK) {
      throw std::runtime_error(run_dir + ": " + oneclass_last_error());
    }
    if (i >= 3) ms.push_back(ms_since(start));
    oneclass_result_free(result);
  }
  nlohmann::json row = summary(ms);
  row["detector"] = oneclass_model_detector(model);
  row["with_map"] = flags != 0;
  oneclass_model_free(model);
  return row;
}

nlohmann::json time_service(const std::string& run_dir, const std::string& file_bytes, int clients, int requests) {
  oneclass::serve::ServeOptions options;
  options.run_dir = run_dir;
  options.port = 0;
  options.threads = std::max(2, clients);
  oneclass::serve::Service service(options);
  const int port = service.bind();
  std::thread server([&] { service.listen(); });
  auto post = [&] {
    httplib::Client client("127.0.0.1", port);
    client.set_read_timeout(120, 0);
    const auto r = client.Post("/score", httplib::MultipartFormDataItems{{"image", file_bytes, "part.png", "image/png"}});
    return r && r->status == 200;
  };
  for (int i = 0; i < 3; ++i) post();  // warm-up
  std::vector<std::vector<double>> per_client(static_cast<size_t>(clients));
  std::vector<int> failures(static_cast<size_t>(clients), 0);
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      for (int i = c; i < requests; i += clients) {
        const auto sent = Clock::now();
        if (!post()) ++failures[static_cast<size_t>(c)];
        per_client[static_cast<size_t>(c)].push_back(ms_since(sent));
      }
    });
  }
  for (auto& t : threads) t.join();
  const double seconds = ms_since(start) / 1000.0;
  service.stop();
  server.join();
  std::vector<double> ms;
  int failed = 0;
  for (size_t c = 0; c < per_client.size(); ++c) {
    ms.insert(ms.end(), per_client[c].begin(), per_client[c].end());
    failed += failures[c];
  }
  nlohmann::json row = summary(ms);
  row.update({{"clients", clients}, {"requests", requests}, {"failed", failed},
              {"requests_per_second", static_cast<double>(requests) / seconds}});
  return row;
}

std::vector<int> parse_list(const std::string& text) {
  std::vector<int> values;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) values.push_back(std::stoi(item));
  return values;
}

}  // namespace

int main(int argc, char** argv) {
  std::string image_path, out_path;
  int requests = 200, repeats = 50;
  std::vector<int> clients{1, 8};
  std::vector<std::string> runs;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (arg == "--image") image_path = value();
    else if (arg == "--out") out_path = value();
    else if (arg == "--requests") requests = std::stoi(value());
    else if (arg == "--repeats") repeats = std::stoi(value());
    else if (arg == "--clients") clients = parse_list(value());
    else runs.push_back(arg);
  }
  if (image_path.empty() || runs.empty()) {
    std::fprintf(stderr, "usage: bench_deploy --image IMAGE [--requests N] [--clients 1,8] [--repeats N] "
                         "[--out F.json] RUN_DIR...\n");
    return 2;
  }
  const cv::Mat file = cv::imread(image_path, cv::IMREAD_COLOR);
  if (file.empty()) {
    std::fprintf(stderr, "bench_deploy: %s: not a readable image\n", image_path.c_str());
    return 1;
  }
  cv::Mat rgb;
  cv::cvtColor(file, rgb, cv::COLOR_BGR2RGB);
  std::ifstream in(image_path, std::ios::binary);
  const std::string file_bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());

  oneclass::configure_threads(0);
  nlohmann::json report = {{"environment", oneclass::environment_record(oneclass::resolve_device("auto"))},
                           {"image", image_path}, {"image_size", {file.cols, file.rows}}, {"runs", nlohmann::json::array()}};
  std::printf("%s\nimage %s (%dx%d)\n\n", oneclass::doctor_line(oneclass::resolve_device("auto")).c_str(),
              image_path.c_str(), file.cols, file.rows);
  std::printf("| run | detector | C API p50 ms | C API p90 ms |");
  for (int k : clients) std::printf(" serve %d client%s: req/s, p50, p99 ms |", k, k > 1 ? "s" : "");
  std::printf("\n|---|---|---|---|");
  for (size_t k = 0; k < clients.size(); ++k) std::printf("---|");
  std::printf("\n");
  for (const auto& run : runs) {
    try {
      nlohmann::json row = {{"run", run}, {"c_api", time_c_api(run, rgb, repeats)}, {"service", nlohmann::json::array()}};
      std::printf("| %s | %s | %.2f | %.2f |", run.c_str(), row["c_api"]["detector"].get<std::string>().c_str(),
                  row["c_api"]["p50_ms"].get<double>(), row["c_api"]["p90_ms"].get<double>());
      for (int k : clients) {
        const auto served = time_service(run, file_bytes, k, requests);
        row["service"].push_back(served);
        std::printf(" %.1f, %.1f, %.1f%s |", served["requests_per_second"].get<double>(), served["p50_ms"].get<double>(),
                    served["p99_ms"].get<double>(), served["failed"].get<int>() > 0 ? " (FAILURES)" : "");
      }
      std::printf("\n");
      std::fflush(stdout);
      report["runs"].push_back(row);
    } catch (const std::exception& e) {
      std::printf("| %s | error: %s |\n", run.c_str(), e.what());
    }
  }
  if (!out_path.empty()) oneclass::write_file_atomic(out_path, report.dump(2) + "\n");
  return 0;
}
