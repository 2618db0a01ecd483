// The three ways a trained run is deployed: ScoringModel (what they share), the C API and the
// scoring service. Two small runs are trained once (an MLP autoencoder on grey 28x28 arrays, read
// like MNIST; and on colour 32x32 arrays, read like camera images), then scored every way; the
// scores must agree to the last bit.
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <thread>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include "oneclass/data/images.h"
#include "oneclass/engine/fit_images.h"
#include "oneclass/engine/scoring_model.h"
#include "oneclass/oneclass.h"
#include "oneclass/serve/service.h"
#include "support/test_support.h"

namespace {

using namespace oneclass;
using namespace oneclass::testing_support;
using json = nlohmann::json;

// Normal images: a bright square at a jittered place; anomalies: a bright cross.
at::Tensor normal_images(int64_t n, int64_t channels, int64_t side, uint64_t seed) {
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  auto images = torch::rand({n, channels, side, side}, generator) * 0.1;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t at = 4 + i % 4;
    images[i].narrow(1, at, side / 2).narrow(2, at, side / 2).fill_(0.9);
  }
  return images.to(torch::kFloat);
}

// An 8-bit image [H, W, C] as cv::Mat would hold a file (BGR for colour), and its PNG bytes.
cv::Mat to_mat(const at::Tensor& image) {  // image: float [C, H, W]
  const auto hwc = image.permute({1, 2, 0}).mul(255).round().clamp(0, 255).to(torch::kUInt8).contiguous();
  const int channels = static_cast<int>(hwc.size(2));
  cv::Mat rgb(static_cast<int>(hwc.size(0)), static_cast<int>(hwc.size(1)), CV_8UC(channels), hwc.data_ptr<uint8_t>());
  cv::Mat copy = rgb.clone();
  if (channels == 3) cv::cvtColor(rgb, copy, cv::COLOR_RGB2BGR);
  return copy;
}

std::string png_bytes(const cv::Mat& mat) {
  std::vector<uint8_t> bytes;
  cv::imencode(".png", mat, bytes);
  return std::string(bytes.begin(), bytes.end());
}

// The same image as RGB(A)/grey pixels for the C API.
std::vector<uint8_t> rgb_pixels(const cv::Mat& file_mat) {
  cv::Mat rgb = file_mat.clone();  // cvtColor into a header of file_mat would swap it in place
  if (file_mat.channels() == 3) cv::cvtColor(file_mat, rgb, cv::COLOR_BGR2RGB);
  return std::vector<uint8_t>(rgb.data, rgb.data + rgb.total() * rgb.elemSize());
}

class Deploy : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    torch::set_num_threads(1);
    dir_ = new TempDir("oneclass-deploy");
    for (const auto& [name, channels, side] : {std::tuple{"grey", 1, 28}, std::tuple{"colour", 3, 32}}) {
      ImageFitOptions options;
      options.model = "mlp-ae";
      options.model_options = {{"epochs", 3}, {"z", 8}};
      auto fitted = fit_images(normal_images(64, channels, side, 1), options);
      save_fitted_images(fitted, dir_->file(name), false);
    }
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static std::string run(const std::string& name) { return dir_->file(name); }

  // Test images: normal ones and anomalies (a cross), as 8-bit file pixels.
  static std::vector<cv::Mat> test_mats(int channels, int side, int count) {
    std::vector<cv::Mat> mats;
    auto images = normal_images(count, channels, side, 7);
    for (int i = 0; i < count; i += 2) {
      images[i].narrow(1, side / 2 - 1, 2).fill_(1.0);
      images[i].narrow(2, side / 2 - 1, 2).fill_(1.0);
    }
    for (int i = 0; i < count; ++i) mats.push_back(to_mat(images[i]));
    return mats;
  }

  static TempDir* dir_;
};

TempDir* Deploy::dir_ = nullptr;

