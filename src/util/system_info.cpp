#include "oneclass/util/system_info.h"

#include "oneclass/config.h"

#include <unistd.h>

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

struct BlasInfo {
  std::string name = "BLAS of the LibTorch build (not reported)";
  std::string kernels;
  int threads = 0;
};

BlasInfo blas_info() {
  BlasInfo info;
#ifdef ONECLASS_HAVE_OPENBLAS
  const std::string config = openblas_get_config();  // "OpenBLAS 0.3.21 DYNAMIC_ARCH ..."
  const auto version_start = std::strlen("OpenBLAS ");
  info.name = "OpenBLAS " + config.substr(version_start, config.find(' ', version_start) - version_start);
  info.kernels = openblas_get_corename();
  info.threads = openblas_get_num_threads();
#endif
  return info;
}

std::string host_name() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0) return "unknown";
  return name;
}

}  // namespace

nlohmann::json environment_record(const c10::Device& device) {
  const BlasInfo blas = blas_info();
  return {{"oneclass", ONECLASS_VERSION},
          {"revision", source_revision()},
          {"libtorch", std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) + "." +
                           std::to_string(TORCH_VERSION_PATCH)},
          {"blas", blas.name},
          {"blas_kernels", blas.kernels},
          {"blas_threads", blas.threads},
          {"threads", at::get_num_threads()},
          {"device", device.str()},
          {"host", host_name()},
          {"tuned", tuned_environment()}};
}

std::string doctor_line(const c10::Device& device) {
  const nlohmann::json e = environment_record(device);
  std::string blas = e["blas"].get<std::string>();
  if (!e["blas_kernels"].get<std::string>().empty()) {
    blas += " (" + e["blas_kernels"].get<std::string>() + " kernels, " + std::to_string(e["blas_threads"].get<int>()) +
            " thread(s))";
  }
  std::string line = "oneclass " + e["oneclass"].get<std::string>() + " (revision " + e["revision"].get<std::string>() +
                     ") | LibTorch " + e["libtorch"].get<std::string>() + " | " + blas + " | threads " +
                     std::to_string(e["threads"].get<int>()) + " | device " + e["device"].get<std::string>() +
                     " | host " + e["host"].get<std::string>();
  if (!e["tuned"].get<std::string>().empty()) line += " | set at start-up: " + e["tuned"].get<std::string>();
  return line;
}

}  // namespace oneclass
