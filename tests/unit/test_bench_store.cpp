// The benchmark's results database: a result comes back as it was stored; a failure never replaces
// a finished result (a finished one replaces a failure); rows survive re-opening; files that are
// not ours are refused with their path and left as they were; and several writers on one file, in
// threads or in separate processes, lose nothing.
#include "oneclass/bench/store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "oneclass/error.h"
#include "support/test_support.h"

namespace {

using nlohmann::json;
using oneclass::bench::JobResult;
using oneclass::bench::ResultStore;
using oneclass::testing_support::contains;
using oneclass::testing_support::error_of;
using oneclass::testing_support::read_file;
using oneclass::testing_support::TempDir;
using oneclass::testing_support::write_file;

JobResult done(const std::string& key, double auroc) {
  JobResult r;
  r.key = key;
  r.config = json{{"dataset", "mnist"}, {"model", "knn"}, {"class", 3}, {"seed", 1}, {"key", key}};
  r.ok = true;
  r.auroc = auroc;
  r.auprc = auroc / 2;
  r.metrics = json{{"auroc", auroc}, {"n_normal", 1010}, {"model_options", {{"k", 1}}}};
  r.train_seconds = 1.25;
  r.artifacts = "runs/mnist/knn/class3-seed1";
  r.host = "node-a";
  r.revision = "0123456789ab";
  r.environment = json{{"revision", "0123456789ab"}, {"host", "node-a"}, {"threads", 2}};
  return r;
}

JobResult failed(const std::string& key, const std::string& error) {
  JobResult r;
  r.key = key;
  r.config = json{{"dataset", "mnist"}, {"key", key}};
  r.ok = false;
  r.error = error;
  r.train_seconds = 0.5;
  r.host = "node-b";
  return r;
}

// Runs `sql` on `path` with the plain SQLite API and returns the first column of the first row
// as text ("" when there is no row); a test failure when SQLite reports an error.
std::string query(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  std::string value;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
    ADD_FAILURE() << "cannot open " << path << ": " << sqlite3_errmsg(db);
    sqlite3_close(db);
    return value;
  }
  sqlite3_busy_timeout(db, 10000);
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
    ADD_FAILURE() << sql << ": " << sqlite3_errmsg(db);
  } else if (sqlite3_step(stmt) == SQLITE_ROW) {
    const auto* text = sqlite3_column_text(stmt, 0);
    value = text ? reinterpret_cast<const char*>(text) : "";
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return value;
}

// Creates an SQLite database at `path` by running `sql` (a foreign database: not made by oneclass).
void make_database(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* message = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message);
  const std::string text = message ? message : "";
  sqlite3_free(message);
  sqlite3_close(db);
  ASSERT_EQ(rc, SQLITE_OK) << text;
}

void expect_same(const JobResult& got, const JobResult& want) {
  EXPECT_EQ(got.key, want.key);
  EXPECT_EQ(got.config, want.config);
  EXPECT_EQ(got.ok, want.ok);
  EXPECT_EQ(got.auroc, want.auroc);  // REAL columns keep a double bit for bit
  EXPECT_EQ(got.auprc, want.auprc);
  EXPECT_EQ(got.metrics, want.metrics);
  EXPECT_EQ(got.error, want.error);
  EXPECT_EQ(got.train_seconds, want.train_seconds);
  EXPECT_EQ(got.artifacts, want.artifacts);
  EXPECT_EQ(got.host, want.host);
  EXPECT_EQ(got.revision, want.revision);
  EXPECT_EQ(got.environment, want.environment);
}

TEST(ResultStore, PutThenGetGivesBackEveryField) {
  TempDir dir("bench-store");
  ResultStore store(dir.file("results.sqlite"));
  EXPECT_EQ(store.path(), dir.file("results.sqlite"));
  const JobResult a = done("00000000000000aa", 0.987654321012345);
  const JobResult b = failed("00000000000000bb", "knn: k=10 needs at least 10 training images, got 5");
  store.put(a);
  store.put(b);
  const auto found = store.get({"00000000000000aa", "00000000000000bb", "00000000000000cc"});
  ASSERT_EQ(found.size(), 2u) << "a key never stored is absent";
  expect_same(found.at(a.key), a);
  const JobResult& got_b = found.at(b.key);
  EXPECT_FALSE(got_b.ok);
  EXPECT_EQ(got_b.error, b.error);
  EXPECT_EQ(got_b.config, b.config);
  EXPECT_EQ(got_b.host, "node-b");
  EXPECT_EQ(store.finished({a.key, b.key, "00000000000000cc"}), (std::vector<std::string>{a.key}));
  EXPECT_TRUE(store.get({}).empty());
  // The columns a reader of the file sees.
  EXPECT_EQ(query(store.path(), "SELECT status FROM jobs WHERE key = '" + a.key + "'"), "done");
  EXPECT_EQ(query(store.path(), "SELECT status FROM jobs WHERE key = '" + b.key + "'"), "failed");
  EXPECT_EQ(query(store.path(), "SELECT auroc IS NULL FROM jobs WHERE key = '" + b.key + "'"), "1");
  EXPECT_FALSE(query(store.path(), "SELECT finished_at FROM jobs WHERE key = '" + a.key + "'").empty());
}

