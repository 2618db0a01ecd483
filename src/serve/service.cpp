// `oneclass serve`: see include/oneclass/serve/service.h.
#include "oneclass/serve/service.h"

#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <thread>

#include <torch/torch.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "oneclass/config.h"
#include "oneclass/data/image_files.h"
#include "oneclass/engine/scoring_model.h"
#include "oneclass/error.h"
#include "oneclass/util/atomic_file.h"
#include "oneclass/util/base64.h"
#include "oneclass/util/clock.h"
#include "oneclass/util/system_info.h"
#include "serve/page.h"
#include "serve/prometheus.h"
#include "serve/uploads.h"

#ifdef ONECLASS_HAVE_HTTP
#include <httplib.h>
#endif

namespace oneclass::serve {

#ifdef ONECLASS_HAVE_HTTP

namespace {

double milliseconds_since(Clock::time_point start) { return seconds_since(start) * 1000.0; }

// Compares in time independent of where the strings differ, so that the token cannot be guessed
// byte by byte from response times.
bool same_secret(const std::string& a, const std::string& b) {
  unsigned char difference = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i) difference |= static_cast<unsigned char>(a[i] ^ b[i % std::max<size_t>(1, b.size())]);
  return difference == 0;
}

std::string read_token(const std::string& path) {
  if (path.empty()) return "";
  std::string token;
  try {
    token = read_file(path);
  } catch (const Error& e) {
    throw Error("--token-file " + path + ": " + e.what());
  }
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.front()))) token.erase(0, 1);
  if (token.size() < 16) {
    throw Error("--token-file " + path + ": the token has " + std::to_string(token.size()) +
                " characters; use at least 16 (e.g. head -c 24 /dev/urandom | base64 > " + path + ")");
  }
  return token;
}

bool is_loopback(const std::string& host) {
  return host == "127.0.0.1" || host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

void send_json(httplib::Response& response, int status, const nlohmann::json& body) {
  response.status = status;
  // Invalid UTF-8 (a client's file name) is replaced, not thrown on: the answer must still go out.
  response.set_content(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), "application/json");
}

void send_error(httplib::Response& response, int status, const std::string& message) {
  send_json(response, status, {{"error", message}});
}

}  // namespace

struct Service::Impl {
  ServeOptions options;
  std::unique_ptr<ScoringModel> model;
  std::string token;
  nlohmann::json model_info;
  RequestMetrics metrics;
  httplib::Server server;
  int port = 0;
  socket_t listening_socket = INVALID_SOCKET;

  UploadLimits limits(size_t max_images) const { return {options.max_pixels, max_images}; }

  // One image: its verdict, the overlay when the detector has maps, the notes and timings.
  nlohmann::json score_upload(const Upload& upload) {
    const auto start = Clock::now();
    check_declared_image(upload, limits(1));
    PreparedImage image;
    try {
      image = model->prepare_encoded(upload.bytes, upload.name);
    } catch (const Error& e) {
      throw Refusal{400, e.what()};  // truncated or corrupt: the client's file
    }
    const double decode_ms = milliseconds_since(start);
    const auto scoring = Clock::now();
    const Verdict verdict = model->score(std::vector<PreparedImage>{image}, model->has_maps()).front();
    const double score_ms = milliseconds_since(scoring);
    nlohmann::json result = {{"score", verdict.score},
                             {"threshold", model->threshold()},
                             {"flagged", verdict.flagged},
                             {"model", model->detector_name()},
                             {"run", options.run_dir},
                             {"image", {{"file", upload.name}, {"width", image.width}, {"height", image.height},
                                        {"channels", image.channels}}},
                             {"notes", image.notes}};
    if (verdict.map.defined() && data::image_files_supported()) {  // the overlay's PNG needs OpenCV
      // The overlay's colours run from 0 to this image's largest map value (map_max), as
      // `oneclass score --maps` does for the images of one call.
      const double map_max = verdict.map.max().item<double>();
      result["map_max"] = map_max;
      result["overlay_png_base64"] = base64_encode(data::encode_heat_map_overlay(image.pixels, verdict.map, map_max));
    }
    result["timing_ms"] = {{"decode", decode_ms}, {"score", score_ms}, {"total", milliseconds_since(start)}};
    metrics.record_images(1, verdict.flagged ? 1 : 0);
    return result;
  }

  std::vector<Upload> uploads(const httplib::Request& request, size_t max_images) const {
    std::vector<FormField> fields;
    for (const auto& [field, file] : request.files) fields.push_back({field, file.filename, file.content});
    return uploads_of(request.get_header_value("Content-Type"), fields, request.body, limits(max_images));
  }

