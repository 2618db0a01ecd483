#pragma once
// Files are written atomically: to a temporary name in the same folder, then renamed, so a crash
// or Ctrl-C never leaves a half-written result where a finished one is expected.
#include <functional>
#include <string>

namespace oneclass {

/// Writes `content` to `path` atomically. Throws Error naming the path on failure.
void write_file_atomic(const std::string& path, const std::string& content);

/// Calls `writer(temp_path)` to produce the file, then renames it to `path`; the temporary file is
/// removed if `writer` throws.
void write_atomically_with(const std::string& path, const std::function<void(const std::string&)>& writer);

/// Reads a whole file; throws Error naming the path if it cannot.
std::string read_file(const std::string& path);

}  // namespace oneclass