TEST(ResultStore, FinishedCanBeAskedForOneRevisionOnly) {
  TempDir dir("bench-store");
  ResultStore store(dir.file("results.sqlite"));
  JobResult old_code = done("00000000000000aa", 0.9);
  old_code.revision = "old";
  store.put(old_code);
  store.put(done("00000000000000bb", 0.8));  // revision 0123456789ab
  const std::vector<std::string> keys{"00000000000000aa", "00000000000000bb"};
  EXPECT_EQ(store.finished(keys), keys);
  EXPECT_EQ(store.finished(keys, std::string("0123456789ab")), (std::vector<std::string>{"00000000000000bb"}));
  EXPECT_EQ(store.finished(keys, std::string("old")), (std::vector<std::string>{"00000000000000aa"}));
  // A result without a revision is stored as made by an unknown one.
  JobResult unnamed = done("00000000000000cc", 0.7);
  unnamed.revision.clear();
  store.put(unnamed);
  EXPECT_EQ(store.get({unnamed.key}).at(unnamed.key).revision, "unknown");
}

// A results database written before revisions were recorded gains the columns; its rows read as
// made by an unknown revision, so a resume reports them instead of reusing them silently.
TEST(ResultStore, ADatabaseFromBeforeRevisionsGainsTheColumnsAndItsRowsAreUnknown) {
  TempDir dir("bench-store");
  const std::string path = dir.file("results.sqlite");
  make_database(path, "CREATE TABLE jobs (key TEXT PRIMARY KEY, config TEXT NOT NULL, status TEXT NOT NULL, "
                      "auroc REAL, auprc REAL, metrics TEXT, error TEXT, train_seconds REAL, artifacts TEXT, "
                      "host TEXT, finished_at TEXT NOT NULL); PRAGMA application_id=1868786803; "
                      "INSERT INTO jobs VALUES ('00000000000000aa', '{}', 'done', 0.5, 0.25, '{}', NULL, 1.0, '', "
                      "'node-a', '2026-01-01T00:00:00Z');");
  ResultStore store(path);
  const auto found = store.get({"00000000000000aa"});
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found.at("00000000000000aa").revision, "unknown");
  EXPECT_TRUE(found.at("00000000000000aa").environment.is_null());
  EXPECT_EQ(found.at("00000000000000aa").auroc, 0.5);
  store.put(done("00000000000000bb", 0.8));
  expect_same(store.get({"00000000000000bb"}).at("00000000000000bb"), done("00000000000000bb", 0.8));
  ResultStore reopened(path);  // the columns are added once
  EXPECT_EQ(reopened.get({"00000000000000bb"}).at("00000000000000bb").revision, "0123456789ab");
}

// Without a revision there is no telling which code made a row: "unknown" matches nothing, not
// even itself (a build outside git must not reuse rows of another such build silently).
TEST(ResultStore, AnUnknownRevisionIsNeverTheSameCode) {
  EXPECT_TRUE(oneclass::bench::same_code("0123456789ab", "0123456789ab"));
  EXPECT_FALSE(oneclass::bench::same_code("0123456789ab", "0123456789ac"));
  EXPECT_FALSE(oneclass::bench::same_code("unknown", "unknown"));
  TempDir dir("bench-store");
  ResultStore store(dir.file("results.sqlite"));
  JobResult unnamed = done("00000000000000aa", 0.7);
  unnamed.revision = "unknown";
  store.put(unnamed);
  EXPECT_TRUE(store.finished({unnamed.key}, std::string("unknown")).empty());
  EXPECT_EQ(store.finished({unnamed.key}).size(), 1u) << "without a revision filter it is finished";
}

TEST(ResultStore, AFailureNeverReplacesAFinishedResult) {
  TempDir dir("bench-store");
  ResultStore store(dir.file("results.sqlite"));
  const JobResult first = done("0000000000000001", 0.91);
  store.put(first);
  store.put(failed(first.key, "out of memory"));
  auto found = store.get({first.key});
  ASSERT_EQ(found.size(), 1u);
  expect_same(found.at(first.key), first);
  EXPECT_EQ(store.finished({first.key}).size(), 1u);
}

