#pragma once
// What the numbers depend on: LibTorch version, BLAS and its kernels, threads, device.
#include <string>

#include <c10/core/Device.h>
#include <nlohmann/json.hpp>

namespace oneclass {

/// "auto" (CUDA when available, else CPU), "cpu" or "cuda[:N]". Throws Error for anything else or
/// for cuda on a build or machine without it.
c10::Device resolve_device(const std::string& name);

/// Sets LibTorch's thread count (0 = number of cores) and flushes denormal floats to zero (they
/// make tiny weights and optimizer moments up to 100x slower on x86). Call once, early.
void configure_threads(int threads);

/// The source revision this program was built from: `git describe --always --dirty` of the
/// checkout at build time (a commit, "-dirty" when tracked files had uncommitted changes), or
/// "unknown" when it was built outside a git checkout.
const char* source_revision();

/// Which code made a result, and where: {"oneclass": version, "revision": source_revision(),
/// "libtorch", "blas", "blas_kernels", "blas_threads", "threads", "device", "host", "tuned"
/// (environment variables the launcher set, or "")}. Stored with every run and benchmark row.
nlohmann::json environment_record(const c10::Device& device);

/// The same record as one line, for `oneclass --version` and the benchmark programs.
std::string doctor_line(const c10::Device& device);

}  // namespace oneclass
