// Tuning of the numerical libraries through their environment variables.
//
// OpenBLAS and OpenMP read their settings once, when they load, before main() runs; so these
// variables are set by the `oneclass` launcher (apps/oneclass/launcher.cpp) before it starts the
// real program, or by re-executing the program (benchmarks). Only variables the user left unset:
//   OPENBLAS_NUM_THREADS=1   oneclass parallelises around BLAS calls; OpenBLAS's own idle thread
//                            pool otherwise competes for the cores (a 2-thread training step was no
//                            faster than a 1-thread one here with it, 1.5x faster without it).
//   GOMP_SPINCOUNT=1000000   OpenMP threads spin ~1 ms before sleeping: on small virtual machines
//                            waking a sleeping core took ~1 ms, longer than a whole training step.
//   MALLOC_MMAP_THRESHOLD_=1073741824, MALLOC_TRIM_THRESHOLD_=4294967296
//                            glibc gives blocks above 32 MB back to the system when they are freed
//                            and maps them afresh (zeroed page by page) when asked again; a training
//                            step at 256x256 frees and asks again for several such activations, and
//                            spent a third of its time in page faults. Kept in the heap up to 1 GiB
//                            a block and 4 GiB free: conv-ae's training step at 256x256 ran 1.5-1.8x
//                            faster (bench_roofline, BM_ConvAeStep); the price is a resident size
//                            that stays at its peak until the program ends.
//   OPENBLAS_CORETYPE=SkylakeX  only when OpenBLAS picked its generic SSE3 ("Prescott") kernels on
//                            a CPU with AVX-512: OpenBLAS 0.3.21 does not know some recent Intel
//                            models, and the generic kernels ran our matrix products 2-4x slower.
//                            ONECLASS_KEEP_BLAS_KERNELS=1 keeps OpenBLAS's own choice.
// ONECLASS_KEEP_ENVIRONMENT=1 turns all of this off. This file uses no C++ runtime beyond libc, so
// the launcher can link it without LibTorch.
#include "util/runtime_environment.h"

#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace oneclass {
namespace {

constexpr const char* kMarker = "ONECLASS_TUNED_ENVIRONMENT";  // what the launcher set, for reports

// A variable counts as set when it is non-empty and not "0".
bool flag_set(const char* name) {
  const char* value = std::getenv(name);
  return value && *value && std::strcmp(value, "0") != 0;
}

// True when the OpenBLAS this process loads picked its generic "Prescott" kernels. Asked through
// dlopen so that the launcher, which does not link OpenBLAS, can ask too; before any OpenBLAS
// setting is made, so what it reports is OpenBLAS's own choice.
bool openblas_fell_back_to_generic_kernels() {
  void* library = ::dlopen("libopenblas.so.0", RTLD_NOW | RTLD_LOCAL);
  if (!library) return false;
  using CoreName = char* (*)();
  const auto core_name = reinterpret_cast<CoreName>(::dlsym(library, "openblas_get_corename"));
  const bool generic = core_name && std::strcmp(core_name(), "Prescott") == 0;
  ::dlclose(library);
  return generic;
}

bool has_avx512() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
#else
  return false;
#endif
}

void set_if_unset(const char* name, const char* value, std::string& settings) {
  if (std::getenv(name)) return;
  ::setenv(name, value, /*overwrite=*/0);
  settings += (settings.empty() ? "" : " ") + std::string(name) + "=" + value;
}

}  // namespace

bool tune_environment() {
  if (flag_set("ONECLASS_KEEP_ENVIRONMENT") || std::getenv(kMarker)) return false;
  std::string settings;
  set_if_unset("OPENBLAS_NUM_THREADS", "1", settings);  // first: the probe below then starts no threads
  set_if_unset("GOMP_SPINCOUNT", "1000000", settings);
  set_if_unset("MALLOC_MMAP_THRESHOLD_", "1073741824", settings);
  set_if_unset("MALLOC_TRIM_THRESHOLD_", "4294967296", settings);
  if (!flag_set("ONECLASS_KEEP_BLAS_KERNELS") && !std::getenv("OPENBLAS_CORETYPE") && has_avx512() &&
      openblas_fell_back_to_generic_kernels()) {
    set_if_unset("OPENBLAS_CORETYPE", "SkylakeX", settings);
  }
  ::setenv(kMarker, settings.empty() ? "-" : settings.c_str(), 1);
  return !settings.empty();
}

std::string tuned_environment() {
  const char* settings = std::getenv(kMarker);
  return settings && std::strcmp(settings, "-") != 0 ? settings : "";
}

void reexec_with_tuned_environment(char** argv) {
  if (!tune_environment()) return;
  ::execv("/proc/self/exe", argv);
  // Could not re-execute: carry on untuned rather than fail, and do not claim the settings.
  ::unsetenv(kMarker);
}

}  // namespace oneclass
