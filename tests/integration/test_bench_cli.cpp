// `oneclass bench` with the real program on the genuine MNIST files (and one crafted data set):
// what a run stores and writes, resuming, a kill -9 and a Ctrl-C in the middle, failing jobs,
// results that do not depend on how jobs were scheduled (stacks, `oneclass run`, MPI ranks), two
// processes on one folder, kept run folders, and the messages of bad input. The settings are cheap
// (knn, or mlp-ae with a small code for an epoch or a few) so that the file runs in about a minute.
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "oneclass/bench/jobs.h"
#include "oneclass/config.h"
#include "oneclass/report/figures.h"
#include "support/cli_support.h"
#include "support/test_support.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using oneclass::testing_support::CliProcess;
using oneclass::testing_support::CliResult;
using oneclass::testing_support::contains;
using oneclass::testing_support::describe;
using oneclass::testing_support::read_file;
using oneclass::testing_support::TempDir;
using oneclass::testing_support::write_file;

const std::string kDataDir = oneclass::testing_support::data_dir();
using Args = std::vector<std::string>;

// ---------------------------------------------------------------------------------------------
// Running the program

// Runs the program to the end (at most `timeout` seconds); output files go to `prefix`.out/.err.
// `program` is oneclass unless given (as "/usr/bin/env" for programs found on the PATH).
CliResult run(const Args& arguments, const std::string& prefix, double timeout = 240,
              const std::string& program = oneclass::testing_support::cli_binary()) {
  CliProcess process(arguments, prefix, program);
  CliResult r;
  r.exit_code = process.wait(timeout);
  r.out = process.out();
  r.err = process.err();
  return r;
}

// `bench` with the data and output flags every test uses, then `extra`.
Args bench(const std::string& out, const Args& extra, const std::string& data_dir = kDataDir) {
  Args args{"bench", "--out", out, "--data-dir", data_dir, "--no-download", "--no-progress"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

// The knn and mlp-ae settings of these tests (mlp-ae: 8-number code, `epochs` epochs).
Args knn_jobs(const std::string& classes, const std::string& seeds) {
  return {"--models", "knn", "--classes", classes, "--seeds", seeds};
}
Args mlp_jobs(const std::string& classes, const std::string& seeds, int epochs) {
  return {"--models", "mlp-ae", "-o", "z=8", "--epochs", std::to_string(epochs), "--classes", classes,
          "--seeds", seeds};
}
// Four fifths of each class's training images held out: a job trains on about 1,200 images, or
// knn searches them, in well under a second. Where the numbers themselves matter (the quality
// floor) the default share is used.
const Args kSmallTrain{"--val-fraction", "0.8"};
Args operator+(Args a, const Args& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// ---------------------------------------------------------------------------------------------
// Reading results.sqlite with the plain SQLite API (not through the code under test)

struct Row {
  std::string key, status, error, host, finished_at, artifacts;
  json config, metrics;
  bool has_auroc = false;
  double auroc = 0;
  int cls() const { return config.value("class", -1); }
  uint64_t seed() const { return config.value("seed", uint64_t{999}); }
  std::string model() const { return config.value("model", std::string()); }
};

// Opens an existing database (never creates one); nullptr when it is not there (yet).
sqlite3* open_db(const std::string& path) {
  sqlite3* db = nullptr;
  if (!fs::exists(path) || sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    return nullptr;
  }
  sqlite3_busy_timeout(db, 20000);
  return db;
}

std::string text_column(sqlite3_stmt* stmt, int i) {
  const auto* text = sqlite3_column_text(stmt, i);
  return text ? reinterpret_cast<const char*>(text) : "";
}

// Every row of the jobs table, by key; empty when there is no database yet.
std::map<std::string, Row> read_rows(const std::string& path) {
  std::map<std::string, Row> rows;
  sqlite3* db = open_db(path);
  if (!db) return rows;
  sqlite3_stmt* stmt = nullptr;
  const char* sql = "SELECT key, status, auroc, error, host, finished_at, artifacts, config, metrics FROM jobs";
  if (sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr) == SQLITE_OK) {
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      Row r;
      r.key = text_column(stmt, 0);
      r.status = text_column(stmt, 1);
      r.has_auroc = sqlite3_column_type(stmt, 2) != SQLITE_NULL;
      r.auroc = sqlite3_column_double(stmt, 2);
      r.error = text_column(stmt, 3);
      r.host = text_column(stmt, 4);
      r.finished_at = text_column(stmt, 5);
      r.artifacts = text_column(stmt, 6);
      r.config = json::parse(text_column(stmt, 7), nullptr, false);
      r.metrics = json::parse(text_column(stmt, 8), nullptr, false);
      rows.emplace(r.key, r);
    }
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return rows;
}

// The one-value answer of `sql` ("" when there is no database or no row).
std::string query(const std::string& path, const std::string& sql) {
  sqlite3* db = open_db(path);
  if (!db) return "";
  sqlite3_stmt* stmt = nullptr;
  std::string value;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK && sqlite3_step(stmt) == SQLITE_ROW) {
    value = text_column(stmt, 0);
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return value;
}

int done_rows(const std::string& db) {
  const std::string n = query(db, "SELECT count(*) FROM jobs WHERE status = 'done'");
  return n.empty() ? 0 : std::stoi(n);
}

// Waits until the database holds at least `n` finished rows, or the process ends, or `timeout`.
int wait_for_rows(const std::string& db, int n, CliProcess& process, double timeout) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout);
  int found = 0;
  while ((found = done_rows(db)) < n && !process.poll() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  return found;
}

// The keys `oneclass bench` should store for these models, classes and seeds.
std::set<std::string> planned_keys(const std::vector<oneclass::bench::ModelSpec>& models, std::vector<int> classes,
                                   std::vector<uint64_t> seeds, double val_fraction = 0.1) {
  oneclass::bench::PlanOptions plan;
  plan.models = models;
  plan.classes = std::move(classes);
  plan.seeds = std::move(seeds);
  plan.val_fraction = val_fraction;
  std::set<std::string> keys;
  for (const auto& job : oneclass::bench::plan_jobs(plan)) keys.insert(job.key());
  return keys;
}

std::set<std::string> keys_of(const std::map<std::string, Row>& rows) {
  std::set<std::string> keys;
  for (const auto& [key, row] : rows) keys.insert(key);
  return keys;
}

// A finished row as it must be: status done, AUROC in (0, 1], the same AUROC in its metrics, a host.
void expect_complete(const Row& r) {
  EXPECT_EQ(r.status, "done") << r.key << ": " << r.error;
  EXPECT_TRUE(r.has_auroc) << r.key;
  EXPECT_GT(r.auroc, 0.0) << r.key;
  EXPECT_LE(r.auroc, 1.0) << r.key;
  ASSERT_TRUE(r.metrics.is_object()) << r.key;
  EXPECT_EQ(r.metrics.value("auroc", -1.0), r.auroc) << r.key;
  EXPECT_FALSE(r.host.empty()) << r.key;
  EXPECT_TRUE(r.config.is_object()) << r.key;
}

// AUROC by (model, class, seed).
std::map<std::tuple<std::string, int, uint64_t>, double> auroc_by_job(const std::map<std::string, Row>& rows) {
  std::map<std::tuple<std::string, int, uint64_t>, double> out;
  for (const auto& [key, r] : rows) out[{r.model(), r.cls(), r.seed()}] = r.auroc;
  return out;
}

void expect_same_aurocs(const std::map<std::string, Row>& a, const std::map<std::string, Row>& b) {
  ASSERT_EQ(keys_of(a), keys_of(b));
  for (const auto& [key, row] : a) {
    EXPECT_NEAR(row.auroc, b.at(key).auroc, 1e-9) << row.model() << " class " << row.cls() << " seed " << row.seed();
  }
}

int count_of(const std::string& text, const std::string& part) {
  int n = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + part.size())) ++n;
  return n;
}

