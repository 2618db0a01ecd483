#pragma once
// Small helpers that several test files need: a private temp folder, the message of an expected
// oneclass::Error, whole-file reads and writes, and scoped environment variables. One copy here
// keeps the test files to what they test, and a fix to a helper reaches every test at once.
// Header-only: each test file is its own executable, so everything here is inline.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>

#include "oneclass/error.h"
#include "oneclass/util/temp_dir.h"

namespace oneclass::testing_support {

// A fresh folder "<prefix>-XXXXXX" under $TMPDIR (else /tmp), removed with everything in it when
// the object goes, so tests never share or leave files; remove() does it at once (a death-test
// child leaves by exit(), without running destructors).
using TempDir = oneclass::TempDir;

// The message of the oneclass::Error that `call` throws. A test failure (and "") when it throws
// nothing or another exception type; the latter's message is cut short, as LibTorch's carry long
// backtraces.
inline std::string error_of(const std::function<void()>& call) {
  try {
    call();
  } catch (const oneclass::Error& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected oneclass::Error, got another exception: " << std::string(e.what()).substr(0, 300);
    return "";
  }
  ADD_FAILURE() << "expected oneclass::Error, but the call succeeded";
  return "";
}

inline bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// The whole file, byte for byte ("" when it cannot be opened).
inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Writes `bytes` to `path` exactly, creating missing parent folders; a test failure when it cannot.
inline void write_file(const std::filesystem::path& path, const std::string& bytes) {
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

// Sets (or, with nullptr, unsets) an environment variable and restores the old state afterwards,
// so tests neither see the developer's real settings nor leak their own.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    set(value);
  }
  ScopedEnv(const char* name, const std::string& value) : ScopedEnv(name, value.c_str()) {}
  ~ScopedEnv() { set(old_ ? old_->c_str() : nullptr); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

  void set(const char* value) {
    if (value) {
      ::setenv(name_.c_str(), value, 1);
    } else {
      ::unsetenv(name_.c_str());
    }
  }

 private:
  std::string name_;
  std::optional<std::string> old_;
};

/// The folder holding mnist/ with the genuine MNIST files: $ONECLASS_DATA_DIR when it has them
/// (as `make test` and CI set it), else shared/data beside the source tree.
inline std::string data_dir() {
  const char* env = std::getenv("ONECLASS_DATA_DIR");
  if (env && *env && std::filesystem::exists(std::filesystem::path(env) / "mnist")) return env;
  return ONECLASS_SOURCE_DIR "/../shared/data";
}

}  // namespace oneclass::testing_support