TEST_F(Deploy, FileBytesAndPixelsScoreAlikeToTheLastBit) {
  for (const auto& [name, channels, side] : {std::tuple{"grey", 1, 28}, std::tuple{"colour", 3, 32}}) {
    const auto model = ScoringModel::open(run(name), "cpu");
    for (const auto& mat : test_mats(channels, side, 4)) {
      const std::string bytes = png_bytes(mat);
      write_file(dir_->file("image.png"), bytes);
      const auto from_file = model->prepare_file(dir_->file("image.png"));
      const auto from_bytes = model->prepare_encoded(bytes, "upload");
      const auto pixels = rgb_pixels(mat);
      data::PixelView view{pixels.data(), mat.cols, mat.rows, mat.channels(), 0, false};
      const auto from_pixels = model->prepare_pixels(view, "buffer");
      EXPECT_EQ(pixels, rgb_pixels(mat)) << name << ": the caller's pixels are left as they were";
      EXPECT_TRUE(torch::equal(model->prepare_pixels(view, "again").pixels, from_pixels.pixels)) << name;
      EXPECT_TRUE(torch::equal(from_file.pixels, from_bytes.pixels)) << name;
      EXPECT_TRUE(torch::equal(from_file.pixels, from_pixels.pixels)) << name;
      const auto a = model->score({from_file}, true).front();
      const auto b = model->score({from_pixels}, true).front();
      EXPECT_EQ(a.score, b.score) << name;
      EXPECT_TRUE(torch::equal(a.map, b.map)) << name;
      EXPECT_EQ(a.flagged, a.score > model->threshold());
    }
  }
}

TEST_F(Deploy, ScoringModelFlagsTheAnomalies) {
  const auto model = ScoringModel::open(run("grey"), "cpu");
  std::vector<PreparedImage> images;
  const auto mats = test_mats(1, 28, 8);
  for (const auto& mat : mats) images.push_back(model->prepare_encoded(png_bytes(mat), "x"));
  const auto verdicts = model->score(images, false);
  double lowest_anomaly = INFINITY, highest_normal = -INFINITY;
  for (size_t i = 0; i < verdicts.size(); ++i) {
    if (i % 2 == 0) {
      EXPECT_TRUE(verdicts[i].flagged) << "image " << i << " has a cross: score " << verdicts[i].score;
      lowest_anomaly = std::min(lowest_anomaly, verdicts[i].score);
    } else {
      highest_normal = std::max(highest_normal, verdicts[i].score);
    }
  }
  EXPECT_GT(lowest_anomaly, highest_normal) << "every cross scores above every normal image";
  EXPECT_EQ(model->trained_on(), "64 arrays (Python)");
}

TEST_F(Deploy, ConversionsAreNoted) {
  const auto model = ScoringModel::open(run("colour"), "cpu");
  cv::Mat grey(48, 64, CV_8UC1, cv::Scalar(30));
  const auto image = model->prepare_encoded(png_bytes(grey), "grey.png");
  ASSERT_EQ(image.notes.size(), 2u);
  EXPECT_EQ(image.notes[0], "converted from 1 to 3 channels");
  EXPECT_EQ(image.notes[1], "resized from 64x48 to 32x32 (centre square)");
  EXPECT_EQ(image.pixels.sizes(), (std::vector<int64_t>{3, 32, 32}));
}

TEST(ImageHeader, DeclaredSizesAreReadWithoutDecoding) {
  cv::Mat image(30, 50, CV_8UC3, cv::Scalar(1, 2, 3));
  for (const std::string extension : {".png", ".jpg", ".bmp", ".tiff"}) {
    std::vector<uint8_t> bytes;
    cv::imencode(extension, image, bytes);
    const auto header = data::read_image_header(std::string(bytes.begin(), bytes.end()));
    ASSERT_TRUE(header.has_value()) << extension;
    EXPECT_EQ(header->width, 50) << extension;
    EXPECT_EQ(header->height, 30) << extension;
  }
  EXPECT_FALSE(data::read_image_header("not an image at all").has_value());
  EXPECT_FALSE(data::read_image_header("\x89PNG\r\n").has_value());  // cut short
  // A PNG header that declares 100000 x 100000 pixels: read, not decoded.
  std::vector<uint8_t> bytes;
  cv::imencode(".png", image, bytes);
  std::string forged(bytes.begin(), bytes.end());
  const char huge[4] = {0x00, 0x01, static_cast<char>(0x86), static_cast<char>(0xA0)};  // 100000
  forged.replace(16, 4, huge, 4);
  forged.replace(20, 4, huge, 4);
  const auto header = data::read_image_header(forged);
  ASSERT_TRUE(header.has_value());
  EXPECT_EQ(header->width, 100000);
}

// ---- The C API ------------------------------------------------------------------------------