class BenchCli : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs::is_regular_file(oneclass::testing_support::cli_binary()))
        << "build the CLI first: " << oneclass::testing_support::cli_binary();
  }
  std::string path(const std::string& name) const { return dir_.file(name); }
  TempDir dir_{"oneclass-bench-cli"};
};

// ---------------------------------------------------------------------------------------------
// A run, then the same run again, then a wider one

TEST_F(BenchCli, RunStoresEveryJobWritesTheReportAndResumesWithoutRetraining) {
  const std::string out = path("bench"), db = out + "/results.sqlite";
  const auto first = run(bench(out, knn_jobs("0-1", "0")), path("first"));
  ASSERT_EQ(first.exit_code, 0) << describe(first);
  EXPECT_TRUE(contains(first.out, "2 of 2 jobs finished")) << describe(first);

  const auto rows = read_rows(db);
  EXPECT_EQ(keys_of(rows), planned_keys({{"knn", json::object()}}, {0, 1}, {0}))
      << "one row per planned job, keyed as plan_jobs keys it";
  for (const auto& [key, r] : rows) {
    SCOPED_TRACE("class " + std::to_string(r.cls()));
    expect_complete(r);
    EXPECT_EQ(r.model(), "knn");
    // Quality floor: raw-pixel nearest neighbour separates MNIST 0s and 1s from the other digits.
    EXPECT_GE(r.auroc, r.cls() == 0 ? 0.98 : 0.99);
    EXPECT_EQ(r.metrics.value("n_normal", 0), r.cls() == 0 ? 980 : 1135) << "the whole test set is used";
    EXPECT_EQ(r.metrics.value("n_anomaly", 0), 10000 - (r.cls() == 0 ? 980 : 1135));
  }
  EXPECT_EQ(query(db, "PRAGMA integrity_check"), "ok");

  // The report files, made from the stored rows.
  for (const char* name : {"results.md", "results.csv", "results.json", "report.html"}) {
    EXPECT_TRUE(fs::is_regular_file(out + "/" + name)) << name;
  }
  EXPECT_EQ(fs::is_regular_file(out + "/per_class.png"), oneclass::report::figures_available());
  EXPECT_EQ(json::parse(read_file(out + "/results.json"))["rows"].size(), 2u);

  // The same command again: nothing to do.
  const auto again = run(bench(out, knn_jobs("0-1", "0")), path("again"));
  EXPECT_EQ(again.exit_code, 0) << describe(again);
  EXPECT_TRUE(contains(again.err, "2 already finished, 0 to run")) << describe(again);
  EXPECT_FALSE(contains(again.err, "AUROC")) << "no job may run again\n" << describe(again);
  EXPECT_TRUE(contains(again.out, "2 of 2 jobs finished (0 now, 2 earlier)")) << describe(again);
  const auto after = read_rows(db);
  ASSERT_EQ(keys_of(after), keys_of(rows));
  for (const auto& [key, r] : rows) {
    EXPECT_EQ(after.at(key).auroc, r.auroc);
    EXPECT_EQ(after.at(key).finished_at, r.finished_at) << "the row was written again";
  }
  EXPECT_TRUE(fs::is_regular_file(out + "/report.html"));

  // One more seed: only its two jobs run.
  const auto wider = run(bench(out, knn_jobs("0-1", "0-1")), path("wider"));
  EXPECT_EQ(wider.exit_code, 0) << describe(wider);
  EXPECT_TRUE(contains(wider.err, "4 jobs planned, 2 already finished, 2 to run")) << describe(wider);
  EXPECT_EQ(count_of(wider.err, ": AUROC"), 2) << describe(wider);
  EXPECT_EQ(count_of(wider.err, "/ seed 1: AUROC"), 2) << describe(wider);
  const auto widened = read_rows(db);
  EXPECT_EQ(keys_of(widened), planned_keys({{"knn", json::object()}}, {0, 1}, {0, 1}));
  for (const auto& [key, r] : rows) EXPECT_EQ(widened.at(key).finished_at, r.finished_at);

  // The report now covers all four jobs, with the numbers of the database.
  const json results = json::parse(read_file(out + "/results.json"));
  ASSERT_EQ(results["rows"].size(), 4u);
  const auto aurocs = auroc_by_job(widened);
  for (const auto& row : results["rows"]) {
    EXPECT_EQ(row["auroc"].get<double>(),
              aurocs.at({"knn", row["normal_class"].get<int>(), row["seed"].get<uint64_t>()}));
  }
  // results.csv: the class-0 mean over the two seeds.
  const double mean0 = (aurocs.at({"knn", 0, 0}) + aurocs.at({"knn", 0, 1})) / 2;
  std::istringstream csv(read_file(out + "/results.csv"));
  bool found_class0 = false;
  for (std::string line; std::getline(csv, line);) {
    if (line.rfind("mnist,knn,0,", 0) != 0) continue;
    found_class0 = true;
    EXPECT_NEAR(std::stod(line.substr(12)), mean0, 1e-8) << line;
  }
  EXPECT_TRUE(found_class0) << read_file(out + "/results.csv");
}

