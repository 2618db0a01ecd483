// The registry of named data sets and the search for their files (see datasets.h for the order).
// Files found on disk are used as they are: only downloads are checked against the published
// MD5s, because packaged copies may be recompressed (Debian's dataset-fashion-mnist ships .gz
// files with other MD5s but the same IDX contents).
#include "oneclass/data/datasets.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

#include "oneclass/data/download.h"
#include "oneclass/error.h"

namespace oneclass::data {
namespace {

namespace fs = std::filesystem;

const std::vector<DatasetInfo>& registry() {
  // Function-local static: safe to use from other static initialisers.
  static const std::vector<DatasetInfo> sets = {
      {"mnist",
       "MNIST handwritten digits: 60,000 training and 10,000 test images, 28x28 grey",
       {"https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"},
       {{"train-images-idx3-ubyte", "f68b3c2dcbeaaa9fbdd348bbdeb94873"},
        {"train-labels-idx1-ubyte", "d53e105ee54ea40749a09fcbcd1e9432"},
        {"t10k-images-idx3-ubyte", "9fb629c4189551a2d022fa330f9573f3"},
        {"t10k-labels-idx1-ubyte", "ec29112dd5afa0611ce80d1b7f02629c"}},
       {}},
      {"fashion-mnist",
       "Fashion-MNIST (Zalando) clothing: 60,000 training and 10,000 test images, 28x28 grey",
       {"http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"},
       {{"train-images-idx3-ubyte", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"},
        {"train-labels-idx1-ubyte", "25c81989df183df01b3e8a0aad5dffbe"},
        {"t10k-images-idx3-ubyte", "bef4ecab320f06d8554ea6380940ec79"},
        {"t10k-labels-idx1-ubyte", "bb300cfdad3c16e7a12a480ee83cd310"}},
       // dataset-fashion-mnist installs the four .gz files directly in this folder.
       {"/usr/share/datasets/fashion-mnist"}},
  };
  return sets;
}

// The Debian package that fills a data set's system folder, for the "how to get it" hint.
std::string debian_package(const DatasetInfo& info) {
  return info.name == "fashion-mnist" ? "dataset-fashion-mnist" : "";
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

std::string join(const std::vector<std::string>& items, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) out += (i ? sep : "") + items[i];
  return out;
}

// $XDG_CACHE_HOME/oneclass, else $HOME/.cache/oneclass; empty when neither variable is usable.
std::string cache_dir_or_empty() {
  std::string xdg = env("XDG_CACHE_HOME");
  // The XDG spec says a relative value is invalid and must be ignored.
  if (!xdg.empty() && fs::path(xdg).is_absolute()) return (fs::path(xdg) / "oneclass").string();
  std::string home = env("HOME");
  if (!home.empty()) return (fs::path(home) / ".cache" / "oneclass").string();
  return "";
}

// The path of `name` in `folder`, ".gz" preferred (that is the form whose MD5 is published and
// what a download writes); empty when neither form is there.
std::string find_variant(const std::string& folder, const std::string& name) {
  std::error_code ec;
  for (const std::string& candidate : {name + ".gz", name}) {
    fs::path path = fs::path(folder) / candidate;
    if (fs::is_regular_file(path, ec)) return path.string();
  }
  return "";
}

// One entry per DatasetInfo::files: the path found, or empty.
std::vector<std::string> find_in(const std::string& folder, const DatasetInfo& info) {
  std::vector<std::string> paths;
  for (const DatasetFile& file : info.files) paths.push_back(find_variant(folder, file.name));
  return paths;
}

bool complete(const std::vector<std::string>& paths) {
  return std::none_of(paths.begin(), paths.end(), [](const std::string& p) { return p.empty(); });
}

DatasetFiles to_dataset_files(const std::string& folder, const std::vector<std::string>& paths) {
  return {folder, paths[0], paths[1], paths[2], paths[3]};
}

std::vector<std::string> missing_names(const std::string& folder, const DatasetInfo& info) {
  std::vector<std::string> paths = find_in(folder, info);
  std::vector<std::string> missing;
  for (size_t i = 0; i < paths.size(); ++i) {
    if (paths[i].empty()) missing.push_back(info.files[i].name);
  }
  return missing;
}

// One line per folder looked in: what is missing there.
std::string folder_report(const std::string& folder, const DatasetInfo& info) {
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) return "  " + folder + "  (folder does not exist)\n";
  std::vector<std::string> missing = missing_names(folder, info);
  return "  " + folder + "  (missing " + join(missing, ", ") + ")\n";
}

// A common mistake is pointing --data-dir / ONECLASS_DATA_DIR at the data set folder itself.
std::string misplaced_hint(const DatasetQuery& query, const DatasetInfo& info) {
  std::string hint;
  for (const std::string& root : {query.data_dir, env("ONECLASS_DATA_DIR")}) {
    if (!root.empty() && complete(find_in(root, info))) {
      hint += "Note: '" + root + "' itself holds the files, but they are looked for in its " +
              "subfolder '" + (fs::path(root) / info.name).string() + "'; move them there.\n";
    }
  }
  return hint;
}

std::string remedies(const DatasetInfo& info, const DatasetQuery& query) {
  std::string cache = cache_dir_or_empty();
  std::string example = cache.empty() ? "DIR/" + info.name : (fs::path(cache) / info.name).string();
  std::string text = "To provide them, do one of:\n";
  text += "  - copy the four files into one of the folders above, e.g. " + example + "\n";
  text += "  - put them in DIR/" + info.name + "/ and set ONECLASS_DATA_DIR=DIR\n";
  text += "  - put them in DIR/" + info.name + "/ and pass --data-dir DIR\n";
  if (!debian_package(info).empty()) {
    text += "  - install the Debian package: sudo apt-get install " + debian_package(info) + "\n";
  }
  if (!info.mirrors.empty()) {
    text += "  - fetch them by hand from " + info.mirrors.front() + " (each file name + .gz)\n";
  }
  if (!query.allow_download) {
    text += "  - run again without --no-download to fetch them automatically\n";
  }
  return text;
}

[[noreturn]] void throw_not_found(const DatasetInfo& info, const DatasetQuery& query,
                                  const std::vector<std::string>& dirs, const std::string& why) {
  std::vector<std::string> names;
  for (const DatasetFile& file : info.files) names.push_back(file.name);
  std::ostringstream msg;
  msg << "data set '" << info.name << "' not found: it needs " << join(names, ", ")
      << " (each as NAME.gz or uncompressed NAME) together in one folder.\n";
  msg << "Looked in:\n";
  for (const std::string& dir : dirs) msg << folder_report(dir, info);
  if (dirs.empty()) msg << "  (no folder: HOME is not set and neither --data-dir nor "
                           "ONECLASS_DATA_DIR was given)\n";
  if (!query.allow_download) msg << "Download is turned off (--no-download).\n";
  if (!why.empty()) msg << why << "\n";
  msg << misplaced_hint(query, info) << remedies(info, query);
  std::string text = msg.str();
  text.pop_back();  // the caller adds its own line end
  throw Error(text);
}

std::string with_slash(std::string url) {
  if (!url.empty() && url.back() != '/') url += '/';
  return url;
}

// Tries each mirror in turn; returns "" on success, else every mirror's failure.
std::string fetch_one(const DatasetFile& file, const std::vector<std::string>& mirrors,
                      const std::string& folder) {
  std::string dest = (fs::path(folder) / (file.name + ".gz")).string();
  std::string failures;
  for (const std::string& mirror : mirrors) {
    std::string url = with_slash(mirror) + file.name + ".gz";
    std::cerr << "oneclass: downloading " << url << " to " << dest << "\n";
    try {
      download_file(url, dest, file.md5);
      return "";
    } catch (const Error& e) {
      failures += (failures.empty() ? "  " : "\n  ") + std::string(e.what());
    }
  }
  return failures;
}

DatasetFiles download_into_cache(const DatasetInfo& info, const DatasetQuery& query,
                                 const std::vector<std::string>& dirs) {
  if (!download_available()) {
    throw_not_found(info, query, dirs,
                    "Could not download them: this build of oneclass has no download support "
                    "(libcurl and OpenSSL were not found when it was built).");
  }
  std::string cache = cache_dir_or_empty();
  if (cache.empty()) {
    throw_not_found(info, query, dirs,
                    "Could not download them: no user cache folder (set XDG_CACHE_HOME or HOME).");
  }
  std::string folder = (fs::path(cache) / info.name).lexically_normal().string();
  std::vector<std::string> mirrors =
      query.mirror_override.empty() ? info.mirrors : std::vector<std::string>{query.mirror_override};
  std::vector<std::string> paths = find_in(folder, info);
  for (size_t i = 0; i < info.files.size(); ++i) {
    if (!paths[i].empty()) continue;  // keep files an earlier, interrupted run already verified
    std::string failures = fetch_one(info.files[i], mirrors, folder);
    if (!failures.empty()) {
      throw_not_found(info, query, dirs,
                      "Downloading " + info.files[i].name + ".gz failed:\n" + failures);
    }
  }
  return to_dataset_files(folder, find_in(folder, info));
}

}  // namespace

const DatasetInfo& dataset_info(const std::string& name) {
  std::string wanted = lower(name);
  for (const DatasetInfo& info : registry()) {
    if (info.name == wanted) return info;
  }
  throw Error("unknown data set '" + name + "'; known data sets: " + join(dataset_names(), ", ") +
              " (names are case-insensitive)");
}

std::vector<std::string> dataset_names() {
  std::vector<std::string> names;
  for (const DatasetInfo& info : registry()) names.push_back(info.name);
  return names;
}

std::string user_cache_dir() {
  std::string dir = cache_dir_or_empty();
  if (dir.empty()) {
    throw Error("cannot find the user cache folder: neither XDG_CACHE_HOME (absolute path) nor HOME "
                "is set; set one of them, or pass --data-dir");
  }
  return dir;
}

std::vector<std::string> dataset_search_dirs(const DatasetQuery& query) {
  const DatasetInfo& info = dataset_info(query.name);
  std::vector<std::string> dirs;
  auto add = [&dirs](const fs::path& dir) {
    std::string normal = dir.lexically_normal().string();
    // The same folder given twice (e.g. --data-dir equal to ONECLASS_DATA_DIR) is listed once.
    if (std::find(dirs.begin(), dirs.end(), normal) == dirs.end()) dirs.push_back(normal);
  };
  for (const std::string& root : {query.data_dir, env("ONECLASS_DATA_DIR"), cache_dir_or_empty()}) {
    if (!root.empty()) add(fs::path(root) / info.name);
  }
  for (const std::string& dir : info.system_dirs) add(dir);
  return dirs;
}

DatasetFiles locate_dataset(const DatasetQuery& query) {
  const DatasetInfo& info = dataset_info(query.name);
  std::vector<std::string> dirs = dataset_search_dirs(query);
  for (const std::string& dir : dirs) {
    std::vector<std::string> paths = find_in(dir, info);
    if (complete(paths)) return to_dataset_files(dir, paths);
  }
  if (!query.allow_download) throw_not_found(info, query, dirs, "");
  return download_into_cache(info, query, dirs);
}

}  // namespace oneclass::data