TEST_F(Deploy, CApiScoresAsScoringModel) {
  oneclass_model* handle = nullptr;
  ASSERT_EQ(oneclass_model_open(run("colour").c_str(), "cpu", &handle), ONECLASS_OK) << oneclass_last_error();
  const auto model = ScoringModel::open(run("colour"), "cpu");
  double threshold = 0;
  ASSERT_EQ(oneclass_model_threshold(handle, &threshold), ONECLASS_OK);
  EXPECT_EQ(threshold, model->threshold());
  int32_t c = 0, h = 0, w = 0;
  ASSERT_EQ(oneclass_model_input_shape(handle, &c, &h, &w), ONECLASS_OK);
  EXPECT_EQ(c, 3);
  EXPECT_EQ(h, 32);
  EXPECT_STREQ(oneclass_model_detector(handle), "mlp-ae");
  EXPECT_EQ(oneclass_model_has_map(handle), 1);

  const auto mats = test_mats(3, 32, 4);
  std::vector<std::vector<uint8_t>> pixels;
  std::vector<oneclass_image> images;
  for (const auto& mat : mats) pixels.push_back(rgb_pixels(mat));
  for (size_t i = 0; i < mats.size(); ++i) images.push_back({pixels[i].data(), 32, 32, 3, 32 * 3, ONECLASS_PIXELS_U8});
  oneclass_result* result = nullptr;
  ASSERT_EQ(oneclass_model_score_batch(handle, images.data(), images.size(), ONECLASS_WITH_MAP, &result), ONECLASS_OK)
      << oneclass_last_error();
  ASSERT_EQ(oneclass_result_count(result), mats.size());
  for (size_t i = 0; i < mats.size(); ++i) {
    const auto expected = model->score({model->prepare_encoded(png_bytes(mats[i]), "x")}, true).front();
    double score = 0;
    int flagged = -1;
    ASSERT_EQ(oneclass_result_score(result, i, &score, &flagged), ONECLASS_OK);
    EXPECT_EQ(score, expected.score);
    EXPECT_EQ(flagged, expected.flagged ? 1 : 0);
    const float* map = nullptr;
    int32_t mh = 0, mw = 0;
    ASSERT_EQ(oneclass_result_map(result, i, &map, &mh, &mw), ONECLASS_OK);
    ASSERT_EQ(mh, 32);
    ASSERT_EQ(mw, 32);
    EXPECT_TRUE(torch::equal(torch::from_blob(const_cast<float*>(map), {32, 32}), expected.map));
  }
  EXPECT_EQ(oneclass_result_score(result, 99, nullptr, nullptr), ONECLASS_OUT_OF_RANGE);
  EXPECT_TRUE(contains(oneclass_last_error(), "index 99"));
  oneclass_result_free(result);
  oneclass_model_free(handle);
}

TEST_F(Deploy, CApiErrorsAreStatusesWithMessages) {
  oneclass_model* handle = nullptr;
  EXPECT_EQ(oneclass_model_open("/no/such/run", nullptr, &handle), ONECLASS_BAD_RUN);
  EXPECT_TRUE(contains(oneclass_last_error(), "/no/such/run")) << oneclass_last_error();
  EXPECT_EQ(handle, nullptr);
  EXPECT_EQ(oneclass_model_open(nullptr, nullptr, &handle), ONECLASS_INVALID_ARGUMENT);
  ASSERT_EQ(oneclass_model_open(run("grey").c_str(), "cpu", &handle), ONECLASS_OK);
  EXPECT_STREQ(oneclass_last_error(), "");
  std::vector<uint8_t> pixels(28 * 28 * 5);
  oneclass_image five{pixels.data(), 28, 28, 5, 0, ONECLASS_PIXELS_U8};
  oneclass_result* result = nullptr;
  EXPECT_EQ(oneclass_model_score(handle, &five, 0, &result), ONECLASS_BAD_IMAGE);
  EXPECT_TRUE(contains(oneclass_last_error(), "5 channels")) << oneclass_last_error();
  oneclass_image short_stride{pixels.data(), 28, 28, 1, 10, ONECLASS_PIXELS_U8};
  EXPECT_EQ(oneclass_model_score(handle, &short_stride, 0, &result), ONECLASS_BAD_IMAGE);
  EXPECT_TRUE(contains(oneclass_last_error(), "stride")) << oneclass_last_error();
  oneclass_image null_data{nullptr, 28, 28, 1, 0, ONECLASS_PIXELS_U8};
  EXPECT_EQ(oneclass_model_score(handle, &null_data, 0, &result), ONECLASS_BAD_IMAGE);
  std::vector<float> floats(28 * 28, 0.5F);
  floats[7] = std::nanf("");
  oneclass_image not_a_number{floats.data(), 28, 28, 1, 0, ONECLASS_PIXELS_F32};
  EXPECT_EQ(oneclass_model_score(handle, &not_a_number, 0, &result), ONECLASS_BAD_IMAGE);
  EXPECT_TRUE(contains(oneclass_last_error(), "finite")) << oneclass_last_error();
  oneclass_image fine{pixels.data(), 28, 28, 1, 0, ONECLASS_PIXELS_U8};
  EXPECT_EQ(oneclass_model_score(handle, &fine, 8, &result), ONECLASS_INVALID_ARGUMENT);
  EXPECT_EQ(result, nullptr) << "outputs are written only on success";
  ASSERT_EQ(oneclass_model_score(handle, &fine, 0, &result), ONECLASS_OK);
  const float* map = nullptr;
  EXPECT_EQ(oneclass_result_map(result, 0, &map, nullptr, nullptr), ONECLASS_NO_MAP);
  oneclass_result_free(result);
  EXPECT_STREQ(oneclass_status_message(ONECLASS_BAD_IMAGE), "the image cannot be read as the run's images");
  oneclass_model_free(handle);
}

