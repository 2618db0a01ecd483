#pragma once
// What the numbers depend on: LibTorch version, BLAS and its kernels, threads, device.
#include <string>

#include <c10/core/Device.h>

namespace oneclass {

/// "auto" (CUDA when available, else CPU), "cpu" or "cuda[:N]". Throws Error for anything else or
/// for cuda on a build or machine without it.
c10::Device resolve_device(const std::string& name);

/// Sets LibTorch's and OpenBLAS's thread counts (0 = number of cores) and flushes denormal floats
/// to zero (they make tiny weights and optimizer moments up to 100x slower on x86). Call once.
void configure_threads(int threads);

/// One line: oneclass version, LibTorch version, BLAS (with the kernel set it picked), threads.
std::string doctor_line(const c10::Device& device);

/// OpenBLAS 0.3.21 does not recognise some recent Intel CPUs and falls back to its generic
/// "Prescott" (SSE3) kernels, which run matrix products about 4x slower than its AVX-512 ones.
/// When that happened, the CPU has AVX-512, and OPENBLAS_CORETYPE is unset, this re-executes the
/// program with OPENBLAS_CORETYPE=SkylakeX (the variable is read when the library loads, so it
/// cannot be changed later). Set ONECLASS_KEEP_BLAS_KERNELS=1 to turn this off.
void reexec_with_fast_blas_kernels_if_needed(int argc, char** argv);

}  // namespace oneclass