TEST(ResultStore, AFinishedResultReplacesAFailure) {
  TempDir dir("bench-store");
  ResultStore store(dir.file("results.sqlite"));
  store.put(failed("0000000000000002", "first try failed"));
  store.put(failed("0000000000000002", "second try failed"));
  EXPECT_EQ(store.get({"0000000000000002"}).at("0000000000000002").error, "second try failed")
      << "the latest failure is the one to report";
  const JobResult later = done("0000000000000002", 0.75);
  store.put(later);
  const auto found = store.get({later.key});
  ASSERT_EQ(found.size(), 1u);
  expect_same(found.at(later.key), later);
  EXPECT_EQ(query(store.path(), "SELECT count(*) FROM jobs"), "1");
  EXPECT_EQ(query(store.path(), "SELECT error IS NULL FROM jobs"), "1") << "no stale error beside a result";
}

TEST(ResultStore, ReopeningKeepsTheRows) {
  TempDir dir("bench-store");
  const std::string path = dir.file("results.sqlite");
  const JobResult a = done("00000000000000a1", 0.5), b = done("00000000000000b2", 0.625);
  {
    ResultStore store(path);
    store.put(a);
    store.put(b);
    store.put(failed("00000000000000c3", "boom"));
  }
  ResultStore again(path);
  const auto found = again.get({a.key, b.key, "00000000000000c3"});
  ASSERT_EQ(found.size(), 3u);
  expect_same(found.at(a.key), a);
  expect_same(found.at(b.key), b);
  EXPECT_EQ(found.at("00000000000000c3").error, "boom");
  EXPECT_EQ(query(path, "PRAGMA integrity_check"), "ok");
}

TEST(ResultStore, AFileThatIsNotSqliteIsRefusedNamingItAndLeftAlone) {
  TempDir dir("bench-store");
  const std::string path = dir.file("results.sqlite");
  std::string text;
  for (int i = 0; i < 200; ++i) text += "line " + std::to_string(i) + " of a text file that is not a database\n";
  write_file(path, text);
  const std::string message = error_of([&] { ResultStore store(path); });
  EXPECT_TRUE(contains(message, path)) << message;
  EXPECT_TRUE(contains(message, "not an SQLite database")) << message;
  EXPECT_TRUE(read_file(path) == text) << "the file must not be touched";
  EXPECT_FALSE(std::filesystem::exists(path + "-wal"));
}

// Databases of other programs: one with an application id of its own, and (as most SQLite files
// are) ones that never set one but have tables, one of them even named `jobs`. None may be given a
// jobs table, an application id or another journal mode.
TEST(ResultStore, AnSqliteDatabaseOfAnotherProgramIsRefusedNamingItAndLeftAlone) {
  TempDir dir("bench-store");
  const std::vector<std::string> scripts{
      "PRAGMA application_id = 1234; CREATE TABLE notes (text TEXT); INSERT INTO notes VALUES ('keep me');",
      "CREATE TABLE notes (text TEXT);",
      "CREATE TABLE jobs (id INTEGER PRIMARY KEY, name TEXT);",
  };
  for (size_t i = 0; i < scripts.size(); ++i) {
    SCOPED_TRACE(scripts[i]);
    const std::string path = dir.file("foreign-" + std::to_string(i) + ".sqlite");
    make_database(path, scripts[i]);
    const std::string before = read_file(path);
    const std::string message = error_of([&] { ResultStore store(path); });
    EXPECT_TRUE(contains(message, path)) << message;
    EXPECT_TRUE(contains(message, "not a oneclass results database")) << message;
    EXPECT_TRUE(read_file(path) == before) << "the foreign database must not be changed";
  }
}

TEST(ResultStore, AnEmptyFileBecomesAResultsDatabase) {
  TempDir dir("bench-store");
  const std::string path = dir.file("results.sqlite");
  write_file(path, "");  // e.g. made by `touch`
  {
    ResultStore store(path);
    store.put(done("0000000000000abc", 0.8));
  }
  ResultStore again(path);
  EXPECT_EQ(again.finished({"0000000000000abc"}).size(), 1u);
}

TEST(ResultStore, APathThatCannotBeOpenedIsAnErrorNamingIt) {
  TempDir dir("bench-store");
  const std::string path = dir.file("no-such-folder/results.sqlite");
  const std::string message = error_of([&] { ResultStore store(path); });
  EXPECT_TRUE(contains(message, path)) << message;
}

TEST(ResultStore, JsonRoundTripKeepsEveryField) {
  // How a result travels from an MPI rank to rank 0.
  const JobResult a = done("00000000000000aa", 0.123456789012345678);
  expect_same(oneclass::bench::result_from_json(oneclass::bench::to_json(a)), a);
  const JobResult b = failed("00000000000000bb", "a \"quoted\" error\nover two lines");
  expect_same(oneclass::bench::result_from_json(json::parse(oneclass::bench::to_json(b).dump())), b);
}