// A resume after a code change: rows another source revision made are reported, not reused
// silently; --keep-stale keeps them (the report names both revisions), --rerun-stale trains them
// again.
TEST_F(BenchCli, FinishedJobsOfAnotherRevisionAreReportedThenKeptOrRerunOnRequest) {
  const std::string out = path("bench"), db = out + "/results.sqlite";
  const Args jobs = knn_jobs("0", "0-1") + kSmallTrain;
  const auto first = run(bench(out, jobs), path("first"));
  ASSERT_EQ(first.exit_code, 0) << describe(first);
  const std::string revision = query(db, "SELECT revision FROM jobs LIMIT 1");
  const auto version = run({"--version"}, path("version"));
  ASSERT_FALSE(revision.empty());
  EXPECT_TRUE(contains(version.out, "revision " + revision)) << "rows name the code that made them\n"
                                                             << describe(version);
  EXPECT_EQ(query(db, "SELECT count(*) FROM jobs WHERE revision = '" + revision + "'"), "2");
  EXPECT_EQ(query(db, "SELECT json_extract(environment, '$.revision') FROM jobs LIMIT 1"), revision);
  EXPECT_FALSE(query(db, "SELECT json_extract(environment, '$.libtorch') FROM jobs LIMIT 1").empty());

  // Pretend seed 1 was made by older code.
  query(db, "UPDATE jobs SET revision = 'f00df00df00d' WHERE json_extract(config, '$.seed') = 1");
  const auto refused = run(bench(out, jobs), path("refused"));
  EXPECT_NE(refused.exit_code, 0) << describe(refused);
  EXPECT_TRUE(contains(refused.err, "1 finished job(s) of this plan were made by other code (1 by revision "
                                    "f00df00df00d; this is revision " + revision + ")"))
      << describe(refused);
  EXPECT_TRUE(contains(refused.err, "--rerun-stale") && contains(refused.err, "--keep-stale")) << describe(refused);
  EXPECT_EQ(query(db, "SELECT count(*) FROM jobs WHERE revision = 'f00df00df00d'"), "1") << "nothing changed";

  const auto kept = run(bench(out, jobs + Args{"--keep-stale"}), path("kept"));
  EXPECT_EQ(kept.exit_code, 0) << describe(kept);
  EXPECT_TRUE(contains(kept.err, "2 already finished, 0 to run")) << describe(kept);
  EXPECT_TRUE(contains(read_file(out + "/results.md"),
                       "revisions " + revision + " (1 job), f00df00df00d (1 job)") ||
              contains(read_file(out + "/results.md"), "revisions f00df00df00d (1 job), " + revision + " (1 job)"))
      << read_file(out + "/results.md");

  const auto rerun = run(bench(out, jobs + Args{"--rerun-stale"}), path("rerun"));
  EXPECT_EQ(rerun.exit_code, 0) << describe(rerun);
  EXPECT_TRUE(contains(rerun.err, "1 already finished, 1 to run")) << describe(rerun);
  EXPECT_EQ(count_of(rerun.err, "/ seed 1: AUROC"), 1) << describe(rerun);
  EXPECT_EQ(query(db, "SELECT count(*) FROM jobs WHERE revision = '" + revision + "'"), "2");
  EXPECT_TRUE(contains(read_file(out + "/results.md"), "revision " + revision)) << read_file(out + "/results.md");
  EXPECT_FALSE(contains(read_file(out + "/results.md"), "f00df00df00d"));

  const auto both = run(bench(out, jobs + Args{"--rerun-stale", "--keep-stale"}), path("both"));
  EXPECT_NE(both.exit_code, 0) << describe(both);
}

