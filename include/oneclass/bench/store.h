#pragma once
// The benchmark's results database: one SQLite file (results.sqlite in the benchmark folder), one
// row per job, keyed by the job's hash. Each result is written in its own transaction, so a killed
// process loses no finished job and leaves no half-written row. SQLite's locking (write-ahead log,
// busy timeout) lets several bench processes share the file; a finished result is never replaced
// by a failure.
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace SQLite {
class Database;
}

namespace oneclass::bench {

struct JobResult {
  std::string key;
  nlohmann::json config;        // Job::config()
  bool ok = false;
  double auroc = 0, auprc = 0;  // when ok
  nlohmann::json metrics;       // metrics.json of the job's run, plus "rank": the MPI rank that ran it (when ok)
  std::string error;            // when failed
  double train_seconds = 0;     // the job's share of its stack's training time
  std::string artifacts;        // run folder kept for the job, relative to the bench folder, or empty
  std::string host;             // where it ran
  std::string revision;         // source revision of the code that made it (source_revision());
                                // "unknown" for rows stored before revisions were recorded
  nlohmann::json environment;   // environment_record() of the process that made it
};

class ResultStore {
 public:
  /// Opens or creates the database. Throws Error naming the file when it cannot, or when it is
  /// not a oneclass results database.
  explicit ResultStore(const std::string& path);
  ~ResultStore();
  ResultStore(const ResultStore&) = delete;
  ResultStore& operator=(const ResultStore&) = delete;

  /// Writes one result in one transaction. A failure does not replace a finished result.
  void put(const JobResult& result);
  /// The stored result of each of these keys that has one.
  std::map<std::string, JobResult> get(const std::vector<std::string>& keys) const;
  /// Keys of the finished (successful) jobs among `keys`; with `revision`, only those made by it.
  std::vector<std::string> finished(const std::vector<std::string>& keys,
                                    const std::optional<std::string>& revision = std::nullopt) const;

  const std::string& path() const { return path_; }

 private:
  void open_schema();
  void warn_unless_write_ahead_log() const;
  void add_missing_columns() const;

  std::string path_;
  std::unique_ptr<SQLite::Database> db_;
};

/// Whether a row stored by `stored` was made by the code of revision `current`. An unknown
/// revision (a build outside git, or a row stored before revisions were recorded) matches nothing:
/// without a revision there is no telling which code made a row.
bool same_code(const std::string& stored, const std::string& current);

nlohmann::json to_json(const JobResult& result);
JobResult result_from_json(const nlohmann::json& json);

}  // namespace oneclass::bench
