// Downloading data files: libcurl does the HTTP(S) transfer, OpenSSL's EVP interface the MD5.
// Both are optional at build time; CMake defines ONECLASS_HAVE_CURL and ONECLASS_HAVE_OPENSSL
// together when it finds both, and downloading is one feature that needs the pair.
#include "oneclass/data/download.h"

#include "oneclass/config.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>
#include <vector>

#include "oneclass/error.h"

#ifdef ONECLASS_HAVE_CURL
#include <curl/curl.h>
#endif
#ifdef ONECLASS_HAVE_OPENSSL
#include <openssl/evp.h>
#endif

#if defined(ONECLASS_HAVE_CURL) && defined(ONECLASS_HAVE_OPENSSL)
#define ONECLASS_CAN_DOWNLOAD 1
#endif

namespace oneclass::data {
namespace {

namespace fs = std::filesystem;

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using FilePtr = std::unique_ptr<std::FILE, FileCloser>;

[[maybe_unused]] std::string to_hex(const unsigned char* bytes, unsigned n) {
  static const char digits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * n);
  for (unsigned i = 0; i < n; ++i) {
    hex += digits[bytes[i] >> 4];
    hex += digits[bytes[i] & 0xf];
  }
  return hex;
}

[[maybe_unused]] std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

#ifdef ONECLASS_HAVE_OPENSSL
struct EvpCtxFree {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};

// Feeds the whole file to `ctx`; a read error (e.g. the path is a folder) is reported, not hashed.
void hash_stream(std::FILE* in, EVP_MD_CTX* ctx, const std::string& path) {
  std::vector<unsigned char> buf(1 << 16);
  size_t got = 0;
  while ((got = std::fread(buf.data(), 1, buf.size(), in)) > 0) {
    if (EVP_DigestUpdate(ctx, buf.data(), got) != 1) {
      throw Error("OpenSSL failed while computing the MD5 of '" + path + "'");
    }
  }
  if (std::ferror(in)) {
    throw Error("cannot read '" + path + "' to compute its MD5: " + std::strerror(errno) +
                "; check that it is a readable regular file");
  }
}
#endif

}  // namespace

bool download_available() {
#ifdef ONECLASS_CAN_DOWNLOAD
  return true;
#else
  return false;
#endif
}

std::string md5_file(const std::string& path) {
#ifdef ONECLASS_HAVE_OPENSSL
  FilePtr in(std::fopen(path.c_str(), "rb"));
  if (!in) {
    throw Error("cannot open '" + path + "' to compute its MD5: " + std::strerror(errno) +
                "; check that the file exists and is readable");
  }
  std::unique_ptr<EVP_MD_CTX, EvpCtxFree> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_md5(), nullptr) != 1) {
    throw Error("OpenSSL cannot compute MD5 checksums (needed for '" + path +
                "'); check the OpenSSL installation");
  }
  hash_stream(in.get(), ctx.get(), path);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  if (EVP_DigestFinal_ex(ctx.get(), digest, &len) != 1) {
    throw Error("OpenSSL failed to finish the MD5 of '" + path + "'");
  }
  return to_hex(digest, len);
#else
  throw Error("cannot compute the MD5 of '" + path +
              "': this build of oneclass has no OpenSSL; rebuild with libssl-dev installed "
              "(apt-get install libssl-dev), or check the file with `md5sum` by hand");
#endif
}

#ifdef ONECLASS_CAN_DOWNLOAD
namespace {

// Connecting should take seconds; a long wait means the host is unreachable, so give up early
// instead of spending the whole transfer budget on it.
constexpr long kConnectTimeoutSeconds = 30;
// A transfer that moves less than 1 byte/s for this long is stalled; abort before the overall limit.
constexpr long kStallSeconds = 60;

// Owns "<dest>.part.<pid>": deletes it on destruction unless the download was committed, so every
// failure path (exception, HTTP error, bad checksum) leaves no partial file behind. The pid keeps
// two processes fetching the same file from writing into one partial file.
class PartialFile {
 public:
  explicit PartialFile(const std::string& dest)
      : path_(dest + ".part." + std::to_string(::getpid())) {}
  ~PartialFile() {
    if (!committed_) {
      std::error_code ignored;
      fs::remove(path_, ignored);
    }
  }
  PartialFile(const PartialFile&) = delete;
  PartialFile& operator=(const PartialFile&) = delete;

  const std::string& path() const { return path_; }
  void commit() { committed_ = true; }

 private:
  std::string path_;
  bool committed_ = false;
};

struct CurlCleanup {
  void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
};

// curl_global_init is not guaranteed thread-safe on every libcurl version: run it exactly once.
void init_curl_once() {
  static std::once_flag flag;
  static CURLcode status = CURLE_OK;
  std::call_once(flag, [] { status = curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (status != CURLE_OK) {
    throw Error(std::string("libcurl failed to initialise: ") + curl_easy_strerror(status));
  }
}

// libcurl write callback: a short write (disk full) makes curl abort with CURLE_WRITE_ERROR.
size_t write_to_file(char* data, size_t size, size_t count, void* file) {
  return std::fwrite(data, 1, size * count, static_cast<std::FILE*>(file));
}

void set_protocols(CURL* curl) {
  // Only HTTP(S), also after redirects: a mirror must not be able to send us to file:// or others.
#if LIBCURL_VERSION_NUM >= 0x075500
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS, CURLPROTO_HTTP | CURLPROTO_HTTPS);
  curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS, CURLPROTO_HTTP | CURLPROTO_HTTPS);
#endif
}

void configure(CURL* curl, const std::string& url, std::FILE* out, char* errbuf, long timeout) {
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &write_to_file);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, out);
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 10L);
  curl_easy_setopt(curl, CURLOPT_FAILONERROR, 1L);  // HTTP >= 400 is an error, not a file
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, std::min(timeout, kConnectTimeoutSeconds));
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, timeout);
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, kStallSeconds);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);  // timeouts must not use SIGALRM in a threaded app
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "oneclass");
  set_protocols(curl);
}