// One handle, several threads, each scoring every image: the scores are the sequential ones.
TEST_F(Deploy, CApiHandleIsSharedByThreads) {
  oneclass_model* handle = nullptr;
  ASSERT_EQ(oneclass_model_open(run("grey").c_str(), "cpu", &handle), ONECLASS_OK);
  const auto mats = test_mats(1, 28, 12);
  std::vector<std::vector<uint8_t>> pixels;
  for (const auto& mat : mats) pixels.push_back(rgb_pixels(mat));
  auto score_of = [&](size_t i) {
    oneclass_image image{pixels[i].data(), 28, 28, 1, 0, ONECLASS_PIXELS_U8};
    oneclass_result* result = nullptr;
    double score = std::nan("");
    if (oneclass_model_score(handle, &image, 0, &result) == ONECLASS_OK) oneclass_result_score(result, 0, &score, nullptr);
    oneclass_result_free(result);
    return score;
  };
  std::vector<double> sequential;
  for (size_t i = 0; i < mats.size(); ++i) sequential.push_back(score_of(i));
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 5; ++round) {
        for (size_t k = 0; k < mats.size(); ++k) {
          const size_t i = (k + static_cast<size_t>(t)) % mats.size();
          if (score_of(i) != sequential[i]) ++mismatches;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(mismatches.load(), 0);
  oneclass_model_free(handle);
}

// ---- The service ----------------------------------------------------------------------------

class Served : public Deploy {
 protected:
  void start(const std::string& run_name, const std::string& token = "") {
    serve::ServeOptions options;
    options.run_dir = run(run_name);
    options.port = 0;
    options.threads = 4;
    options.max_upload_mb = 0.5;
    options.max_pixels = 1'000'000;
    options.max_batch = 4;
    options.device = "cpu";
    if (!token.empty()) {
      options.token_file = dir_->file("token");
      write_file(options.token_file, token + "\n");
    }
    service_ = std::make_unique<serve::Service>(options);
    port_ = service_->bind();
    thread_ = std::thread([this] { service_->listen(); });
  }
  void TearDown() override {
    if (service_) service_->stop();
    if (thread_.joinable()) thread_.join();
  }
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(60, 0);
    return c;
  }
  httplib::Result post_image(const std::string& bytes, const std::string& filename = "part.png",
                             const httplib::Headers& headers = {}) const {
    httplib::MultipartFormDataItems items{{"image", bytes, filename, "image/png"}};
    return client().Post("/score", headers, items);
  }

  std::unique_ptr<serve::Service> service_;
  std::thread thread_;
  int port_ = 0;
};

json body_of(const httplib::Result& result) { return json::parse(result->body); }

