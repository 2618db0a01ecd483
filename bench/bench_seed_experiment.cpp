// Times the seed experiment (mlp-ae, MNIST, normal 1 vs anomaly 9, original hyper-parameters)
// phase by phase: load, train, score, figures; and training throughput in images/s.
// Usage: bench_seed_experiment [repeats=3] [threads=0]
// Data: $ONECLASS_DATA_DIR or the user cache, as for `oneclass run`.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "oneclass/engine/run.h"
#include "oneclass/util/system_info.h"
#include "util/runtime_environment.h"

namespace {

struct Stat {
  double mean = 0, stddev = 0;
};

Stat summarise(const std::vector<double>& values) {
  Stat s;
  for (double v : values) s.mean += v;
  s.mean /= static_cast<double>(values.size());
  for (double v : values) s.stddev += (v - s.mean) * (v - s.mean);
  s.stddev = values.size() > 1 ? std::sqrt(s.stddev / static_cast<double>(values.size() - 1)) : 0.0;
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  oneclass::reexec_with_tuned_environment(argv);  // BLAS and OpenMP settings, as the launcher sets them
  const int repeats = argc > 1 ? std::atoi(argv[1]) : 3;
  const int threads = argc > 2 ? std::atoi(argv[2]) : 0;
  oneclass::configure_threads(threads);
  const std::string environment = oneclass::doctor_line(c10::Device(c10::kCPU));

  oneclass::RunConfig config;
  config.normal = "1";
  config.anomaly = "9";
  config.device = "cpu";
  config.progress = false;
  config.overwrite = true;  // its own scratch folder, replaced on every repeat
  config.out_dir = (std::filesystem::temp_directory_path() / "oneclass_bench_seed").string();
  const std::vector<std::string> phases{"load_seconds", "train_seconds", "score_seconds", "figures_seconds",
                                        "total_seconds"};
  std::vector<std::vector<double>> samples(phases.size());
  std::vector<double> throughput, auroc;
  for (int r = 0; r < repeats; ++r) {
    const auto metrics = oneclass::run_experiment(config);
    for (size_t p = 0; p < phases.size(); ++p) samples[p].push_back(metrics[phases[p]].get<double>());
    const double images = metrics["steps"].get<double>() > 0
                              ? metrics["n_train"].get<double>() * metrics["epochs"].get<double>()
                              : 0.0;
    throughput.push_back(images / metrics["train_seconds"].get<double>());
    auroc.push_back(metrics["auroc"].get<double>());
  }
  std::filesystem::remove_all(config.out_dir);

  std::printf("# seed experiment: mlp-ae, mnist, normal 1 vs anomaly 9, 10 epochs, batch 16, %d repeats\n", repeats);
  std::printf("# %s\n", environment.c_str());
  std::printf("| phase | seconds (mean ± std) |\n| --- | --- |\n");
  for (size_t p = 0; p < phases.size(); ++p) {
    const Stat s = summarise(samples[p]);
    std::printf("| %s | %.3f ± %.3f |\n", phases[p].substr(0, phases[p].size() - 8).c_str(), s.mean, s.stddev);
  }
  const Stat t = summarise(throughput), a = summarise(auroc);
  std::printf("| training throughput | %.0f ± %.0f images/s |\n| AUROC | %.4f ± %.4f |\n", t.mean, t.stddev, a.mean,
              a.stddev);
  return 0;
}
