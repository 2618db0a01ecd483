#pragma once
// `oneclass serve RUN_DIR`: a trained run behind HTTP (cpp-httplib, an optional dependency).
//   POST /score        one image (multipart field `image`, or the raw body with an image/* type)
//   POST /score/batch  several images (multipart fields named `image`)
//   GET  /model        what was trained on what, the threshold, the run's metrics
//   GET  /health       liveness, never behind the token
//   GET  /metrics      Prometheus text: requests, errors, latency histogram, images scored
//   GET  /             a web page to drop an image on and see the verdict and heat map
// Every failure is a JSON {"error": "..."} with a 4xx status (5xx only for the server's own faults).
#include <cstdint>
#include <memory>
#include <string>

namespace oneclass::serve {

struct ServeOptions {
  std::string run_dir;
  std::string host = "127.0.0.1";
  int port = 8000;                   // 0: any free port
  int threads = 0;                   // request threads; 0 = one per core (at least 2)
  double max_upload_mb = 20;         // largest request body
  int64_t max_pixels = 40'000'000;   // largest image, width x height, checked before decoding
  int max_batch = 32;                // most images in one /score/batch
  std::string token_file;            // bearer token required by every route but /health
  std::string device = "auto";
};

/// True when this build has the service (cpp-httplib was found at configure time).
bool service_supported();
/// One line: what serves HTTP, or what to install to switch the service on.
std::string service_status();

class Service {
 public:
  /// Opens the run and reads the token file. Throws Error for a bad run, token file or option.
  explicit Service(const ServeOptions& options);
  ~Service();
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  /// Binds host:port and returns the port (the chosen one for port 0). Throws Error naming the
  /// address when it cannot bind.
  int bind();
  /// Serves until stop(); call after bind().
  void listen();
  /// Stops listen() from any thread (a signal handler must not call it: see serve()).
  void stop();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

/// The command: binds, prints the address (and a warning when the address is not a loopback one
/// and no token is required), serves until SIGINT or SIGTERM. Returns the exit code.
int serve(const ServeOptions& options);

}  // namespace oneclass::serve
