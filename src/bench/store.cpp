#include "oneclass/bench/store.h"

#include <sqlite3.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <thread>

#include "oneclass/error.h"

namespace oneclass::bench {
namespace {

// The schema; `application_id` marks the file as ours ('ocls').
constexpr int kApplicationId = 0x6f636c73;
constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS jobs (
  key           TEXT PRIMARY KEY,
  config        TEXT NOT NULL,
  status        TEXT NOT NULL CHECK (status IN ('done', 'failed')),
  auroc         REAL,
  auprc         REAL,
  metrics       TEXT,
  error         TEXT,
  train_seconds REAL,
  artifacts     TEXT,
  host          TEXT,
  finished_at   TEXT NOT NULL
);)sql";

// Owns a prepared statement.
class Statement {
 public:
  Statement(sqlite3* db, const std::string& sql, const std::string& path) {
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt_, nullptr) != SQLITE_OK) {
      throw Error("results database " + path + ": " + sqlite3_errmsg(db));
    }
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  sqlite3_stmt* get() const { return stmt_; }
  void bind(int i, const std::string& text) { sqlite3_bind_text(stmt_, i, text.c_str(), -1, SQLITE_TRANSIENT); }
  void bind(int i, double value) { sqlite3_bind_double(stmt_, i, value); }
  void bind_null(int i) { sqlite3_bind_null(stmt_, i); }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

std::string column_text(sqlite3_stmt* stmt, int i) {
  const auto* text = sqlite3_column_text(stmt, i);
  return text ? reinterpret_cast<const char*>(text) : "";
}

std::string utc_now() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

JobResult read_row(sqlite3_stmt* stmt) {
  JobResult r;
  r.key = column_text(stmt, 0);
  r.config = nlohmann::json::parse(column_text(stmt, 1), nullptr, /*allow_exceptions=*/false);
  r.ok = column_text(stmt, 2) == "done";
  r.auroc = sqlite3_column_double(stmt, 3);
  r.auprc = sqlite3_column_double(stmt, 4);
  const std::string metrics = column_text(stmt, 5);
  r.metrics = metrics.empty() ? nlohmann::json() : nlohmann::json::parse(metrics, nullptr, false);
  r.error = column_text(stmt, 6);
  r.train_seconds = sqlite3_column_double(stmt, 7);
  r.artifacts = column_text(stmt, 8);
  r.host = column_text(stmt, 9);
  return r;
}

}  // namespace

ResultStore::ResultStore(const std::string& path) : path_(path) {
  if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    const std::string message = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw Error("cannot open results database " + path + ": " + message);
  }
  // Another bench process may hold the write lock for a moment: wait for it rather than fail.
  sqlite3_busy_timeout(db_, 60000);
  try {
    // Ours: our application id. New: no application id and no tables yet. Anything else belongs
    // to another program (most never set an application id) and is left as it is. Both are read
    // in one statement, so a database that another bench process is creating is seen either
    // before or after its one creating transaction.
    int found = 0, tables = 0;
    {
      Statement id(db_, "SELECT (SELECT application_id FROM pragma_application_id()), "
                        "(SELECT count(*) FROM sqlite_master)", path_);
      if (sqlite3_step(id.get()) == SQLITE_ROW) {
        found = sqlite3_column_int(id.get(), 0);
        tables = sqlite3_column_int(id.get(), 1);
      }
    }  // finalised here: an unfinished statement would hold a read transaction open
    if (found != kApplicationId && (found != 0 || tables != 0)) {
      throw Error(path + " is an SQLite database, but not a oneclass results database; choose another --out");
    }
    // Write-ahead logging: readers never block the writer, and a killed writer leaves the last
    // committed state. synchronous=FULL makes each commit durable before put() returns.
    // Switching to WAL can answer "locked" at once, without waiting out the busy timeout, while
    // another process opens the same new file (SQLite's deadlock guard): try again for a while.
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    int rc = SQLITE_OK;
    while ((rc = sqlite3_exec(db_, "PRAGMA journal_mode=WAL", nullptr, nullptr, nullptr)) == SQLITE_BUSY &&
           std::chrono::steady_clock::now() < give_up) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (rc != SQLITE_OK) throw Error("results database " + path_ + ": " + sqlite3_errmsg(db_));
    warn_unless_write_ahead_log();
    exec("PRAGMA synchronous=FULL");
    exec(std::string("BEGIN IMMEDIATE; ") + kSchema + " PRAGMA application_id=" + std::to_string(kApplicationId) +
         "; COMMIT;");
  } catch (const Error& e) {
    sqlite3_close(db_);
    db_ = nullptr;
    const std::string what = e.what();
    if (what.find("file is not a database") != std::string::npos) {
      throw Error(path + " is not an SQLite database (damaged or another kind of file); move it away or choose "
                  "another --out");
    }
    throw;
  }
}

