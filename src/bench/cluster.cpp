#include "bench/cluster.h"
#include "oneclass/bench/bench.h"

#include "oneclass/config.h"

#include <cstdio>
#include <cstdlib>

#ifdef ONECLASS_HAVE_MPI
// The C interface only: the deprecated C++ bindings would need their own library.
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>
#endif

#include "oneclass/error.h"

namespace oneclass::bench {
namespace {

// Process counts that launchers put in the environment (OpenMPI, then PMI-based launchers).
int env_int(const char* name) {
  const char* value = std::getenv(name);
  return value ? std::atoi(value) : 0;
}
int launcher_world_size() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"}) {
    if (env_int(name) > 0) return env_int(name);
  }
  return 1;
}

class SingleProcess final : public Cluster {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::string broadcast(const std::string& text) override { return text; }
  void send_result(const JobResult&) override {}
  void send_done() override {}
  void receive_results(const std::function<void(const JobResult&)>&, bool) override {}
  void abort_all(const std::string&) override {}
};

#ifdef ONECLASS_HAVE_MPI
constexpr int kTagResult = 1;
constexpr int kTagDone = 2;

void check(int rc, const char* what) {
  if (rc != MPI_SUCCESS) throw Error(std::string("MPI: ") + what + " failed");
}

class MpiCluster final : public Cluster {
 public:
  MpiCluster() {
    int provided = 0;
    // Only the main thread calls MPI; OpenMP threads do the arithmetic.
    check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    workers_left_ = size_ - 1;
  }
  ~MpiCluster() override { MPI_Finalize(); }

  int rank() const override { return rank_; }
  int size() const override { return size_; }

  std::string broadcast(const std::string& text) override {
    unsigned long long length = text.size();
    check(MPI_Bcast(&length, 1, MPI_UNSIGNED_LONG_LONG, 0, MPI_COMM_WORLD), "MPI_Bcast");
    std::string received = rank_ == 0 ? text : std::string(length, '\0');
    // Sent in pieces: an MPI count is an int.
    for (unsigned long long offset = 0; offset < length; offset += kPiece) {
      const int piece = static_cast<int>(std::min<unsigned long long>(kPiece, length - offset));
      check(MPI_Bcast(received.data() + offset, piece, MPI_CHAR, 0, MPI_COMM_WORLD), "MPI_Bcast");
    }
    return received;
  }

  void send_result(const JobResult& result) override {
    const std::string text = to_json(result).dump();
    check(MPI_Send(text.data(), static_cast<int>(text.size()), MPI_CHAR, 0, kTagResult, MPI_COMM_WORLD), "MPI_Send");
  }

  void send_done() override { check(MPI_Send(nullptr, 0, MPI_CHAR, 0, kTagDone, MPI_COMM_WORLD), "MPI_Send"); }

  void abort_all(const std::string& message) override {
    std::fprintf(stderr, "error (rank %d): %s\nbench: stopping every rank; finished jobs are saved\n", rank_,
                 message.c_str());
    MPI_Abort(MPI_COMM_WORLD, 1);
  }

  void receive_results(const std::function<void(const JobResult&)>& on_result, bool until_all_done) override {
    while (workers_left_ > 0) {
      MPI_Status status;
      int waiting = 0;
      if (until_all_done) {
        check(MPI_Probe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &status), "MPI_Probe");
        waiting = 1;
      } else {
        check(MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &waiting, &status), "MPI_Iprobe");
      }
      if (!waiting) return;
      int length = 0;
      MPI_Get_count(&status, MPI_CHAR, &length);
      std::string text(static_cast<size_t>(length), '\0');
      check(MPI_Recv(text.data(), length, MPI_CHAR, status.MPI_SOURCE, status.MPI_TAG, MPI_COMM_WORLD,
                     MPI_STATUS_IGNORE),
            "MPI_Recv");
      if (status.MPI_TAG == kTagDone) {
        --workers_left_;
      } else {
        on_result(result_from_json(nlohmann::json::parse(text)));
      }
    }
  }

 private:
  static constexpr unsigned long long kPiece = 1ULL << 30;
  int rank_ = 0, size_ = 1, workers_left_ = 0;
};
#endif

}  // namespace

int local_process_count() {
  const int local = env_int("OMPI_COMM_WORLD_LOCAL_SIZE");
  return local > 0 ? local : 1;
}

std::unique_ptr<Cluster> make_cluster() {
  const int world = launcher_world_size();
  if (world <= 1) return std::make_unique<SingleProcess>();
#ifdef ONECLASS_HAVE_MPI
  return std::make_unique<MpiCluster>();
#else
  throw Error("started by mpirun with " + std::to_string(world) + " processes, but this oneclass was built without "
              "MPI, so every process would run every job; install libopenmpi-dev and rebuild, or run one process");
#endif
}

}  // namespace oneclass::bench