  void handle_score(const httplib::Request& request, httplib::Response& response) {
    send_json(response, 200, score_upload(uploads(request, 1).front()));
  }

  // Each image on its own: one bad file is an error entry, the others are still scored.
  void handle_batch(const httplib::Request& request, httplib::Response& response) {
    nlohmann::json results = nlohmann::json::array();
    for (const auto& upload : uploads(request, static_cast<size_t>(options.max_batch))) {
      try {
        results.push_back(score_upload(upload));
      } catch (const Refusal& refusal) {
        results.push_back({{"image", {{"file", upload.name}}}, {"error", refusal.message}, {"status", refusal.status}});
      }
    }
    send_json(response, 200, {{"count", results.size()}, {"results", results}});
  }

  bool authorised(const httplib::Request& request) const {
    if (token.empty() || request.path == "/health") return true;
    const std::string header = request.get_header_value("Authorization");
    if (header.rfind("Bearer ", 0) == 0 && same_secret(header.substr(7), token)) return true;
    // The page itself is opened by a browser, which cannot send a header: /?token=...; its
    // scripts then send the header.
    return request.path == "/" && request.has_param("token") && same_secret(request.get_param_value("token"), token);
  }

  // A route's handler with the service's rules: refusals and failures become JSON errors, every
  // answer is counted and timed.
  httplib::Server::Handler route(const std::string& name,
                                 std::function<void(const httplib::Request&, httplib::Response&)> handle) {
    return [this, name, handle](const httplib::Request& request, httplib::Response& response) {
      const auto start = Clock::now();
      try {
        handle(request, response);
      } catch (const Refusal& refusal) {
        send_error(response, refusal.status, refusal.message);
      } catch (const Error& e) {  // the client's faults are Refusals; this is the service's
        send_error(response, 500, e.what());
      } catch (const c10::Error& e) {
        send_error(response, 500, std::string("scoring failed: ") + e.what_without_backtrace());
      } catch (const std::bad_alloc&) {
        send_error(response, 503, "out of memory; try a smaller image");
      } catch (const std::exception& e) {
        send_error(response, 500, e.what());
      }
      metrics.record_request(name, response.status, milliseconds_since(start) / 1000.0);
    };
  }

  void add_routes() {
    server.Get("/health", route("/health", [](const auto&, auto& response) { send_json(response, 200, {{"status", "ok"}}); }));
    server.Get("/model", route("/model", [this](const auto&, auto& response) { send_json(response, 200, model_info); }));
    server.Get("/metrics", route("/metrics", [this](const auto&, auto& response) {
      response.status = 200;
      response.set_content(metrics.exposition(model->detector_name(), options.run_dir), "text/plain; version=0.0.4");
    }));
    server.Get("/", route("/", [](const auto&, auto& response) {
      response.status = 200;
      response.set_content(std::string(kPageHtml), "text/html; charset=utf-8");
    }));
    server.Post("/score", route("/score", [this](const auto& request, auto& response) { handle_score(request, response); }));
    server.Post("/score/batch",
                route("/score/batch", [this](const auto& request, auto& response) { handle_batch(request, response); }));
  }

