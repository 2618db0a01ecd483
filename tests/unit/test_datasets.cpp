// Data set registry and file look-up: order of the candidate folders, accepted file forms and the
// text of the errors. No network: every look-up here runs with allow_download = false.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "oneclass/data/datasets.h"
#include "oneclass/error.h"
#include "support/test_support.h"

namespace {

namespace fs = std::filesystem;
using oneclass::data::dataset_info;
using oneclass::data::dataset_names;
using oneclass::data::dataset_search_dirs;
using oneclass::data::DatasetQuery;
using oneclass::data::locate_dataset;
using oneclass::data::user_cache_dir;
using oneclass::testing_support::error_of;
using oneclass::testing_support::ScopedEnv;
using oneclass::testing_support::TempDir;
using oneclass::testing_support::write_file;

const std::vector<std::string> kFileNames = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                             "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};
const char* kDebianFashionDir = "/usr/share/datasets/fashion-mnist";

// The four files in `folder`: gzipped names when `gz`, plain names otherwise. Contents are not
// IDX; the look-up never opens them.
void make_dataset(const fs::path& folder, bool gz = true) {
  for (const std::string& name : kFileNames) write_file(folder / (name + (gz ? ".gz" : "")), "x");
}

bool debian_fashion_installed() {
  for (const std::string& name : kFileNames) {
    if (!fs::is_regular_file(fs::path(kDebianFashionDir) / (name + ".gz"))) return false;
  }
  return true;
}

// Every test gets its own cache, data and env folders; HOME too, so nothing real is looked at.
class DatasetLookup : public ::testing::Test {
 protected:
  fs::path cache_root() const { return tmp_.path() / "cache"; }
  fs::path cache_dir(const std::string& set = "mnist") const {
    return cache_root() / "oneclass" / set;
  }
  fs::path data_root() const { return tmp_.path() / "data"; }
  fs::path env_root() const { return tmp_.path() / "env"; }

  DatasetQuery query(const std::string& name = "mnist", bool with_data_dir = true) const {
    DatasetQuery q;
    q.name = name;
    if (with_data_dir) q.data_dir = data_root().string();
    q.allow_download = false;
    return q;
  }