// ---------------------------------------------------------------------------------------------
// Interruptions

// Four mlp-ae jobs of about a second each, one per stack, so that each is stored on its own.
constexpr int kSlowEpochs = 2;
Args slow_jobs() { return mlp_jobs("0-1", "0-1", kSlowEpochs) + kSmallTrain + Args{"--jobs", "1"}; }

TEST_F(BenchCli, KillNineLosesNoFinishedJobAndARerunFinishesTheRest) {
  const std::string out = path("bench"), db = out + "/results.sqlite";
  int stored_at_kill = 0;
  {
    CliProcess process(bench(out, slow_jobs()), path("killed"));
    const int seen = wait_for_rows(db, 1, process, 120);
    ASSERT_FALSE(process.poll()) << "the bench ended before it could be killed; make its jobs longer\n"
                                 << process.describe();
    ASSERT_GE(seen, 1) << process.describe();
    process.signal(SIGKILL);
    EXPECT_EQ(process.wait(30), 128 + SIGKILL);
    EXPECT_FALSE(contains(process.out(), "jobs finished")) << "it was killed, not finished";
  }
  EXPECT_EQ(query(db, "PRAGMA integrity_check"), "ok");
  const auto rows = read_rows(db);
  stored_at_kill = static_cast<int>(rows.size());
  ASSERT_GE(stored_at_kill, 1);
  ASSERT_LT(stored_at_kill, 4) << "every job had finished before the kill; make the jobs longer";
  for (const auto& [key, r] : rows) expect_complete(r);

  const auto rerun = run(bench(out, slow_jobs()), path("rerun"));
  EXPECT_EQ(rerun.exit_code, 0) << describe(rerun);
  EXPECT_TRUE(contains(rerun.err, "4 jobs planned, " + std::to_string(stored_at_kill) + " already finished, " +
                                      std::to_string(4 - stored_at_kill) + " to run"))
      << describe(rerun);
  EXPECT_EQ(count_of(rerun.err, ": AUROC"), 4 - stored_at_kill) << describe(rerun);
  const auto all = read_rows(db);
  EXPECT_EQ(keys_of(all), planned_keys({{"mlp-ae", json{{"z", 8}, {"epochs", kSlowEpochs}}}}, {0, 1}, {0, 1}, 0.8));
  for (const auto& [key, r] : all) expect_complete(r);
  for (const auto& [key, r] : rows) {
    EXPECT_EQ(all.at(key).finished_at, r.finished_at) << "a job stored before the kill ran again";
    EXPECT_EQ(all.at(key).auroc, r.auroc);
  }
  EXPECT_EQ(query(db, "PRAGMA integrity_check"), "ok");
}