TEST_F(Served, ScoresAnUploadAsTheLibraryDoes) {
  start("colour");
  const auto model = ScoringModel::open(run("colour"), "cpu");
  const auto mat = test_mats(3, 32, 2)[0];
  const auto expected = model->score({model->prepare_encoded(png_bytes(mat), "x")}, false).front();
  const auto r = post_image(png_bytes(mat));
  ASSERT_TRUE(r) << httplib::to_string(r.error());
  ASSERT_EQ(r->status, 200) << r->body;
  const auto answer = body_of(r);
  EXPECT_EQ(answer["score"].get<double>(), expected.score);
  EXPECT_EQ(answer["flagged"].get<bool>(), expected.flagged);
  EXPECT_EQ(answer["threshold"].get<double>(), model->threshold());
  EXPECT_EQ(answer["model"], "mlp-ae");
  EXPECT_EQ(answer["image"]["file"], "part.png");
  const std::string overlay = answer["overlay_png_base64"];
  EXPECT_EQ(overlay.substr(0, 8), "iVBORw0K") << "a PNG, base64-encoded";
  EXPECT_GT(answer["timing_ms"]["total"].get<double>(), 0);
  // The raw body with an image content type gives the same answer.
  const auto raw = client().Post("/score", png_bytes(mat), "image/png");
  ASSERT_EQ(raw->status, 200) << raw->body;
  EXPECT_EQ(body_of(raw)["score"].get<double>(), expected.score);
  // A grey image for a colour model: converted, with a note.
  const auto grey = post_image(png_bytes(cv::Mat(32, 32, CV_8UC1, cv::Scalar(20))));
  ASSERT_EQ(grey->status, 200) << grey->body;
  EXPECT_EQ(body_of(grey)["notes"][0], "converted from 1 to 3 channels");
}

TEST_F(Served, BadUploadsGetClearErrors) {
  start("grey");
  const std::string good = png_bytes(test_mats(1, 28, 2)[1]);
  struct Case {
    std::string what;
    httplib::Result result;
    int status;
    std::string says;
  };
  std::string forged = good;  // a header that declares 100000 x 100000 pixels
  const char huge[4] = {0x00, 0x01, static_cast<char>(0x86), static_cast<char>(0xA0)};
  forged.replace(16, 4, huge, 4);
  forged.replace(20, 4, huge, 4);
  std::vector<Case> cases;
  cases.push_back({"not an image", post_image("hello, this is text"), 415, "not an image"});
  cases.push_back({"truncated", post_image(good.substr(0, good.size() / 2)), 400, "part.png"});
  cases.push_back({"bomb", post_image(forged), 413, "100000x100000"});
  cases.push_back({"too large", post_image(std::string(600 * 1024, 'x')), 413, "--max-upload-mb"});
  cases.push_back({"wrong type", client().Post("/score", good, "text/plain"), 415, "Content-Type text/plain"});
  cases.push_back({"empty", client().Post("/score", "", "image/png"), 400, "empty"});
  cases.push_back({"no field", client().Post("/score", httplib::MultipartFormDataItems{{"file", good, "a.png", "image/png"}}),
                   400, "'image'"});
  cases.push_back({"no route", client().Get("/nothing"), 404, "no route"});
  for (const auto& c : cases) {
    ASSERT_TRUE(c.result) << c.what << ": " << httplib::to_string(c.result.error());
    EXPECT_EQ(c.result->status, c.status) << c.what << ": " << c.result->body;
    const auto answer = json::parse(c.result->body, nullptr, false);
    ASSERT_TRUE(answer.is_object() && answer.contains("error")) << c.what << ": " << c.result->body;
    EXPECT_TRUE(contains(answer["error"], c.says)) << c.what << ": " << answer["error"];
  }
  // Still up, and the errors are counted.
  const auto health = client().Get("/health");
  ASSERT_EQ(health->status, 200);
  const auto metrics = client().Get("/metrics");
  ASSERT_EQ(metrics->status, 200);
  EXPECT_TRUE(contains(metrics->body, "oneclass_http_requests_total{route=\"/score\",status=\"415\"} 2"))
      << metrics->body;
  EXPECT_TRUE(contains(metrics->body, "oneclass_http_request_duration_seconds_bucket{route=\"/score\",le=\"+Inf\"}"));
  EXPECT_TRUE(contains(metrics->body, "oneclass_model_info{model=\"mlp-ae\""));
}

