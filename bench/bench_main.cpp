#include "bench_main.h"

#include <memory>
#include <string>

#include <torch/torch.h>

#include "oneclass/util/system_info.h"
#include "util/runtime_environment.h"

namespace oneclass::bench {
namespace {

// Shows every run as the usual reporter does and keeps a copy for the summary.
class KeepingReporter : public benchmark::BenchmarkReporter {
 public:
  explicit KeepingReporter(benchmark::BenchmarkReporter* shown) : shown_(shown) {}
  bool ReportContext(const Context& context) override { return shown_->ReportContext(context); }
  void ReportRuns(const std::vector<Run>& runs) override {
    kept_.insert(kept_.end(), runs.begin(), runs.end());
    shown_->ReportRuns(runs);
  }
  void Finalize() override { shown_->Finalize(); }
  const Runs& kept() const { return kept_; }

 private:
  std::unique_ptr<benchmark::BenchmarkReporter> shown_;
  Runs kept_;
};

void add_environment_to_context() {
  const auto record = environment_record(c10::Device(c10::kCPU));
  for (const auto& [key, value] : record.items()) {
    // "oneclass" is the version; the other keys are oneclass's, none of them Google Benchmark's.
    benchmark::AddCustomContext(key, value.is_string() ? value.get<std::string>() : value.dump());
  }
}

}  // namespace

int run_benchmarks(int argc, char** argv, const std::function<void(const Runs&)>& summarise) {
  reexec_with_tuned_environment(argv);
  configure_threads(0);
  add_environment_to_context();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  KeepingReporter reporter(benchmark::CreateDefaultDisplayReporter());
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  if (summarise) summarise(reporter.kept());
  return 0;
}

double counter_of(const Runs& runs, const std::string& prefix, const std::string& name) {
  for (const auto& run : runs) {
    if (run.error_occurred || run.run_type != benchmark::BenchmarkReporter::Run::RT_Iteration) continue;
    if (run.benchmark_name().rfind(prefix, 0) != 0) continue;
    const auto counter = run.counters.find(name);
    if (counter != run.counters.end()) return counter->second.value;
  }
  return 0;
}

}  // namespace oneclass::bench