// Why a finished transfer failed, in words; empty when it succeeded.
std::string failure_reason(CURL* curl, CURLcode code, const char* errbuf, long timeout) {
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  if (code == CURLE_OK && status < 400) return {};
  if (code == CURLE_OK || code == CURLE_HTTP_RETURNED_ERROR) {
    return "the server answered HTTP " + std::to_string(status);
  }
  std::string detail = errbuf[0] != '\0' ? errbuf : curl_easy_strerror(code);
  if (code == CURLE_OPERATION_TIMEDOUT) {
    return "timed out (limit " + std::to_string(timeout) + " s): " + detail;
  }
  return "curl error " + std::to_string(static_cast<int>(code)) + ": " + detail;
}

// Fetches `url` into `out`; returns the reason for failure, or empty on success.
std::string transfer(const std::string& url, std::FILE* out, long timeout) {
  init_curl_once();
  std::unique_ptr<CURL, CurlCleanup> curl(curl_easy_init());
  if (!curl) return "libcurl could not create a transfer handle";
  char errbuf[CURL_ERROR_SIZE] = {};
  configure(curl.get(), url, out, errbuf, timeout);
  CURLcode code = curl_easy_perform(curl.get());
  return failure_reason(curl.get(), code, errbuf, timeout);
}

[[noreturn]] void fail(const std::string& url, const std::string& dest, const std::string& why,
                       const std::string& advice) {
  throw Error("download of " + url + " to '" + dest + "' failed: " + why + ". " + advice);
}

constexpr const char* kRetryAdvice =
    "Check the URL and the network connection and try again, or fetch the file by hand and put "
    "it at the destination";

void make_parent_folder(const std::string& url, const std::string& dest) {
  fs::path parent = fs::path(dest).parent_path();
  if (parent.empty()) return;
  std::error_code ec;
  fs::create_directories(parent, ec);
  if (ec) {
    fail(url, dest, "cannot create folder '" + parent.string() + "': " + ec.message(),
         "Check its permissions or choose another folder");
  }
}

// Writes the body into the partial file and makes it durable before the rename publishes it.
void fetch_into(const std::string& url, const std::string& dest, const std::string& part,
                long timeout) {
  FilePtr out(std::fopen(part.c_str(), "wb"));
  if (!out) {
    fail(url, dest, "cannot create '" + part + "': " + std::strerror(errno),
         "Check that the folder is writable and has free space");
  }
  std::string why = transfer(url, out.get(), timeout);
  if (!why.empty()) fail(url, dest, why, kRetryAdvice);
  int err = 0;
  if (std::fflush(out.get()) != 0 || ::fsync(::fileno(out.get())) != 0) err = errno;
  if (std::fclose(out.release()) != 0 && err == 0) err = errno;
  if (err != 0) {
    fail(url, dest, "cannot write '" + part + "': " + std::strerror(err),
         "Check the free disk space");
  }
}

void verify_md5(const std::string& url, const std::string& dest, const std::string& part,
                const std::string& expected) {
  if (expected.empty()) return;
  std::string actual = md5_file(part);
  if (actual != lower(expected)) {
    fail(url, dest, "MD5 checksum mismatch (expected " + lower(expected) + ", got " + actual +
                        "), so the file was deleted",
         "The transfer was corrupted or the mirror serves a different file; try again or use "
         "another mirror");
  }
}

}  // namespace
#endif  // ONECLASS_CAN_DOWNLOAD

void download_file(const std::string& url, const std::string& dest, const std::string& expected_md5,
                   long timeout_seconds) {
#ifdef ONECLASS_CAN_DOWNLOAD
  if (url.empty() || dest.empty()) {
    throw Error("download_file needs a URL and a destination (got URL '" + url + "', destination '" +
                dest + "')");
  }
  if (timeout_seconds <= 0) timeout_seconds = 600;  // curl reads 0 as "no limit"; we always want one
  make_parent_folder(url, dest);
  PartialFile part(dest);
  fetch_into(url, dest, part.path(), timeout_seconds);
  verify_md5(url, dest, part.path(), expected_md5);
  // Same folder, so rename is atomic: readers see either no file or the complete, verified one.
  std::error_code ec;
  fs::rename(part.path(), dest, ec);
  if (ec) {
    fail(url, dest, "cannot rename '" + part.path() + "' to it: " + ec.message(),
         "Check the folder's permissions");
  }
  part.commit();
#else
  (void)expected_md5;
  (void)timeout_seconds;
  throw Error("cannot download " + url + " to '" + dest +
              "': this build of oneclass has no download support (it needs libcurl and OpenSSL; "
              "rebuild after `apt-get install libcurl4-openssl-dev libssl-dev`). Or fetch the file "
              "by hand (e.g. with curl or wget) and put it at '" + dest + "'");
#endif
}

}  // namespace oneclass::data
