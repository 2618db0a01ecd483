#include "oneclass/bench/store.h"

#include <SQLiteCpp/SQLiteCpp.h>
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
  finished_at   TEXT NOT NULL,
  revision      TEXT,
  environment   TEXT
);)sql";
// Columns added after the first release of the schema: a database made before them gains them
// (its rows keep NULL there: made by an unknown revision).
constexpr const char* kAddedColumns[][2] = {{"revision", "TEXT"}, {"environment", "TEXT"}};

constexpr const char* kUnknownRevision = "unknown";

std::string utc_now() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

// The text of a column, "" for NULL.
std::string text_of(const SQLite::Statement& row, int column) {
  return row.isColumnNull(column) ? "" : row.getColumn(column).getString();
}

// A row of "SELECT key, config, status, auroc, auprc, metrics, error, train_seconds, artifacts, host,
// revision, environment".
JobResult read_row(const SQLite::Statement& row) {
  JobResult r;
  r.key = text_of(row, 0);
  r.config = nlohmann::json::parse(text_of(row, 1), nullptr, /*allow_exceptions=*/false);
  r.ok = text_of(row, 2) == "done";
  r.auroc = row.getColumn(3).getDouble();
  r.auprc = row.getColumn(4).getDouble();
  const std::string metrics = text_of(row, 5);
  r.metrics = metrics.empty() ? nlohmann::json() : nlohmann::json::parse(metrics, nullptr, false);
  r.error = text_of(row, 6);
  r.train_seconds = row.getColumn(7).getDouble();
  r.artifacts = text_of(row, 8);
  r.host = text_of(row, 9);
  r.revision = row.isColumnNull(10) ? kUnknownRevision : text_of(row, 10);
  const std::string environment = text_of(row, 11);
  r.environment = environment.empty() ? nlohmann::json() : nlohmann::json::parse(environment, nullptr, false);
  return r;
}

bool is_busy(const SQLite::Exception& e) { return e.getErrorCode() == SQLITE_BUSY; }

}  // namespace

ResultStore::ResultStore(const std::string& path) : path_(path) {
  try {
    // Another bench process may hold the write lock for a moment: wait for it rather than fail.
    db_ = std::make_unique<SQLite::Database>(
        path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE | SQLite::OPEN_FULLMUTEX, /*busy_timeout_ms=*/60000);
  } catch (const SQLite::Exception& e) {
    throw Error("cannot open results database " + path + ": " + e.what());
  }
  try {
    open_schema();
  } catch (const SQLite::Exception& e) {
    db_.reset();
    if (e.getErrorCode() == SQLITE_NOTADB) {
      throw Error(path + " is not an SQLite database (damaged or another kind of file); move it away or choose "
                  "another --out");
    }
    throw Error("results database " + path + ": " + e.what());
  } catch (const Error&) {
    db_.reset();
    throw;
  }
}

ResultStore::~ResultStore() = default;

