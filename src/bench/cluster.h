#pragma once
// Where the benchmark's stacks run: this process alone, or the ranks of an MPI job started by
// `mpirun` (OpenMPI, when oneclass was built with it). Rank 0 owns the results database; the
// other ranks send it each finished job's result as one message.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "oneclass/bench/store.h"

namespace oneclass::bench {

class Cluster {
 public:
  virtual ~Cluster() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  /// Returns rank 0's `text` on every rank.
  virtual std::string broadcast(const std::string& text) = 0;
  /// On a rank other than 0: hands a finished job's result to rank 0.
  virtual void send_result(const JobResult& result) = 0;
  /// On a rank other than 0: says that no more results will come from it.
  virtual void send_done() = 0;
  /// On rank 0: passes every result that has arrived to `on_result`; with `until_all_done`, waits
  /// until every other rank has sent done.
  virtual void receive_results(const std::function<void(const JobResult&)>& on_result, bool until_all_done) = 0;
  /// Ends every rank after an error on this one (no rank may be left waiting for it). A cluster of
  /// one has nothing to do: the caller's exception carries on.
  virtual void abort_all(const std::string& message) = 0;
};

/// An MPI cluster when this process was started by mpirun (and oneclass has MPI), else a cluster
/// of one. Throws Error when started by mpirun with several ranks but built without MPI (every
/// rank would run every job).
std::unique_ptr<Cluster> make_cluster();

}  // namespace oneclass::bench