  void add_guards() {
    server.set_pre_routing_handler([this](const httplib::Request& request, httplib::Response& response) {
      if (authorised(request)) return httplib::Server::HandlerResponse::Unhandled;
      response.set_header("WWW-Authenticate", "Bearer");
      send_error(response, 401, "this service needs a token: send the header 'Authorization: Bearer <token>' "
                                "(the page: open /?token=<token>)");
      metrics.record_request("unauthorised", 401, 0);
      return httplib::Server::HandlerResponse::Handled;
    });
    // What cpp-httplib answers itself (an unknown route, a body over the limit) gets a JSON body too.
    // Named type: a lambda converts to both of set_error_handler's overloads.
    const httplib::Server::HandlerWithResponse json_error = [this](const httplib::Request& request,
                                                                  httplib::Response& response) {
      if (!response.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
      std::string message = fmt::format("HTTP {} for {} {}", response.status, request.method, request.path);
      if (response.status == 404) message = "no route " + request.method + " " + request.path +
                                            "; routes: GET / /health /model /metrics, POST /score /score/batch";
      if (response.status == 413) {
        message = fmt::format("the request body is over the limit of {:g} MB (--max-upload-mb)", options.max_upload_mb);
      }
      send_error(response, response.status, message);
      metrics.record_request("other", response.status, 0);
      return httplib::Server::HandlerResponse::Handled;
    };
    server.set_error_handler(json_error);
  }
};

Service::Service(const ServeOptions& options) : impl_(std::make_unique<Impl>()) {
  Impl& s = *impl_;
  s.options = options;
  if (options.max_upload_mb <= 0) throw Error("--max-upload-mb must be positive");
  if (options.max_pixels <= 0) throw Error("--max-pixels must be positive");
  if (options.max_batch <= 0) throw Error("--max-batch must be positive");
  s.token = read_token(options.token_file);
  s.model = ScoringModel::open(options.run_dir, options.device);
  s.model_info = {{"model", s.model->detector_name()},
                  {"run", options.run_dir},
                  {"dataset", s.model->config().value("dataset", "")},
                  {"category", s.model->config().value("category", "")},
                  {"trained_on", s.model->trained_on()},
                  {"threshold", s.model->threshold()},
                  {"input_shape", s.model->input_shape()},
                  {"has_maps", s.model->has_maps()},
                  {"model_options", s.model->config().value("model_options", nlohmann::json::object())},
                  {"metrics", s.model->metrics()},
                  {"limits", {{"max_upload_mb", options.max_upload_mb}, {"max_pixels", options.max_pixels},
                              {"max_batch", options.max_batch}}},
                  {"version", ONECLASS_VERSION}};
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const int threads = options.threads > 0 ? options.threads : std::max(2, cores);
  s.server.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  s.server.set_payload_max_length(static_cast<size_t>(options.max_upload_mb * 1024 * 1024));
  s.server.set_read_timeout(30, 0);
  // cpp-httplib listens with a backlog of 5, fixed when Debian's library was compiled: a burst of
  // clients beyond it overflows the kernel's queue, and some see their connection reset. So the
  // listening socket is remembered as it is made, and bind() listens on it again with a deeper queue.
  s.server.set_socket_options([&s](socket_t socket) {
    httplib::default_socket_options(socket);
    s.listening_socket = socket;
  });
  s.server.set_write_timeout(30, 0);
  s.add_guards();
  s.add_routes();
}

Service::~Service() = default;

int Service::bind() {
  Impl& s = *impl_;
  s.port = s.options.port == 0 ? s.server.bind_to_any_port(s.options.host)
                               : (s.server.bind_to_port(s.options.host, s.options.port) ? s.options.port : -1);
  if (s.port <= 0) {
    throw Error(fmt::format("cannot listen on {}:{} (in use, or not an address of this machine); choose another "
                            "--port or --host",
                            s.options.host, s.options.port));
  }
  ::listen(s.listening_socket, SOMAXCONN);  // a second listen() only deepens the queue
  return s.port;
}

void Service::listen() { impl_->server.listen_after_bind(); }

void Service::stop() { impl_->server.stop(); }

bool service_supported() { return true; }

std::string service_status() { return "service: cpp-httplib " CPPHTTPLIB_VERSION; }

namespace {
volatile std::sig_atomic_t stop_requested = 0;
void on_signal(int) { stop_requested = 1; }
}  // namespace

int serve(const ServeOptions& options) {
  configure_threads(0);
  Service service(options);
  const int port = service.bind();
  const std::string token_note = options.token_file.empty() ? "" : "; requests need the bearer token";
  if (!is_loopback(options.host) && options.token_file.empty()) {
    std::fprintf(stderr,
                 "warning: listening on %s without --token-file: anyone who can reach this address can use the "
                 "service\n",
                 options.host.c_str());
  }
  std::printf("serving %s on http://%s:%d/ (page at /, POST /score, GET /metrics)%s; Ctrl-C stops\n",
              options.run_dir.c_str(), options.host.c_str(), port, token_note.c_str());
  std::fflush(stdout);
  // The signal only sets a flag; a watcher thread stops the server outside the handler.
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::thread watcher([&] {
    while (!stop_requested) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    service.stop();
  });
  service.listen();
  stop_requested = 1;
  watcher.join();
  std::printf("stopped\n");
  return 0;
}

#else  // no cpp-httplib

bool service_supported() { return false; }
std::string service_status() {
  return "the service is off in this build: it needs cpp-httplib, which was not found; apt-get install "
         "libcpp-httplib-dev, then configure and build again (make does both)";
}
struct Service::Impl {};
Service::Service(const ServeOptions&) { throw Error(service_status()); }
Service::~Service() = default;
int Service::bind() { throw Error(service_status()); }
void Service::listen() {}
void Service::stop() {}
int serve(const ServeOptions&) { throw Error(service_status()); }

#endif

}  // namespace oneclass::serve