void ResultStore::open_schema() {
  // Ours: our application id. New: no application id and no tables yet. Anything else belongs to
  // another program (most never set an application id) and is left as it is. Both are read in one
  // statement, so a database that another bench process is creating is seen either before or
  // after its one creating transaction.
  int found = 0, tables = 0;
  {
    SQLite::Statement id(*db_, "SELECT (SELECT application_id FROM pragma_application_id()), "
                               "(SELECT count(*) FROM sqlite_master)");
    if (id.executeStep()) {
      found = id.getColumn(0).getInt();
      tables = id.getColumn(1).getInt();
    }
  }  // finalised here: an unfinished statement would hold a read transaction open
  if (found != kApplicationId && (found != 0 || tables != 0)) {
    throw Error(path_ + " is an SQLite database, but not a oneclass results database; choose another --out");
  }
  // Write-ahead logging: readers never block the writer, and a killed writer leaves the last
  // committed state. synchronous=FULL makes each commit durable before put() returns. Switching
  // to WAL can answer "locked" at once, without waiting out the busy timeout, while another
  // process opens the same new file (SQLite's deadlock guard): try again for a while.
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (;;) {
    try {
      db_->exec("PRAGMA journal_mode=WAL");
      break;
    } catch (const SQLite::Exception& e) {
      if (!is_busy(e) || std::chrono::steady_clock::now() >= give_up) throw;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  warn_unless_write_ahead_log();
  db_->exec("PRAGMA synchronous=FULL");
  SQLite::Transaction transaction(*db_, SQLite::TransactionBehavior::IMMEDIATE);
  db_->exec(std::string(kSchema) + " PRAGMA application_id=" + std::to_string(kApplicationId) + ";");
  add_missing_columns();
  transaction.commit();
}

// Inside the creating transaction, so two processes opening an old file add each column once.
void ResultStore::add_missing_columns() const {
  for (const auto& [column, type] : kAddedColumns) {
    SQLite::Statement has(*db_, "SELECT count(*) FROM pragma_table_info('jobs') WHERE name = ?1");
    has.bind(1, column);
    if (has.executeStep() && has.getColumn(0).getInt() > 0) continue;
    db_->exec(std::string("ALTER TABLE jobs ADD COLUMN ") + column + " " + type);
  }
}

// Some file systems (network ones) cannot hold the log's shared memory; SQLite then keeps its
// rollback journal, which is safe for one process but makes sharing the folder riskier.
void ResultStore::warn_unless_write_ahead_log() const {
  SQLite::Statement mode(*db_, "PRAGMA journal_mode");
  const std::string journal = mode.executeStep() ? text_of(mode, 0) : "";
  if (journal != "wal") {
    std::fprintf(stderr, "warning: results database %s uses journal mode '%s', not write-ahead logging; keep the "
                 "benchmark folder on a local disk if several bench processes share it\n", path_.c_str(),
                 journal.c_str());
  }
}

void ResultStore::put(const JobResult& r) {
  // One statement is one transaction. A failure never replaces a finished result (another process
  // may have finished the same job).
  try {
    SQLite::Statement insert(*db_, R"sql(
      INSERT INTO jobs (key, config, status, auroc, auprc, metrics, error, train_seconds, artifacts, host, finished_at,
                        revision, environment)
      VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
      ON CONFLICT (key) DO UPDATE SET
        config = excluded.config, status = excluded.status, auroc = excluded.auroc, auprc = excluded.auprc,
        metrics = excluded.metrics, error = excluded.error, train_seconds = excluded.train_seconds,
        artifacts = excluded.artifacts, host = excluded.host, finished_at = excluded.finished_at,
        revision = excluded.revision, environment = excluded.environment
      WHERE excluded.status = 'done' OR jobs.status = 'failed')sql");
    insert.bind(1, r.key);
    insert.bind(2, r.config.dump());
    insert.bind(3, std::string(r.ok ? "done" : "failed"));
    if (r.ok) {
      insert.bind(4, r.auroc);
      insert.bind(5, r.auprc);
      insert.bind(6, r.metrics.dump());
      insert.bind(7);
    } else {
      insert.bind(4);
      insert.bind(5);
      insert.bind(6);
      insert.bind(7, r.error);
    }
    insert.bind(8, r.train_seconds);
    insert.bind(9, r.artifacts);
    insert.bind(10, r.host);
    insert.bind(11, utc_now());
    insert.bind(12, r.revision.empty() ? std::string(kUnknownRevision) : r.revision);
    if (r.environment.is_null()) {
      insert.bind(13);
    } else {
      insert.bind(13, r.environment.dump());
    }
    insert.exec();
  } catch (const SQLite::Exception& e) {
    throw Error("cannot store the result of job " + r.key + " in " + path_ + ": " + e.what());
  }
}

std::map<std::string, JobResult> ResultStore::get(const std::vector<std::string>& keys) const {
  std::map<std::string, JobResult> found;
  try {
    SQLite::Statement select(*db_,
                             "SELECT key, config, status, auroc, auprc, metrics, error, train_seconds, artifacts, "
                             "host, revision, environment FROM jobs WHERE key = ?1");
    for (const auto& key : keys) {
      select.reset();
      select.bind(1, key);
      if (select.executeStep()) found.emplace(key, read_row(select));
    }
  } catch (const SQLite::Exception& e) {
    throw Error("cannot read results database " + path_ + ": " + e.what());
  }
  return found;
}

std::vector<std::string> ResultStore::finished(const std::vector<std::string>& keys,
                                               const std::optional<std::string>& revision) const {
  std::vector<std::string> done;
  for (const auto& [key, result] : get(keys)) {
    if (result.ok && (!revision || same_code(result.revision, *revision))) done.push_back(key);
  }
  return done;
}

bool same_code(const std::string& stored, const std::string& current) {
  return stored == current && current != kUnknownRevision;
}

nlohmann::json to_json(const JobResult& r) {
  return {{"key", r.key},     {"config", r.config},   {"ok", r.ok},
          {"auroc", r.auroc}, {"auprc", r.auprc},     {"metrics", r.metrics},
          {"error", r.error}, {"train_seconds", r.train_seconds}, {"artifacts", r.artifacts},
          {"host", r.host},   {"revision", r.revision}, {"environment", r.environment}};
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
  // A rank built before revisions were recorded sends neither.
  r.revision = j.value("revision", std::string(kUnknownRevision));
  r.environment = j.value("environment", nlohmann::json());
  return r;
}

}  // namespace oneclass::bench