ResultStore::~ResultStore() { sqlite3_close(db_); }

// Some file systems (network ones) cannot hold the log's shared memory; SQLite then keeps its
// rollback journal, which is safe for one process but makes sharing the folder riskier.
void ResultStore::warn_unless_write_ahead_log() const {
  Statement mode(db_, "PRAGMA journal_mode", path_);
  const std::string journal = sqlite3_step(mode.get()) == SQLITE_ROW ? column_text(mode.get(), 0) : "";
  if (journal != "wal") {
    std::fprintf(stderr, "warning: results database %s uses journal mode '%s', not write-ahead logging; keep the "
                 "benchmark folder on a local disk if several bench processes share it\n", path_.c_str(),
                 journal.c_str());
  }
}

void ResultStore::exec(const std::string& sql) const {
  char* message = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
    const std::string text = message ? message : sqlite3_errmsg(db_);
    sqlite3_free(message);
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);  // no-op outside a transaction
    throw Error("results database " + path_ + ": " + text);
  }
}

void ResultStore::put(const JobResult& r) {
  // One statement is one transaction. A failure never replaces a finished result (another process
  // may have finished the same job).
  Statement insert(db_, R"sql(
    INSERT INTO jobs (key, config, status, auroc, auprc, metrics, error, train_seconds, artifacts, host, finished_at)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
    ON CONFLICT (key) DO UPDATE SET
      config = excluded.config, status = excluded.status, auroc = excluded.auroc, auprc = excluded.auprc,
      metrics = excluded.metrics, error = excluded.error, train_seconds = excluded.train_seconds,
      artifacts = excluded.artifacts, host = excluded.host, finished_at = excluded.finished_at
    WHERE excluded.status = 'done' OR jobs.status = 'failed')sql", path_);
  insert.bind(1, r.key);
  insert.bind(2, r.config.dump());
  insert.bind(3, std::string(r.ok ? "done" : "failed"));
  if (r.ok) {
    insert.bind(4, r.auroc);
    insert.bind(5, r.auprc);
    insert.bind(6, r.metrics.dump());
    insert.bind_null(7);
  } else {
    insert.bind_null(4);
    insert.bind_null(5);
    insert.bind_null(6);
    insert.bind(7, r.error);
  }
  insert.bind(8, r.train_seconds);
  insert.bind(9, r.artifacts);
  insert.bind(10, r.host);
  insert.bind(11, utc_now());
  if (sqlite3_step(insert.get()) != SQLITE_DONE) {
    throw Error("cannot store the result of job " + r.key + " in " + path_ + ": " + sqlite3_errmsg(db_));
  }
}

std::map<std::string, JobResult> ResultStore::get(const std::vector<std::string>& keys) const {
  std::map<std::string, JobResult> found;
  Statement select(db_,
                   "SELECT key, config, status, auroc, auprc, metrics, error, train_seconds, artifacts, host "
                   "FROM jobs WHERE key = ?1",
                   path_);
  for (const auto& key : keys) {
    sqlite3_reset(select.get());
    select.bind(1, key);
    const int rc = sqlite3_step(select.get());
    if (rc == SQLITE_ROW) {
      found.emplace(key, read_row(select.get()));
    } else if (rc != SQLITE_DONE) {
      throw Error("cannot read results database " + path_ + ": " + sqlite3_errmsg(db_));
    }
  }
  return found;
}

std::vector<std::string> ResultStore::finished(const std::vector<std::string>& keys) const {
  std::vector<std::string> done;
  for (const auto& [key, result] : get(keys)) {
    if (result.ok) done.push_back(key);
  }
  return done;
}

nlohmann::json to_json(const JobResult& r) {
  return {{"key", r.key},     {"config", r.config},   {"ok", r.ok},
          {"auroc", r.auroc}, {"auprc", r.auprc},     {"metrics", r.metrics},
          {"error", r.error}, {"train_seconds", r.train_seconds}, {"artifacts", r.artifacts},
          {"host", r.host}};
}

JobResult result_from_json(const nlohmann::json& j) {
  JobResult r;
  r.key = j.at("key").get<std::string>();
  r.config = j.at("config");
  r.ok = j.at("ok").get<bool>();
  r.auroc = j.at("auroc").get<double>();
  r.auprc = j.at("auprc").get<double>();
  r.metrics = j.at("metrics");
  r.error = j.at("error").get<std::string>();
  r.train_seconds = j.at("train_seconds").get<double>();
  r.artifacts = j.at("artifacts").get<std::string>();
  r.host = j.at("host").get<std::string>();
  return r;
}

}  // namespace oneclass::bench
