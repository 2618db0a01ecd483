#include "oneclass/util/temp_dir.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "oneclass/error.h"

namespace oneclass {

TempDir::TempDir(const std::string& prefix) {
  const char* base = std::getenv("TMPDIR");
  const std::string pattern = std::string(base && *base ? base : "/tmp") + "/" + prefix + "-XXXXXX";
  std::vector<char> name(pattern.begin(), pattern.end());
  name.push_back('\0');
  if (!::mkdtemp(name.data())) {
    throw Error("cannot create a temporary folder " + pattern + ": " + std::strerror(errno) +
                "; set TMPDIR to a writable folder");
  }
  path_ = name.data();
}

void TempDir::remove() const {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

}  // namespace oneclass