TEST_F(Served, BatchAndModelAndPage) {
  start("grey");
  const auto mats = test_mats(1, 28, 3);
  httplib::MultipartFormDataItems items;
  for (const auto& mat : mats) items.push_back({"image", png_bytes(mat), "ok.png", "image/png"});
  items.push_back({"image", "garbage", "bad.png", "image/png"});
  const auto r = client().Post("/score/batch", items);
  ASSERT_EQ(r->status, 200) << r->body;
  const auto answer = body_of(r);
  ASSERT_EQ(answer["count"], 4);
  EXPECT_TRUE(answer["results"][0].contains("score"));
  EXPECT_EQ(answer["results"][3]["status"], 415);
  items.push_back({"image", png_bytes(mats[0]), "fifth.png", "image/png"});
  EXPECT_EQ(client().Post("/score/batch", items)->status, 413) << "over --max-batch";

  const auto model = body_of(client().Get("/model"));
  EXPECT_EQ(model["model"], "mlp-ae");
  EXPECT_EQ(model["input_shape"], json({1, 28, 28}));
  EXPECT_TRUE(model["metrics"].contains("n_train"));
  const auto page = client().Get("/");
  ASSERT_EQ(page->status, 200);
  EXPECT_TRUE(contains(page->get_header_value("Content-Type"), "text/html"));
  EXPECT_TRUE(contains(page->body, "id=\"verdict\""));
  EXPECT_FALSE(contains(page->body, "http://")) << "the page loads nothing from elsewhere";
}

TEST_F(Served, TokenGuardsEverythingButHealth) {
  const std::string token = "s3cret-token-0123456789";
  start("grey", token);
  EXPECT_EQ(client().Get("/health")->status, 200);
  const auto refused = client().Get("/model");
  EXPECT_EQ(refused->status, 401);
  EXPECT_TRUE(contains(body_of(refused)["error"], "Authorization: Bearer"));
  EXPECT_EQ(client().Get("/model", {{"Authorization", "Bearer wrong-token-0123456789"}})->status, 401);
  EXPECT_EQ(client().Get("/model", {{"Authorization", "Bearer " + token}})->status, 200);
  EXPECT_EQ(client().Get("/metrics")->status, 401);
  EXPECT_EQ(client().Get("/")->status, 401);
  EXPECT_EQ(client().Get("/?token=" + token)->status, 200) << "a browser opens the page with the token in its URL";
  EXPECT_EQ(post_image(png_bytes(test_mats(1, 28, 2)[0]))->status, 401);
  EXPECT_EQ(post_image(png_bytes(test_mats(1, 28, 2)[0]), "a.png", {{"Authorization", "Bearer " + token}})->status, 200);
}

TEST_F(Deploy, ServiceRefusesAShortToken) {
  write_file(dir_->file("short-token"), "abc\n");
  serve::ServeOptions options;
  options.run_dir = run("grey");
  options.token_file = dir_->file("short-token");
  EXPECT_TRUE(contains(error_of([&] { serve::Service service(options); }), "at least 16"));
}

// 50 clients at once, each its own connection: all answered, with the sequential scores.
TEST_F(Served, ConcurrentClientsGetTheSequentialScores) {
  start("grey");
  const auto mats = test_mats(1, 28, 10);
  std::vector<std::string> files;
  std::vector<double> sequential;
  for (const auto& mat : mats) {
    files.push_back(png_bytes(mat));
    sequential.push_back(body_of(post_image(files.back()))["score"].get<double>());
  }
  constexpr int kClients = 50;
  std::vector<double> concurrent(kClients, std::nan(""));
  std::vector<int> statuses(kClients, 0);
  std::vector<std::string> errors(kClients);
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] {
      const auto r = post_image(files[static_cast<size_t>(i) % files.size()]);
      if (!r) {
        errors[static_cast<size_t>(i)] = httplib::to_string(r.error());
        return;
      }
      statuses[static_cast<size_t>(i)] = r->status;
      if (r->status == 200) concurrent[static_cast<size_t>(i)] = body_of(r)["score"].get<double>();
    });
  }
  for (auto& client_thread : clients) client_thread.join();
  for (int i = 0; i < kClients; ++i) {
    EXPECT_EQ(statuses[static_cast<size_t>(i)], 200) << "client " << i << ": " << errors[static_cast<size_t>(i)];
    EXPECT_EQ(concurrent[static_cast<size_t>(i)], sequential[static_cast<size_t>(i) % files.size()]) << "client " << i;
  }
}

}  // namespace
