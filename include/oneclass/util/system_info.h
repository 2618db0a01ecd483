#pragma once
// What the numbers depend on: LibTorch version, BLAS and its kernels, threads, device.
#include <string>

#include <c10/core/Device.h>

namespace oneclass {

/// "auto" (CUDA when available, else CPU), "cpu" or "cuda[:N]". Throws Error for anything else or
/// for cuda on a build or machine without it.
c10::Device resolve_device(const std::string& name);

/// Sets LibTorch's thread count (0 = number of cores) and flushes denormal floats to zero (they
/// make tiny weights and optimizer moments up to 100x slower on x86). Call once, early.
void configure_threads(int threads);

/// One line: oneclass version, LibTorch version, BLAS (with the kernel set it picked), threads.
std::string doctor_line(const c10::Device& device);

}  // namespace oneclass
