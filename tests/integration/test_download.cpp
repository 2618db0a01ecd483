// Real HTTP against a local server: Python's http.server on 127.0.0.1 serves copies of the genuine
// MNIST .gz files, and locate_dataset / download_file fetch them. Nothing leaves this machine.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "oneclass/data/datasets.h"
#include "oneclass/data/download.h"
#include "oneclass/error.h"
#include "support/test_support.h"

#ifndef ONECLASS_SOURCE_DIR
#define ONECLASS_SOURCE_DIR "/work/main"  // standalone builds; CMake passes the real source tree
#endif

extern char** environ;

namespace {

namespace fs = std::filesystem;
using oneclass::data::DatasetQuery;
using oneclass::data::download_available;
using oneclass::data::download_file;
using oneclass::data::locate_dataset;
using oneclass::data::md5_file;
using oneclass::testing_support::contains;
using oneclass::testing_support::error_of;
using oneclass::testing_support::read_file;
using oneclass::testing_support::ScopedEnv;
using oneclass::testing_support::TempDir;

const char* kPython = "/usr/bin/python3";
const std::vector<std::string> kFileNames = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                             "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};

// A socket file descriptor closed on scope exit.
class Socket {
 public:
  Socket() : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {}
  ~Socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_;
};

sockaddr_in loopback(int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

// Binds `sock` to 127.0.0.1 on a port the OS picks; returns the port, or 0 on failure.
int bind_any_port(const Socket& sock) {
  sockaddr_in addr = loopback(0);
  if (::bind(sock.fd(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return 0;
  socklen_t len = sizeof addr;
  if (::getsockname(sock.fd(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) return 0;
  return ntohs(addr.sin_port);
}

// A port that was free a moment ago (the socket is closed again, so someone else may grab it:
// callers retry when that happens).
int free_port() {
  Socket sock;
  return bind_any_port(sock);
}

bool accepts_connections(int port) {
  Socket sock;
  sockaddr_in addr = loopback(port);
  return ::connect(sock.fd(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
}

// python3 -m http.server serving one folder on 127.0.0.1; killed by the destructor.
class HttpServer {
 public:
  HttpServer(const fs::path& root, const fs::path& log) {
    // The free port can be taken between our probe and Python's bind: try a few ports.
    for (int attempt = 0; attempt < 3 && port_ == 0; ++attempt) {
      int port = free_port();
      if (port != 0 && spawn(root, log, port) && wait_ready(port)) port_ = port;
      if (port_ == 0) stop();
    }
    if (port_ == 0) throw std::runtime_error("http.server did not start: " + read_file(log));
  }
  ~HttpServer() { stop(); }
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/"; }

  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);  // a test server has no state worth a graceful shutdown
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

 private:
  bool spawn(const fs::path& root, const fs::path& log, int port) {
    std::string port_text = std::to_string(port), dir = root.string();
    // -I: isolated mode, so the developer's PYTHON* variables and user site cannot interfere.
    std::vector<std::string> args = {kPython, "-I", "-m", "http.server", "--bind", "127.0.0.1",
                                     port_text, "--directory", dir};
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    int rc = ::posix_spawn(&pid_, kPython, &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) pid_ = -1;
    return rc == 0;
  }

  // Polls until the port accepts a connection; gives up when Python exits or after 10 s.
  bool wait_ready(int port) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      if (accepts_connections(port)) return true;
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;  // already reaped; nothing left to kill
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  pid_t pid_ = -1;
  int port_ = 0;
};

// Genuine MNIST .gz files: $ONECLASS_TEST_MNIST_DIR, else shared/data/mnist beside the source tree.
fs::path mnist_source_dir() {
  if (const char* dir = std::getenv("ONECLASS_TEST_MNIST_DIR"); dir && *dir) return dir;
  return fs::path(ONECLASS_SOURCE_DIR) / ".." / "shared" / "data" / "mnist";
}

// Names of files in `dir` whose name contains ".part" (leftover partial downloads).
std::vector<std::string> partial_files(const fs::path& dir) {
  std::vector<std::string> found;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    std::string name = entry.path().filename().string();
    if (contains(name, ".part")) found.push_back(name);
  }
  return found;
}

void flip_one_byte(const fs::path& path, std::streamoff offset) {
  std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
  file.seekg(offset);
  char byte = 0;
  file.get(byte);
  file.seekp(offset);
  file.put(static_cast<char>(byte ^ 0x5a));
}

bool have_download() { return download_available(); }

// Each test: a private temp folder holding the served folder, the cache (XDG_CACHE_HOME) and HOME.
class LocalHttpDownload : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::access(kPython, X_OK) != 0) GTEST_SKIP() << kPython << " not found: no local HTTP server";
    if (!have_download()) GTEST_SKIP() << "this build has no download support (libcurl/OpenSSL)";
    fs::create_directories(www());
    server_.emplace(www(), tmp_.path() / "server.log");
  }
  void TearDown() override { server_.reset(); }

  fs::path www() const { return tmp_.path() / "www"; }
  fs::path cache_dir() const { return tmp_.path() / "cache" / "oneclass" / "mnist"; }

  // Copies the four genuine MNIST .gz files into the served folder.
  void serve_mnist() {
    fs::path source = mnist_source_dir();
    for (const std::string& name : kFileNames) {
      fs::path file = source / (name + ".gz");
      ASSERT_TRUE(fs::is_regular_file(file))
          << file << " is missing; set ONECLASS_TEST_MNIST_DIR to the folder with the MNIST .gz files";
      fs::copy_file(file, www() / file.filename(), fs::copy_options::overwrite_existing);
    }
  }

  DatasetQuery mnist_query() const {
    DatasetQuery q;
    q.name = "mnist";
    q.mirror_override = server_->url();
    return q;
  }

  TempDir tmp_{"oneclass-download"};
  ScopedEnv home_{"HOME", (tmp_.path() / "home").c_str()};
  ScopedEnv xdg_{"XDG_CACHE_HOME", (tmp_.path() / "cache").c_str()};
  ScopedEnv data_env_{"ONECLASS_DATA_DIR", nullptr};
  std::optional<HttpServer> server_;
};

TEST_F(LocalHttpDownload, LocateDownloadsAllFourFilesIntoCache) {
  ASSERT_NO_FATAL_FAILURE(serve_mnist());
  auto files = locate_dataset(mnist_query());
  EXPECT_EQ(files.folder, cache_dir().string());
  const auto& info = oneclass::data::dataset_info("mnist");
  std::vector<std::string> paths = {files.train_images, files.train_labels, files.test_images,
                                    files.test_labels};
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(paths[i], (cache_dir() / (kFileNames[i] + ".gz")).string());
    EXPECT_EQ(md5_file(paths[i]), info.files[i].md5) << paths[i];
  }
  EXPECT_TRUE(partial_files(cache_dir()).empty());

  server_.reset();  // the second look-up must be served from the cache alone
  EXPECT_EQ(locate_dataset(mnist_query()).folder, cache_dir().string());
}

TEST_F(LocalHttpDownload, LocateFetchesOnlyMissingFiles) {
  ASSERT_NO_FATAL_FAILURE(serve_mnist());
  fs::create_directories(cache_dir());
  fs::rename(www() / "train-images-idx3-ubyte.gz", cache_dir() / "train-images-idx3-ubyte.gz");
  auto files = locate_dataset(mnist_query());  // would get HTTP 404 if it fetched train-images
  EXPECT_EQ(md5_file(files.train_images), "f68b3c2dcbeaaa9fbdd348bbdeb94873");
  EXPECT_EQ(md5_file(files.test_labels), "ec29112dd5afa0611ce80d1b7f02629c");
}

TEST_F(LocalHttpDownload, CorruptedFileIsRejectedAndNotKept) {
  ASSERT_NO_FATAL_FAILURE(serve_mnist());
  flip_one_byte(www() / "train-labels-idx1-ubyte.gz", 1000);
  std::string msg = error_of([&] { locate_dataset(mnist_query()); });
  EXPECT_TRUE(contains(msg, "MD5 checksum mismatch")) << msg;
  EXPECT_TRUE(contains(msg, server_->url() + "train-labels-idx1-ubyte.gz")) << msg;
  EXPECT_TRUE(contains(msg, "Looked in:")) << msg;
  EXPECT_FALSE(fs::exists(cache_dir() / "train-labels-idx1-ubyte.gz"));
  EXPECT_TRUE(partial_files(cache_dir()).empty());
}

TEST_F(LocalHttpDownload, ChecksumMismatchFromDownloadFileLeavesNothing) {
  ASSERT_NO_FATAL_FAILURE(serve_mnist());
  fs::path dest = tmp_.path() / "out" / "labels.gz";
  std::string msg = error_of([&] {
    download_file(server_->url() + "t10k-labels-idx1-ubyte.gz", dest.string(),
                  "00000000000000000000000000000000");
  });
  EXPECT_TRUE(contains(msg, "checksum")) << msg;
  EXPECT_TRUE(contains(msg, dest.string())) << msg;
  EXPECT_FALSE(fs::exists(dest));
  EXPECT_TRUE(partial_files(dest.parent_path()).empty());
}

TEST_F(LocalHttpDownload, MissingFileGivesHttp404) {
  fs::path dest = tmp_.path() / "out" / "nothing.gz";
  std::string url = server_->url() + "nothing.gz";
  std::string msg = error_of([&] { download_file(url, dest.string(), ""); });
  EXPECT_TRUE(contains(msg, "HTTP 404")) << msg;
  EXPECT_TRUE(contains(msg, url)) << msg;
  EXPECT_TRUE(contains(msg, dest.string())) << msg;
  EXPECT_FALSE(fs::exists(dest));
  EXPECT_TRUE(partial_files(dest.parent_path()).empty());

  msg = error_of([&] { locate_dataset(mnist_query()); });  // nothing served at all
  EXPECT_TRUE(contains(msg, "not found")) << msg;
  EXPECT_TRUE(contains(msg, "HTTP 404")) << msg;
  EXPECT_TRUE(partial_files(cache_dir()).empty());
}

TEST_F(LocalHttpDownload, FollowsRedirectsAndCreatesParentFolders) {
  // http.server answers "/sub" with a 301 to "/sub/", which serves sub/index.html.
  std::ofstream(www() / "index.html") << "top";
  fs::create_directories(www() / "sub");
  std::ofstream(www() / "sub" / "index.html") << "abc";
  fs::path dest = tmp_.path() / "a" / "b" / "c" / "page.html";
  download_file(server_->url() + "sub", dest.string(), "900150983CD24FB0D6963F7D28E17F72");
  EXPECT_EQ(read_file(dest), "abc");
  EXPECT_TRUE(partial_files(dest.parent_path()).empty());
}

TEST_F(LocalHttpDownload, NoDownloadWithNothingPresentListsFolders) {
  ASSERT_NO_FATAL_FAILURE(serve_mnist());
  DatasetQuery q = mnist_query();
  q.allow_download = false;
  q.data_dir = (tmp_.path() / "data").string();
  std::string msg = error_of([&] { locate_dataset(q); });
  EXPECT_TRUE(contains(msg, "not found")) << msg;
  EXPECT_TRUE(contains(msg, (tmp_.path() / "data" / "mnist").string())) << msg;
  EXPECT_TRUE(contains(msg, cache_dir().string())) << msg;
  EXPECT_TRUE(contains(msg, "--no-download")) << msg;
  EXPECT_FALSE(fs::exists(cache_dir()));  // nothing was fetched
}

// The tests below need libcurl but no HTTP server.

TEST(Download, RefusedConnectionNamesUrl) {
  if (!have_download()) GTEST_SKIP() << "this build has no download support (libcurl/OpenSSL)";
  TempDir tmp("oneclass-download");
  fs::path dest = tmp.path() / "file.gz";
  std::string url = "http://127.0.0.1:" + std::to_string(free_port()) + "/file.gz";
  std::string msg = error_of([&] { download_file(url, dest.string(), ""); });
  EXPECT_TRUE(contains(msg, url)) << msg;
  EXPECT_TRUE(contains(msg, "curl error")) << msg;
  EXPECT_TRUE(fs::is_empty(tmp.path()));
}

TEST(Download, SilentServerTimesOut) {
  if (!have_download()) GTEST_SKIP() << "this build has no download support (libcurl/OpenSSL)";
  // The kernel completes the handshake for a listening socket, but nobody ever answers.
  Socket listener;
  int port = bind_any_port(listener);
  ASSERT_NE(port, 0);
  ASSERT_EQ(::listen(listener.fd(), 4), 0);
  TempDir tmp("oneclass-download");
  fs::path dest = tmp.path() / "file.gz";
  std::string url = "http://127.0.0.1:" + std::to_string(port) + "/file.gz";
  auto start = std::chrono::steady_clock::now();
  std::string msg = error_of([&] { download_file(url, dest.string(), "", 1); });
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  EXPECT_TRUE(contains(msg, "timed out")) << msg;
  EXPECT_TRUE(fs::is_empty(tmp.path()));
}

TEST(Download, RefusesNonHttpUrls) {
  if (!have_download()) GTEST_SKIP() << "this build has no download support (libcurl/OpenSSL)";
  TempDir tmp("oneclass-download");
  fs::path dest = tmp.path() / "copy";
  std::string msg = error_of([&] { download_file("file:///etc/hostname", dest.string(), ""); });
  EXPECT_TRUE(contains(msg, "file:///etc/hostname")) << msg;
  EXPECT_FALSE(fs::exists(dest));
}

TEST(Md5File, KnownDigests) {
  if (!have_download()) GTEST_SKIP() << "this build has no OpenSSL";
  TempDir tmp("oneclass-download");
  std::ofstream(tmp.path() / "empty");
  std::ofstream(tmp.path() / "abc") << "abc";
  EXPECT_EQ(md5_file((tmp.path() / "empty").string()), "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(md5_file((tmp.path() / "abc").string()), "900150983cd24fb0d6963f7d28e17f72");
}

TEST(Md5File, UnreadablePathIsNamed) {
  if (!have_download()) GTEST_SKIP() << "this build has no OpenSSL";
  TempDir tmp("oneclass-download");
  std::string missing = (tmp.path() / "missing.gz").string();
  EXPECT_TRUE(contains(error_of([&] { md5_file(missing); }), missing));
  std::string folder = tmp.path().string();
  EXPECT_TRUE(contains(error_of([&] { md5_file(folder); }), folder));
}

}  // namespace
