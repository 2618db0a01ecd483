#pragma once
// Environment variables that make OpenBLAS and OpenMP fast for oneclass (see the .cpp).
#include <string>

namespace oneclass {

/// Sets the tuning variables the user left unset; returns true when it set any. Idempotent: a
/// marker variable records that it ran, so a re-executed program does not tune (or loop) again.
bool tune_environment();

/// The settings applied, e.g. "OPENBLAS_NUM_THREADS=1 GOMP_SPINCOUNT=1000000"; empty if none.
std::string tuned_environment();

/// For programs started without the launcher (benchmarks): tunes the environment and, when that
/// changed anything, re-executes the program so the libraries load with it. Costs one start-up.
void reexec_with_tuned_environment(char** argv);

}  // namespace oneclass