  TempDir tmp_{"oneclass-datasets"};
  ScopedEnv home_{"HOME", (tmp_.path() / "home").c_str()};
  ScopedEnv xdg_{"XDG_CACHE_HOME", cache_root().c_str()};
  ScopedEnv data_env_{"ONECLASS_DATA_DIR", nullptr};
};

TEST(DatasetRegistry, ListsMnistAndFashionMnist) {
  EXPECT_EQ(dataset_names(), (std::vector<std::string>{"mnist", "fashion-mnist"}));
}

TEST(DatasetRegistry, MnistHasPublishedFilesChecksumsAndMirrors) {
  const auto& info = dataset_info("mnist");
  ASSERT_EQ(info.files.size(), 4u);
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(info.files[i].name, kFileNames[i]);
  EXPECT_EQ(info.files[0].md5, "f68b3c2dcbeaaa9fbdd348bbdeb94873");
  EXPECT_EQ(info.files[3].md5, "ec29112dd5afa0611ce80d1b7f02629c");
  ASSERT_EQ(info.mirrors.size(), 2u);
  EXPECT_EQ(info.mirrors[0], "https://ossci-datasets.s3.amazonaws.com/mnist/");
  EXPECT_EQ(info.mirrors[1], "http://yann.lecun.com/exdb/mnist/");
  EXPECT_TRUE(info.system_dirs.empty());
  EXPECT_FALSE(info.description.empty());
}

TEST(DatasetRegistry, FashionMnistHasChecksumsAndDebianFolder) {
  const auto& info = dataset_info("fashion-mnist");
  ASSERT_EQ(info.files.size(), 4u);
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(info.files[i].name, kFileNames[i]);
  EXPECT_EQ(info.files[0].md5, "8d4fb7e6c68d591d4c3dfef9ec88bf0d");
  EXPECT_EQ(info.files[3].md5, "bb300cfdad3c16e7a12a480ee83cd310");
  EXPECT_EQ(info.system_dirs, std::vector<std::string>{kDebianFashionDir});
}

TEST(DatasetRegistry, NamesAreCaseInsensitive) {
  EXPECT_EQ(dataset_info("MNIST").name, "mnist");
  EXPECT_EQ(dataset_info("Fashion-MNIST").name, "fashion-mnist");
}

TEST(DatasetRegistry, UnknownNameListsKnownNames) {
  std::string msg = error_of([] { dataset_info("cifar10"); });
  EXPECT_NE(msg.find("'cifar10'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("mnist, fashion-mnist"), std::string::npos) << msg;
}

TEST_F(DatasetLookup, UnknownNameFailsBeforeLookingAnywhere) {
  std::string msg = error_of([&] { locate_dataset(query("emnist")); });
  EXPECT_NE(msg.find("known data sets"), std::string::npos) << msg;
}

TEST_F(DatasetLookup, UserCacheUsesXdgThenHome) {
  EXPECT_EQ(user_cache_dir(), (cache_root() / "oneclass").string());
  xdg_.set("relative/cache");  // the XDG spec says to ignore relative values
  EXPECT_EQ(user_cache_dir(), (tmp_.path() / "home" / ".cache" / "oneclass").string());
  xdg_.set(nullptr);
  EXPECT_EQ(user_cache_dir(), (tmp_.path() / "home" / ".cache" / "oneclass").string());
  home_.set(nullptr);
  std::string msg = error_of([] { user_cache_dir(); });
  EXPECT_NE(msg.find("XDG_CACHE_HOME"), std::string::npos) << msg;
  EXPECT_NE(msg.find("--data-dir"), std::string::npos) << msg;
}

TEST_F(DatasetLookup, SearchDirsFollowDocumentedOrder) {
  data_env_.set(env_root().c_str());
  std::vector<std::string> expected = {(data_root() / "mnist").string(),
                                       (env_root() / "mnist").string(), cache_dir().string()};
  EXPECT_EQ(dataset_search_dirs(query("mnist")), expected);

  expected = {(data_root() / "fashion-mnist").string(), (env_root() / "fashion-mnist").string(),
              cache_dir("fashion-mnist").string(), kDebianFashionDir};
  EXPECT_EQ(dataset_search_dirs(query("Fashion-MNIST")), expected);
}

TEST_F(DatasetLookup, SearchDirsSkipUnsetAndRepeatedFolders) {
  EXPECT_EQ(dataset_search_dirs(query("mnist", false)),
            std::vector<std::string>{cache_dir().string()});
  data_env_.set((data_root().string() + "/").c_str());  // same folder as --data-dir
  EXPECT_EQ(dataset_search_dirs(query("mnist")),
            (std::vector<std::string>{(data_root() / "mnist").string(), cache_dir().string()}));
}

TEST_F(DatasetLookup, DataDirBeatsEnvBeatsCache) {
  data_env_.set(env_root().c_str());
  make_dataset(data_root() / "mnist");
  make_dataset(env_root() / "mnist");
  make_dataset(cache_dir());
  EXPECT_EQ(locate_dataset(query()).folder, (data_root() / "mnist").string());
  fs::remove_all(data_root());
  EXPECT_EQ(locate_dataset(query()).folder, (env_root() / "mnist").string());
  data_env_.set(nullptr);
  auto files = locate_dataset(query());
  EXPECT_EQ(files.folder, cache_dir().string());
  EXPECT_EQ(files.train_images, (cache_dir() / "train-images-idx3-ubyte.gz").string());
}

TEST_F(DatasetLookup, AcceptsGzAndPlainFilesMixed) {
  fs::path dir = data_root() / "mnist";
  write_file(dir / "train-images-idx3-ubyte.gz", "x");
  write_file(dir / "train-labels-idx1-ubyte", "x");
  write_file(dir / "t10k-images-idx3-ubyte", "x");
  write_file(dir / "t10k-labels-idx1-ubyte.gz", "x");
  auto files = locate_dataset(query());
  EXPECT_EQ(files.folder, dir.string());
  EXPECT_EQ(files.train_images, (dir / "train-images-idx3-ubyte.gz").string());
  EXPECT_EQ(files.train_labels, (dir / "train-labels-idx1-ubyte").string());
  EXPECT_EQ(files.test_images, (dir / "t10k-images-idx3-ubyte").string());
  EXPECT_EQ(files.test_labels, (dir / "t10k-labels-idx1-ubyte.gz").string());
}

TEST_F(DatasetLookup, AcceptsPlainFilesOnlyAndPrefersGzWhenBoth) {
  fs::path dir = data_root() / "mnist";
  make_dataset(dir, false);
  EXPECT_EQ(locate_dataset(query()).test_labels, (dir / "t10k-labels-idx1-ubyte").string());
  make_dataset(dir, true);
  EXPECT_EQ(locate_dataset(query()).test_labels, (dir / "t10k-labels-idx1-ubyte.gz").string());
}

TEST_F(DatasetLookup, IncompleteFolderIsPassedOver) {
  fs::path dir = data_root() / "mnist";
  make_dataset(dir);
  fs::remove(dir / "t10k-labels-idx1-ubyte.gz");
  fs::create_directories(dir / "t10k-labels-idx1-ubyte");  // a folder is not a file
  make_dataset(cache_dir());
  EXPECT_EQ(locate_dataset(query()).folder, cache_dir().string());
}

TEST_F(DatasetLookup, NotFoundErrorListsMissingFilesFoldersAndRemedies) {
  data_env_.set(env_root().c_str());
  make_dataset(env_root() / "mnist");
  fs::remove(env_root() / "mnist" / "train-labels-idx1-ubyte.gz");
  std::string msg = error_of([&] { locate_dataset(query()); });
  for (const std::string& name : kFileNames) EXPECT_NE(msg.find(name), std::string::npos) << msg;
  EXPECT_NE(msg.find((data_root() / "mnist").string() + "  (folder does not exist)"),
            std::string::npos) << msg;
  EXPECT_NE(msg.find((env_root() / "mnist").string() + "  (missing train-labels-idx1-ubyte)"),
            std::string::npos) << msg;
  EXPECT_NE(msg.find(cache_dir().string()), std::string::npos) << msg;
  EXPECT_NE(msg.find("ONECLASS_DATA_DIR"), std::string::npos) << msg;
  EXPECT_NE(msg.find("--data-dir"), std::string::npos) << msg;
  EXPECT_NE(msg.find("--no-download"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("apt-get"), std::string::npos) << "no Debian package for mnist: " << msg;
}

TEST_F(DatasetLookup, NotFoundErrorPointsOutFilesPlacedDirectlyInDataDir) {
  make_dataset(data_root());  // should have been data_root()/mnist
  std::string msg = error_of([&] { locate_dataset(query()); });
  EXPECT_NE(msg.find("itself holds the files"), std::string::npos) << msg;
  EXPECT_NE(msg.find((data_root() / "mnist").string() + "'; move them there"), std::string::npos)
      << msg;
}

TEST_F(DatasetLookup, DataDirBeatsDebianFolder) {
  make_dataset(data_root() / "fashion-mnist", false);
  EXPECT_EQ(locate_dataset(query("fashion-mnist")).folder,
            (data_root() / "fashion-mnist").string());
}

TEST_F(DatasetLookup, FashionMnistFoundInDebianFolder) {
  if (!debian_fashion_installed()) {
    GTEST_SKIP() << "Debian package dataset-fashion-mnist is not installed";
  }
  auto files = locate_dataset(query("fashion-mnist", false));
  EXPECT_EQ(files.folder, kDebianFashionDir);
  EXPECT_EQ(files.train_images, std::string(kDebianFashionDir) + "/train-images-idx3-ubyte.gz");
  EXPECT_EQ(files.test_labels, std::string(kDebianFashionDir) + "/t10k-labels-idx1-ubyte.gz");
}

TEST_F(DatasetLookup, FashionMnistNotFoundSuggestsDebianPackage) {
  if (debian_fashion_installed()) {
    GTEST_SKIP() << "dataset-fashion-mnist is installed, so fashion-mnist is always found";
  }
  std::string msg = error_of([&] { locate_dataset(query("fashion-mnist")); });
  EXPECT_NE(msg.find("apt-get install dataset-fashion-mnist"), std::string::npos) << msg;
  EXPECT_NE(msg.find(kDebianFashionDir), std::string::npos) << msg;
}

}  // namespace