TEST_F(BenchCli, CtrlCStopsWithStatus130KeepsFinishedJobsAndWritesTheReport) {
  const std::string out = path("bench"), db = out + "/results.sqlite";
  CliProcess process(bench(out, slow_jobs()), path("interrupted"));
  wait_for_rows(db, 1, process, 120);
  ASSERT_FALSE(process.poll()) << "the bench ended before Ctrl-C; make its jobs longer\n" << process.describe();
  process.signal(SIGINT);
  const int status = process.wait(60);
  EXPECT_EQ(status, 130) << process.describe();
  EXPECT_TRUE(contains(process.err(), "interrupted")) << process.describe();

  const auto rows = read_rows(db);
  ASSERT_GE(rows.size(), 1u);
  EXPECT_LT(rows.size(), 4u) << "the run went on after Ctrl-C\n" << process.describe();
  for (const auto& [key, r] : rows) expect_complete(r);
  EXPECT_EQ(query(db, "PRAGMA integrity_check"), "ok");
  // The report covers the finished jobs and says how many are left.
  ASSERT_TRUE(fs::is_regular_file(out + "/report.html")) << process.describe();
  const json results = json::parse(read_file(out + "/results.json"));
  EXPECT_EQ(results["rows"].size(), rows.size());
  EXPECT_EQ(results["context"]["jobs_total"], 4);
  EXPECT_TRUE(contains(read_file(out + "/results.md"), std::to_string(4 - rows.size()) + " not run"))
      << read_file(out + "/results.md");
}

// ---------------------------------------------------------------------------------------------
// Failures

void append_be32(std::string& bytes, uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) bytes.push_back(static_cast<char>((value >> shift) & 0xff));
}

// An MNIST-shaped data set in `root`/mnist/ (raw IDX files): per class, `train[c]` training and
// `test[c]` test images. Class c's images are a flat grey of 20 + 100 c with one brighter pixel
// that moves from image to image, so that every class is far from every other.
void write_tiny_mnist(const fs::path& root, const std::vector<int>& train, const std::vector<int>& test) {
  const auto write_split = [&](const std::string& prefix, const std::vector<int>& counts) {
    std::string images, labels;
    uint32_t n = 0;
    for (int count : counts) n += static_cast<uint32_t>(count);
    append_be32(images, 0x00000803);
    append_be32(images, n);
    append_be32(images, 28);
    append_be32(images, 28);
    append_be32(labels, 0x00000801);
    append_be32(labels, n);
    for (size_t c = 0; c < counts.size(); ++c) {
      for (int i = 0; i < counts[c]; ++i) {
        std::string pixels(28 * 28, static_cast<char>(20 + 100 * c));
        pixels[static_cast<size_t>(i * 29 % 784)] = static_cast<char>(50 + 100 * c);
        images += pixels;
        labels.push_back(static_cast<char>(c));
      }
    }
    write_file(root / "mnist" / (prefix + "-images-idx3-ubyte"), images);
    write_file(root / "mnist" / (prefix + "-labels-idx1-ubyte"), labels);
  };
  write_split("train", train);
  write_split("t10k", test);
}