constexpr int kPutsPerWriter = 200;

std::string writer_key(int writer, int i) {
  char key[17];
  std::snprintf(key, sizeof key, "%08x%08x", writer, i);
  return key;
}

// Opens its own store on `path` and puts kPutsPerWriter results; keys are distinct per writer, and
// every fourth result is first stored as a failure and then as done (two writes of one key).
void write_many(const std::string& path, int writer) {
  ResultStore store(path);
  for (int i = 0; i < kPutsPerWriter; ++i) {
    const std::string key = writer_key(writer, i);
    if (i % 4 == 0) store.put(failed(key, "first attempt"));
    store.put(done(key, 0.5 + 0.001 * i + 0.0001 * writer));
  }
}

void check_all_written(const std::string& path, int writers) {
  EXPECT_EQ(query(path, "PRAGMA integrity_check"), "ok");
  EXPECT_EQ(query(path, "SELECT count(*) FROM jobs"), std::to_string(writers * kPutsPerWriter));
  EXPECT_EQ(query(path, "SELECT count(*) FROM jobs WHERE status = 'done'"), std::to_string(writers * kPutsPerWriter));
  ResultStore store(path);
  std::vector<std::string> keys;
  for (int w = 0; w < writers; ++w) {
    for (int i = 0; i < kPutsPerWriter; ++i) keys.push_back(writer_key(w, i));
  }
  const auto found = store.get(keys);
  ASSERT_EQ(found.size(), keys.size());
  for (int w = 0; w < writers; ++w) {
    for (int i = 0; i < kPutsPerWriter; ++i) {
      const JobResult& r = found.at(writer_key(w, i));
      ASSERT_TRUE(r.ok) << r.key;
      EXPECT_DOUBLE_EQ(r.auroc, 0.5 + 0.001 * i + 0.0001 * w) << r.key;
    }
  }
}

TEST(ResultStore, TwoStoresInTwoThreadsLoseNothing) {
  TempDir dir("bench-store");
  const std::string path = dir.file("results.sqlite");
  std::vector<std::thread> threads;
  std::vector<std::string> errors(2);
  for (int w = 0; w < 2; ++w) {
    threads.emplace_back([&, w] {
      try {
        write_many(path, w);
      } catch (const std::exception& e) {
        errors[static_cast<size_t>(w)] = e.what();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& e : errors) EXPECT_EQ(e, "");
  check_all_written(path, 2);
}

// Runs `work(i)` in `n` forked processes that start together (each waits for one byte on a
// pipe), and returns true when every process ended with status 0. A process whose work throws
// prints the message and fails.
bool run_in_processes(int n, const std::function<void(int)>& work) {
  int gate[2];
  if (::pipe(gate) != 0) return false;
  std::vector<pid_t> children;
  for (int i = 0; i < n; ++i) {
    const pid_t pid = ::fork();
    if (pid < 0) return false;
    if (pid == 0) {
      ::close(gate[1]);
      char go = 0;
      if (::read(gate[0], &go, 1) != 1) ::_exit(3);
      try {
        work(i);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "process %d: %s\n", i, e.what());
        ::_exit(1);
      }
      ::_exit(0);
    }
    children.push_back(pid);
  }
  ::close(gate[0]);
  const std::string go(static_cast<size_t>(n), 'g');
  const bool started = ::write(gate[1], go.data(), go.size()) == static_cast<ssize_t>(go.size());
  ::close(gate[1]);
  bool ok = started;
  for (const pid_t pid : children) {
    int status = 0;
    ok = ::waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0 && ok;
  }
  return ok;
}

// Two processes, started together on a file that does not exist yet: both create it at once, then
// write interleaved.
TEST(ResultStore, TwoProcessesCreatingAndWritingOneFileLoseNothing) {
  TempDir dir("bench-store");
  const std::string path = dir.file("results.sqlite");
  EXPECT_TRUE(run_in_processes(2, [&](int w) { write_many(path, w); }));
  check_all_written(path, 2);
}

// Many times over, two processes open one new file at the same moment (as two `oneclass bench`
// started together on one folder do): both must get a working store, never "database is locked".
TEST(ResultStore, TwoProcessesOpeningOneNewFileAtOnceBothSucceed) {
  TempDir dir("bench-store");
  for (int round = 0; round < 40; ++round) {
    const std::string path = dir.file("results-" + std::to_string(round) + ".sqlite");
    EXPECT_TRUE(run_in_processes(2, [&](int w) { ResultStore(path).put(done(writer_key(w, round), 0.5)); }))
        << "round " << round;
    EXPECT_EQ(query(path, "SELECT count(*) FROM jobs"), "2") << "round " << round;
  }
}

}  // namespace
