#pragma once
// A private temporary folder (mode 0700, under $TMPDIR or /tmp), removed with its contents when
// the object goes. For scratch files that must never meet another process's.
#include <filesystem>
#include <string>

namespace oneclass {

class TempDir {
 public:
  /// Creates <$TMPDIR or /tmp>/<prefix>-XXXXXX. Throws Error naming the folder when it cannot.
  explicit TempDir(const std::string& prefix);
  ~TempDir() { remove(); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  /// The path of `name` inside the folder.
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  /// Removes the folder and its contents now (also what the destructor does).
  void remove() const;

 private:
  std::filesystem::path path_;
};

}  // namespace oneclass