// knn with k=10 on a data set whose class 1 has no training images and class 2 only 6 (5 after
// the held-out tenth): class 1's jobs fail while splitting the data, class 2's while training in
// one stack with class 0's, which must still finish.
TEST_F(BenchCli, AFailingJobIsRecordedWithItsErrorAndTheOthersGoOn) {
  const std::string data = path("tiny-data"), out = path("bench"), db = out + "/results.sqlite";
  write_tiny_mnist(data, {40, 0, 6}, {10, 10, 10});
  const Args jobs{"--models", "knn:k=10", "--classes", "0-2", "--seeds", "0-1", "--jobs", "6"};
  const auto r = run(bench(out, jobs, data), path("failing"));
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_TRUE(contains(r.out, "2 of 6 jobs finished")) << describe(r);
  EXPECT_EQ(count_of(r.err, "FAILED"), 4) << describe(r);

  const auto rows = read_rows(db);
  ASSERT_EQ(rows.size(), 6u);
  for (const auto& [key, row] : rows) {
    SCOPED_TRACE("class " + std::to_string(row.cls()) + " seed " + std::to_string(row.seed()));
    if (row.cls() == 0) {
      expect_complete(row);
      EXPECT_EQ(row.auroc, 1.0) << "the classes of the crafted set are far apart";
      continue;
    }
    EXPECT_EQ(row.status, "failed");
    EXPECT_FALSE(row.has_auroc);
    const std::string expected = row.cls() == 1 ? "no training images" : "needs at least 10 training images, got 5";
    EXPECT_TRUE(contains(row.error, expected)) << row.error;
  }
  // The report lists the failures with their errors.
  const std::string md = read_file(out + "/results.md");
  EXPECT_TRUE(contains(md, "4 failed")) << md;
  EXPECT_TRUE(contains(md, "needs at least 10 training images")) << md;
  EXPECT_EQ(json::parse(read_file(out + "/results.json"))["failures"].size(), 4u);

  // A re-run tries the failed jobs again (and they fail again), keeping the finished ones.
  const auto again = run(bench(out, jobs, data), path("failing-again"));
  EXPECT_EQ(again.exit_code, 1) << describe(again);
  EXPECT_TRUE(contains(again.err, "2 already finished, 4 to run")) << describe(again);
  const auto rows_again = read_rows(db);
  for (const auto& [key, row] : rows) {
    if (row.status == "done") {
      EXPECT_EQ(rows_again.at(key).finished_at, row.finished_at);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Results do not depend on how the jobs were scheduled

TEST_F(BenchCli, StacksOrOneByOneOrOneclassRunGiveTheSameAuroc) {
  const Args jobs = mlp_jobs("0-1", "0-1", 1) + kSmallTrain;
  const auto stacked = run(bench(path("stacked"), jobs + Args{"--jobs", "4"}), path("stacked"));
  ASSERT_EQ(stacked.exit_code, 0) << describe(stacked);
  const auto alone = run(bench(path("alone"), jobs + Args{"--jobs", "1"}), path("alone"));
  ASSERT_EQ(alone.exit_code, 0) << describe(alone);
  const auto a = read_rows(path("stacked") + "/results.sqlite"), b = read_rows(path("alone") + "/results.sqlite");
  ASSERT_EQ(a.size(), 4u);
  expect_same_aurocs(a, b);
  // Different classes and seeds give different models: equal numbers are not one number copied.
  std::set<double> distinct;
  for (const auto& [key, r] : a) distinct.insert(r.auroc);
  EXPECT_EQ(distinct.size(), 4u);

  // `oneclass run` of one job gives the bench's AUROC (the bench trained it in a stack of four).
  const std::string run_dir = path("run");
  const auto single = run({"run", "--dataset", "mnist", "--normal", "1", "--seed", "1", "--epochs", "1", "-o", "z=8",
                           "--val-fraction", "0.8", "--data-dir", kDataDir, "--no-download", "--no-progress", "--no-figures", "--out", run_dir},
                          path("single"));
  ASSERT_EQ(single.exit_code, 0) << describe(single);
  const json metrics = json::parse(read_file(run_dir + "/metrics.json"));
  const auto aurocs = auroc_by_job(a);
  EXPECT_NEAR(metrics["auroc"].get<double>(), aurocs.at({"mlp-ae", 1, 1}), 1e-9);
}

bool have_program(const std::string& name) {
  return std::system(("command -v " + name + " >/dev/null 2>&1").c_str()) == 0;
}

TEST_F(BenchCli, MpiRanksShareTheStacksAndRankZeroStoresEveryResult) {
#ifndef ONECLASS_HAVE_MPI
  GTEST_SKIP() << "this oneclass was built without MPI";
#endif
  if (!have_program("mpirun")) GTEST_SKIP() << "mpirun is not installed";
  // Four stacks of one job: two for each rank.
  const Args jobs = Args{"--models", "knn,mlp-ae", "-o", "z=8", "--epochs", "1", "--classes", "0-1", "--seeds", "0",
                         "--jobs", "1"} + kSmallTrain;
  const auto single = run(bench(path("single"), jobs), path("single"));
  ASSERT_EQ(single.exit_code, 0) << describe(single);

  const std::string out = path("mpi"), db = out + "/results.sqlite";
  // Under AddressSanitizer: OpenMPI leaves its own allocations behind at MPI_Finalize (in plugins
  // it has unloaded by then, so no suppression can name them); leak checking stays on for every
  // other test, which runs the same bench code in one process.
  const Args mpirun{"ASAN_OPTIONS=detect_leaks=0", "mpirun", "--allow-run-as-root", "--oversubscribe", "-np", "2",
                    oneclass::testing_support::cli_binary()};
  const auto mpi = run(mpirun + bench(out, jobs), path("mpi"), 300, "/usr/bin/env");
  ASSERT_EQ(mpi.exit_code, 0) << describe(mpi);
  EXPECT_TRUE(contains(mpi.err, "4 to run on 2 process(es)")) << describe(mpi);
  EXPECT_EQ(count_of(mpi.out, "4 of 4 jobs finished"), 1) << "rank 0 alone reports\n" << describe(mpi);

  const auto rows = read_rows(db);
  EXPECT_EQ(keys_of(rows), planned_keys({{"knn", json::object()}, {"mlp-ae", json{{"z", 8}, {"epochs", 1}}}}, {0, 1},
                                        {0}, 0.8));
  std::set<int> ranks;
  for (const auto& [key, r] : rows) {
    expect_complete(r);
    ranks.insert(r.metrics.value("rank", -1));
  }
  EXPECT_EQ(ranks, (std::set<int>{0, 1})) << "both ranks trained jobs, and rank 0 stored those of rank 1";
  expect_same_aurocs(rows, read_rows(path("single") + "/results.sqlite"));
  EXPECT_EQ(query(db, "PRAGMA integrity_check"), "ok");
  for (const char* name : {"results.md", "results.csv", "results.json", "report.html"}) {
    EXPECT_TRUE(fs::is_regular_file(out + "/" + name)) << name;
  }
  EXPECT_EQ(json::parse(read_file(out + "/results.json"))["rows"].size(), 4u);
}

// ---------------------------------------------------------------------------------------------
// Two processes on one folder

TEST_F(BenchCli, TwoBenchesStartedTogetherOnOneFolderBothFinish) {
  const std::string out = path("bench"), db = out + "/results.sqlite";
  const Args jobs = knn_jobs("0-1", "0-1") + kSmallTrain + Args{"--jobs", "1", "--threads", "1"};
  CliProcess a(bench(out, jobs), path("a")), b(bench(out, jobs), path("b"));
  EXPECT_EQ(a.wait(240), 0) << a.describe();
  EXPECT_EQ(b.wait(240), 0) << b.describe();
  EXPECT_EQ(query(db, "PRAGMA integrity_check"), "ok");
  EXPECT_EQ(query(db, "SELECT count(*) FROM jobs"), "4");
  const auto rows = read_rows(db);
  EXPECT_EQ(keys_of(rows), planned_keys({{"knn", json::object()}}, {0, 1}, {0, 1}, 0.8));
  for (const auto& [key, r] : rows) expect_complete(r);
  EXPECT_TRUE(fs::is_regular_file(out + "/report.html"));
  EXPECT_EQ(json::parse(read_file(out + "/results.json"))["rows"].size(), 4u);
}

// ---------------------------------------------------------------------------------------------
// --keep-artifacts

// The published protocol trains on all of the class's images: --val-fraction 0. Ranking metrics
// only then (no held-out normals to set a threshold), and the jobs use more images than with 0.1.
TEST_F(BenchCli, ValFractionZeroTrainsOnEveryImageOfTheClass) {
  const std::string out = path("bench"), db = out + "/results.sqlite";
  const auto r = run(bench(out, knn_jobs("0", "0") + Args{"--val-fraction", "0"}), path("all"));
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const auto rows = read_rows(db);
  ASSERT_EQ(rows.size(), 1u);
  const Row& row = rows.begin()->second;
  expect_complete(row);
  EXPECT_GE(row.auroc, 0.98);
  EXPECT_EQ(row.metrics["n_train"].get<int>(), 5923) << "every training image of MNIST class 0";
  EXPECT_EQ(row.metrics["n_val"].get<int>(), 0);
  EXPECT_TRUE(row.metrics["threshold"].is_null()) << row.metrics.dump();
  EXPECT_FALSE(row.metrics.contains("fpr")) << "no threshold, so no operating point";
}

TEST_F(BenchCli, KeepArtifactsWritesEachJobsRunFolderAndTheReportLinksIt) {
  const std::string out = path("bench"), db = out + "/results.sqlite";
  const auto r = run(bench(out, knn_jobs("0-1", "0") + kSmallTrain + Args{"--keep-artifacts"}), path("artifacts"));
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const auto rows = read_rows(db);
  ASSERT_EQ(rows.size(), 2u);
  const std::string html = read_file(out + "/report.html");
  for (const auto& [key, row] : rows) {
    const std::string folder = "runs/mnist/knn/class" + std::to_string(row.cls()) + "-seed0-" + key;
    SCOPED_TRACE(folder);
    EXPECT_EQ(row.artifacts, folder);
    for (const char* name : {"metrics.json", "config.json", "scores.csv", "detector.pt"}) {
      EXPECT_TRUE(fs::is_regular_file(out + "/" + folder + "/" + name)) << name;
    }
    const json metrics = json::parse(read_file(out + "/" + folder + "/metrics.json"));
    EXPECT_EQ(metrics["auroc"].get<double>(), row.auroc);
    EXPECT_EQ(metrics["normal"], json::array({row.cls()})) << metrics.dump();
    if (oneclass::report::figures_available()) {
      EXPECT_TRUE(fs::is_regular_file(out + "/" + folder + "/result.png"));
      EXPECT_TRUE(contains(html, "href=\"" + folder + "/result.png\"")) << "report.html does not link " << folder;
    }
  }
  // Without the flag nothing is kept.
  const auto plain = run(bench(path("plain"), knn_jobs("0", "0") + kSmallTrain), path("plain"));
  ASSERT_EQ(plain.exit_code, 0) << describe(plain);
  EXPECT_FALSE(fs::exists(path("plain") + "/runs"));
  for (const auto& [key, row] : read_rows(path("plain") + "/results.sqlite")) EXPECT_EQ(row.artifacts, "");
}

// ---------------------------------------------------------------------------------------------
// Bad input

// An SQLite database made by another program, with a table of its own.
void write_foreign_database(const std::string& path) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "CREATE TABLE photos (name TEXT); INSERT INTO photos VALUES ('cat.png');", nullptr,
                         nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
}

// --labeled-anomalies 0,10: the semi-supervised model runs once per count, each its own job.
TEST_F(BenchCli, LabeledAnomaliesMakeOneJobPerCountForSemiSupervisedModels) {
  const std::string out = path("sad");
  const auto r = run(bench(out, {"--models", "deep-sad,knn", "--labeled-anomalies", "0,10", "--classes", "1", "--seeds",
                                 "0", "-o", "pretrain_epochs=1", "-o", "epochs=1"}),
                     path("sad-run"));
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const auto rows = read_rows(out + "/results.sqlite");
  std::multiset<std::string> jobs;
  for (const auto& [key, row] : rows) {
    expect_complete(row);
    jobs.insert(row.model() + ":" + row.config["options"].value("labeled_anomalies", json(-1)).dump());
  }
  EXPECT_EQ(jobs, (std::multiset<std::string>{"deep-sad:0", "deep-sad:10", "knn:-1"}));
  EXPECT_TRUE(contains(read_file(out + "/results.md"), "labeled_anomalies=10")) << "the report tells the two apart";
}

TEST_F(BenchCli, BadInputGivesANonZeroExitAndAMessageNamingIt) {
  write_file(path("plain-file"), "not a folder");
  fs::create_directories(path("foreign"));
  write_foreign_database(path("foreign") + "/results.sqlite");
  const std::string foreign_before = read_file(path("foreign") + "/results.sqlite");
  fs::create_directories(path("not-sqlite"));
  write_file(path("not-sqlite") + "/results.sqlite", std::string(4096, 'x'));
  struct Case {
    Args arguments;
    std::vector<std::string> message_parts;
  };
  const Args one_job = knn_jobs("0", "0");
  const std::vector<Case> cases{
      {bench(path("a"), {"--models", "knn,no-such-model"}), {"no-such-model"}},
      {bench(path("b"), {"--models", "mlp-ae:zz=3"}), {"zz"}},
      {bench(path("c"), {"--models", "mlp-ae:z"}), {"mlp-ae:z", "key=value"}},
      {bench(path("d"), {"--datasets", "mnist,no-such-data"}), {"no-such-data"}},
      {bench(path("e"), {"--seeds", "3-1"}), {"3-1"}},
      {bench(path("f"), {"--seeds", "x"}), {"--seeds", "'x'"}},
      {bench(path("g"), {"--classes", "0-12"}), {"12"}},
      {bench(path("h"), {"-o", "no_such_option=1"}), {"no_such_option"}},
      {bench(path("i"), {"--models", "knn", "--labeled-anomalies", "10"}), {"--labeled-anomalies", "deep-sad"}},
      {bench(path("plain-file"), one_job), {"plain-file"}},
      {bench(path("foreign"), one_job), {path("foreign") + "/results.sqlite"}},
      {bench(path("not-sqlite"), one_job), {path("not-sqlite") + "/results.sqlite"}},
  };
  for (const auto& c : cases) {
    std::string line;
    for (const auto& a : c.arguments) line += a + " ";
    SCOPED_TRACE(line);
    const auto r = run(c.arguments, path("bad"), 60);
    EXPECT_NE(r.exit_code, 0) << describe(r);
    EXPECT_LT(r.exit_code, 128) << "crashed\n" << describe(r);
    EXPECT_FALSE(contains(r.err, "AUROC")) << "no job may run\n" << describe(r);
    for (const auto& part : c.message_parts) {
      EXPECT_TRUE(contains(r.err + r.out, part)) << "the message should name '" << part << "'\n" << describe(r);
    }
  }
  EXPECT_TRUE(read_file(path("foreign") + "/results.sqlite") == foreign_before) << "the foreign database was changed";
  EXPECT_TRUE(read_file(path("not-sqlite") + "/results.sqlite") == std::string(4096, 'x')) << "the file was changed";

  // A data set that is nowhere to be found (and may not be downloaded): a set-up error before any
  // job runs, not six failed jobs.
  oneclass::testing_support::ScopedEnv no_env_data("ONECLASS_DATA_DIR", nullptr);
  oneclass::testing_support::ScopedEnv empty_cache("XDG_CACHE_HOME", path("empty-cache"));
  fs::create_directories(path("empty-data-dir"));
  const auto missing = run(bench(path("no-data"), knn_jobs("0-2", "0-1"), path("empty-data-dir")), path("bad"), 60);
  EXPECT_EQ(missing.exit_code, 1) << describe(missing);
  EXPECT_TRUE(contains(missing.err, path("empty-data-dir") + "/mnist")) << describe(missing);
  EXPECT_TRUE(contains(missing.err, "train-images-idx3-ubyte")) << describe(missing);
  EXPECT_EQ(query(path("no-data") + "/results.sqlite", "SELECT count(*) FROM jobs"), "0")
      << "no job was recorded as failed";
}

}  // namespace
