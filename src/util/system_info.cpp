#include "oneclass/util/system_info.h"

#include "oneclass/config.h"

#include <cstdlib>
#include <cstring>
#include <thread>

#include <torch/torch.h>

#include "oneclass/error.h"
#include "util/runtime_environment.h"

#ifdef ONECLASS_HAVE_OPENBLAS
#include <cblas.h>
#endif

namespace oneclass {

c10::Device resolve_device(const std::string& name) {
  if (name == "auto") return torch::cuda::is_available() ? c10::Device(c10::kCUDA) : c10::Device(c10::kCPU);
  if (name == "cpu") return c10::Device(c10::kCPU);
  if (name.rfind("cuda", 0) == 0) {
    if (!torch::cuda::is_available()) {
      throw Error("--device " + name + ": this LibTorch build or machine has no CUDA device; use --device cpu or auto");
    }
    return c10::Device(name);
  }
  throw Error("--device '" + name + "' is not one of auto, cpu, cuda, cuda:N");
}

void configure_threads(int threads) {
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  at::set_num_threads(threads);
  at::globalContext().setFlushDenormal(true);
}

namespace {

std::string blas_description() {
#ifdef ONECLASS_HAVE_OPENBLAS
  std::string config = openblas_get_config();
  const auto space = config.find(' ', std::strlen("OpenBLAS "));
  return "OpenBLAS " + config.substr(std::strlen("OpenBLAS "), space - std::strlen("OpenBLAS ")) + " (" +
         openblas_get_corename() + " kernels, " + std::to_string(openblas_get_num_threads()) + " thread(s))";
#else
  return "BLAS of the LibTorch build (not reported)";
#endif
}

}  // namespace

std::string doctor_line(const c10::Device& device) {
  const std::string torch_version = std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) +
                                    "." + std::to_string(TORCH_VERSION_PATCH);
  std::string line = "oneclass " ONECLASS_VERSION " | LibTorch " + torch_version + " | " + blas_description() +
                     " | threads " + std::to_string(at::get_num_threads()) + " | device " + device.str();
  const std::string tuned = tuned_environment();
  if (!tuned.empty()) line += " | set at start-up: " + tuned;
  return line;
}

}  // namespace oneclass
