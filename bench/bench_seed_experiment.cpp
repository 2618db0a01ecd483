// The seed experiment as `oneclass run` does it (mlp-ae, MNIST, normal 1 vs anomaly 9, the
// original hyper-parameters), phase by phase, three repetitions (mean, median, stddev follow).
//   bench_seed_experiment [Google Benchmark flags]
// Time: the whole run inside the process. Counters: the phases' seconds (load, train, score,
// figures), training images per second, and AUROC (the same on every repetition: it is seeded).
// Data: $ONECLASS_DATA_DIR or the user cache, as for `oneclass run`.
#include <filesystem>
#include <string>

#include "bench_main.h"
#include "oneclass/engine/run.h"
#include "oneclass/util/temp_dir.h"

namespace {

oneclass::RunConfig seed_experiment_in(const std::filesystem::path& folder) {
  oneclass::RunConfig config;
  config.normal = "1";
  config.anomaly = "9";
  config.device = "cpu";
  config.progress = false;
  config.overwrite = true;  // the same scratch folder on every repetition
  config.out_dir = folder.string();
  return config;
}

void BM_SeedExperiment(benchmark::State& state) {
  const oneclass::TempDir scratch("oneclass_bench_seed");
  const auto config = seed_experiment_in(scratch.path() / "run");
  for (auto _ : state) {
    nlohmann::json metrics;
    try {
      metrics = oneclass::run_experiment(config);
    } catch (const std::exception& e) {
      state.SkipWithError(e.what());
      break;
    }
    state.SetIterationTime(metrics["total_seconds"].get<double>());
    for (const char* phase : {"load", "train", "score", "figures"}) {
      state.counters[std::string(phase) + "_s"] = metrics[std::string(phase) + "_seconds"].get<double>();
    }
    const double images = metrics["n_train"].get<double>() * metrics["epochs"].get<double>();
    state.counters["train_images_per_s"] = images / metrics["train_seconds"].get<double>();
    state.counters["auroc"] = metrics["auroc"].get<double>();
  }
}

}  // namespace

BENCHMARK(BM_SeedExperiment)->Iterations(1)->Repetitions(3)->UseManualTime()->Unit(benchmark::kSecond);

int main(int argc, char** argv) { return oneclass::bench::run_benchmarks(argc, argv); }
