#pragma once
// The main() of every program in bench/: Google Benchmark, with the machine and the build in the
// context every report starts with (console and --benchmark_format=json alike), so a figure
// always carries the code, LibTorch, BLAS kernels and thread count it was measured with.
#include <functional>
#include <vector>

#include <benchmark/benchmark.h>

namespace oneclass::bench {

using Runs = std::vector<benchmark::BenchmarkReporter::Run>;

/// Tunes the BLAS and OpenMP environment as the launcher does (re-executing once), sets LibTorch's
/// threads to the number of cores, records the environment, runs the benchmarks the command line
/// selects, then hands every finished run to `summarise` (figures derived from several
/// benchmarks). Returns main's exit status.
int run_benchmarks(int argc, char** argv, const std::function<void(const Runs&)>& summarise = {});

/// The counter `name` of the run whose name starts with `prefix`, or 0 when that run was not
/// selected or failed.
double counter_of(const Runs& runs, const std::string& prefix, const std::string& name);

}  // namespace oneclass::bench
