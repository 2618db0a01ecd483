#include "oneclass/util/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "oneclass/error.h"

namespace fs = std::filesystem;

namespace oneclass {

void write_atomically_with(const std::string& path, const std::function<void(const std::string&)>& writer) {
  const fs::path target(path);
  if (target.has_parent_path()) {
    std::error_code ec;
    fs::create_directories(target.parent_path(), ec);
    if (ec) throw Error("cannot create folder " + target.parent_path().string() + ": " + ec.message());
  }
  // Same folder as the target, so the rename cannot cross file systems.
  const std::string temp = path + ".tmp." + std::to_string(::getpid());
  try {
    writer(temp);
  } catch (...) {
    std::error_code ignored;
    fs::remove(temp, ignored);
    throw;
  }
  std::error_code ec;
  fs::rename(temp, target, ec);
  if (ec) {
    fs::remove(temp, ec);
    throw Error("cannot move " + temp + " to " + path + ": " + ec.message());
  }
}

void write_file_atomic(const std::string& path, const std::string& content) {
  write_atomically_with(path, [&](const std::string& temp) {
    const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) throw Error("cannot write " + path + ": " + std::strerror(errno) + " (no permission?)");
    size_t written = 0;
    while (written < content.size()) {
      const ssize_t n = ::write(fd, content.data() + written, content.size() - written);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        const std::string reason = std::strerror(errno);
        ::close(fd);
        throw Error("cannot write " + path + ": " + reason + " (disk full?)");
      }
      written += static_cast<size_t>(n);
    }
    // On disk before the rename, so a crash cannot leave an empty file under the final name.
    const bool synced = ::fsync(fd) == 0;
    if (::close(fd) != 0 || !synced) throw Error("cannot write " + path + ": " + std::strerror(errno));
  });
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot read " + path + ": no such file or no permission");
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

}  // namespace oneclass
